from __future__ import annotations

from pathlib import Path

import pytest

from imprint.shops.models import Shop
from tests.factories import ShopFactory

# Fixtures for real processes and a real SMTP server, available to every test package.
pytest_plugins = ["tests.processes", "tests.smtp", "tests.devstore_fixtures"]


@pytest.fixture(autouse=True)
def _storage_in_tmp(settings, tmp_path: Path) -> None:
    """Every test keeps its files in its own directory."""
    settings.STORAGES = {
        **settings.STORAGES,
        "default": {
            "BACKEND": "django.core.files.storage.FileSystemStorage",
            "OPTIONS": {"location": str(tmp_path / "files")},
        },
    }


@pytest.fixture(autouse=True)
def _test_settings(settings) -> None:
    from tests.shopify.helpers import SECRET

    settings.SHOPIFY_API_SECRET = SECRET
    settings.SHOPIFY_API_SECRET_PREVIOUS = ""
    # Tests that want the local mailbox or a real SMTP server set it themselves.
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"


@pytest.fixture
def shop_a(db) -> Shop:
    return ShopFactory(domain="shop-a.myshopify.com", name="Shop A", email="owner@shop-a.example")


@pytest.fixture
def shop_b(db) -> Shop:
    return ShopFactory(domain="shop-b.myshopify.com", name="Shop B", email="owner@shop-b.example")
