from __future__ import annotations

from collections.abc import Iterator

import pytest
from django.core.cache import cache
from django.test import Client

from devstore.server import devstore_serve
from devstore.store import DevStore
from imprint.delivery.services import grants_issue
from imprint.orders.models import Order
from imprint.shops.models import Shop
from imprint.shops.services import shop_token_get
from imprint.web.auth import SESSION_LABEL_KEY, SESSION_SHOP_KEY
from tests.factories import AttachmentFactory, DigitalFileFactory, LineItemFactory, OrderFactory


@pytest.fixture(autouse=True)
def _fresh_cache() -> Iterator[None]:
    """The dashboard is cached per store id, and ids repeat across tests."""
    cache.clear()
    yield
    cache.clear()


def signed_in(shop: Shop, label: str = "login link") -> Client:
    client = Client()
    session = client.session
    session[SESSION_SHOP_KEY] = shop.pk
    session[SESSION_LABEL_KEY] = label
    session.save()
    return client


@pytest.fixture
def client_a(shop_a: Shop) -> Client:
    return signed_in(shop_a)


@pytest.fixture
def client_b(shop_b: Shop) -> Client:
    return signed_in(shop_b)


def order_with_files(
    shop: Shop, *, files: tuple[str, ...] = ("guide.pdf",), **fields: object
) -> Order:
    """A paid order with one line carrying `files`, its grants issued."""
    order = OrderFactory(shop=shop, has_digital_items=True, **fields)
    line = LineItemFactory(order=order)
    for name in files:
        AttachmentFactory(
            shop=shop, product_id=line.product_id, file=DigitalFileFactory(shop=shop, name=name)
        )
    grants_issue(order=order)
    return order


@pytest.fixture
def shopify(settings) -> Iterator[DevStore]:
    """The devstore over real HTTP, where Imprint sends its Admin API calls: the product picker
    and the sync talk to it as to Shopify."""
    store = DevStore()
    server = devstore_serve(store, host="127.0.0.1", port=0)
    settings.SHOPIFY_ADMIN_ORIGIN = server.url
    try:
        yield store
    finally:
        server.stop()
        store.close()


def shopify_shop(store: DevStore, shop: Shop) -> None:
    """`shop` in the devstore too, with the same access token."""
    from tests.shopify.helpers import SECRET

    store.shop_create(
        domain=shop.domain,
        name=shop.name,
        access_token=shop_token_get(shop=shop),
        app_secret=SECRET,
    )
