from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone

from imprint.shops.models import Shop
from imprint.shops.services import (
    UNCHANGED,
    ShopInvalid,
    ShopSettingsInvalid,
    shop_add,
    shop_settings_update,
    shop_token_get,
)

pytestmark = pytest.mark.django_db


def _settings(shop: Shop) -> tuple[int | None, int | None, str]:
    shop.refresh_from_db()
    return shop.download_expiry_days, shop.download_max, shop.filename_mode


def test_shop_add_creates_a_shop_with_its_token() -> None:
    shop = shop_add(
        domain="Shop-A.MyShopify.com",
        token=" shpat_abc ",
        name="Shop A",
        email="owner@shop-a.example",
    )

    shop.refresh_from_db()
    assert (shop.domain, shop.name, shop.email, shop_token_get(shop=shop)) == (
        "shop-a.myshopify.com",
        "Shop A",
        "owner@shop-a.example",
        "shpat_abc",
    )
    assert shop.is_installed is True


def test_shop_add_ignores_surrounding_whitespace_in_the_domain() -> None:
    assert (
        shop_add(domain=" shop-a.myshopify.com\n", token="shpat_x").domain == "shop-a.myshopify.com"
    )


def test_shop_add_names_a_shop_after_its_domain_by_default() -> None:
    shop = shop_add(domain="snowboards.myshopify.com", token="shpat_abc")

    assert (shop.name, shop.email) == ("snowboards", "")


def test_shop_add_again_updates_the_token_and_keeps_the_rest(shop_a) -> None:
    shop = shop_add(domain=shop_a.domain, token="shpat_new")

    shop.refresh_from_db()
    assert shop.pk == shop_a.pk
    assert (shop.name, shop.email, shop_token_get(shop=shop)) == (
        "Shop A",
        "owner@shop-a.example",
        "shpat_new",
    )
    assert Shop.objects.count() == 1


def test_shop_add_reinstalls_an_uninstalled_shop(shop_a) -> None:
    Shop.objects.filter(pk=shop_a.pk).update(
        uninstalled_at=timezone.now() - dt.timedelta(days=1), access_token_encrypted=""
    )

    shop = shop_add(domain=shop_a.domain, token="shpat_back", name="Shop A again")

    shop.refresh_from_db()
    assert (shop.uninstalled_at, shop_token_get(shop=shop), shop.name) == (
        None,
        "shpat_back",
        "Shop A again",
    )


@pytest.mark.parametrize(
    ("domain", "token", "email", "message"),
    [
        ("shop-a.example.com", "shpat_x", None, "not a Shopify store domain"),
        ("-shop.myshopify.com", "shpat_x", None, "not a Shopify store domain"),
        ("shop_a.myshopify.com", "shpat_x", None, "not a Shopify store domain"),
        ("https://shop-a.myshopify.com", "shpat_x", None, "not a Shopify store domain"),
        ("shop-a.myshopify.com.evil.com", "shpat_x", None, "not a Shopify store domain"),
        ("shop-a.myshopify.com", "   ", None, "the access token is empty"),
        ("shop-a.myshopify.com", "shpat_x", "not-an-email", "is not an email address"),
    ],
)
def test_shop_add_refuses_bad_values_and_adds_nothing(domain, token, email, message) -> None:
    with pytest.raises(ShopInvalid, match=message):
        shop_add(domain=domain, token=token, email=email)
    assert Shop.objects.count() == 0


def test_settings_update_changes_only_what_is_given(shop_a) -> None:
    shop_settings_update(shop=shop_a, max_downloads=3)
    assert _settings(shop_a) == (30, 3, "original")

    shop_settings_update(shop=shop_a, expiry_days=7, filename_mode="product")
    assert _settings(shop_a) == (7, 3, "product")


def test_settings_update_none_means_unlimited(shop_a) -> None:
    shop_settings_update(shop=shop_a, expiry_days=None, max_downloads=None)

    assert _settings(shop_a) == (None, None, "original")


def test_settings_update_with_nothing_to_change_changes_nothing(shop_a) -> None:
    shop_settings_update(
        shop=shop_a, expiry_days=UNCHANGED, max_downloads=UNCHANGED, filename_mode=UNCHANGED
    )

    assert _settings(shop_a) == (30, 5, "original")


def test_settings_update_accepts_the_limits(shop_a) -> None:
    shop_settings_update(shop=shop_a, expiry_days=3650, max_downloads=1000)
    assert _settings(shop_a) == (3650, 1000, "original")

    shop_settings_update(shop=shop_a, expiry_days=1, max_downloads=1)
    assert _settings(shop_a) == (1, 1, "original")


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        (
            {"expiry_days": 0},
            r"Download expiry \(days\) must be between 1 and 3650, or unlimited \(got 0\)",
        ),
        ({"expiry_days": -1}, r"Download expiry \(days\) must be between 1 and 3650"),
        ({"expiry_days": 3651}, r"Download expiry \(days\) must be between 1 and 3650"),
        (
            {"max_downloads": 0},
            r"Maximum downloads must be between 1 and 1000, or unlimited \(got 0\)",
        ),
        ({"max_downloads": 1001}, r"Maximum downloads must be between 1 and 1000"),
        ({"max_downloads": True}, r"Maximum downloads must be between 1 and 1000"),
        ({"filename_mode": "sku"}, r"Download filename must be original or product \(got 'sku'\)"),
        # One bad value among good ones: nothing changes.
        ({"expiry_days": 7, "max_downloads": 0}, r"Maximum downloads"),
    ],
)
def test_settings_update_refuses_values_out_of_range_and_changes_nothing(
    shop_a, changes, message
) -> None:
    with pytest.raises(ShopSettingsInvalid, match=message):
        shop_settings_update(shop=shop_a, **changes)

    assert (shop_a.download_expiry_days, shop_a.download_max) == (30, 5)
    assert _settings(shop_a) == (30, 5, "original")
