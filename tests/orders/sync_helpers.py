"""A devstore over real HTTP for the sync tests, with Imprint's side of the same store."""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Iterator
from dataclasses import dataclass

import pytest

from devstore.clock import FakeClock
from devstore.models import Order as DevOrder
from devstore.models import Product
from devstore.models import Shop as DevShop
from devstore.payloads import order_payload
from devstore.server import devstore_serve
from devstore.store import DevStore
from imprint.orders.models import LineItem, Order
from imprint.shopify.payloads import order_from_payload
from imprint.shops.models import Shop
from imprint.shops.services import shop_token_get
from tests.factories import AttachmentFactory, DigitalFileFactory
from tests.shopify.helpers import SECRET


@dataclass
class Devstore:
    store: DevStore
    clock: FakeClock
    url: str

    def shop(self, shop: Shop, *, plan: str = "standard", webhook_url: str | None = None) -> None:
        """The same store in the devstore, with Imprint's token and app secret."""
        self.store.shop_create(
            domain=shop.domain,
            name=shop.name,
            plan=plan,
            access_token=shop_token_get(shop=shop),
            app_secret=SECRET,
            webhook_url=webhook_url,
        )

    def product(self, shop: Shop, *, title: str = "Field Guide", variants: int = 1) -> Product:
        """A product in the devstore with a file attached to it in Imprint."""
        product = self.store.product_create(
            shop=shop.domain, title=title, variants=[f"Edition {i + 1}" for i in range(variants)]
        )
        AttachmentFactory(shop=shop, file=DigitalFileFactory(shop=shop), product_id=product.id)
        return product

    def known(self, shop: Shop, orders: list[DevOrder]) -> None:
        """Record orders in Imprint as their webhooks would have: these stand for the orders
        whose webhooks did arrive."""
        orders_record_delivered(shop=shop, orders=orders, record=self.store.shop(shop.domain))

    def points(self, shop: Shop) -> tuple[float, int, int]:
        """(actual points spent, requests, throttled requests) by this shop."""
        log = [entry for entry in self.store.cost_log if entry["shop"] == shop.domain]
        return (
            sum(entry["actual"] or 0 for entry in log),
            len(log),
            sum(1 for entry in log if entry["throttled"]),
        )


@pytest.fixture
def sync_devstore(settings) -> Iterator[Devstore]:
    # The devstore's time starts at the real time: the sync's window is computed from Django's
    # clock, and the devstore shows only the last 60 days of its own.
    clock = FakeClock(start=time.time())
    # Webhook retries compressed 10,000 times, as in tests/devstore_fixtures.py.
    store = DevStore(clock=clock, retry_scale=0.0001)
    server = devstore_serve(store, host="127.0.0.1", port=0)
    settings.SHOPIFY_ADMIN_ORIGIN = server.url
    try:
        yield Devstore(store=store, clock=clock, url=server.url)
    finally:
        server.stop()
        store.close()


def days_ago(days: float) -> dt.datetime:
    from django.utils import timezone

    return timezone.now() - dt.timedelta(days=days)


def orders_record_delivered(*, shop: Shop, orders: list[DevOrder], record: DevShop) -> None:
    """Record devstore orders in Imprint in bulk, from the same REST payloads and mapping as
    their webhooks, as already delivered (the sync tests and bench/sync.py seed with it)."""
    rows = []
    for devorder in orders:
        data = order_from_payload(order_payload(devorder, record))
        rows.append(
            Order(
                shop=shop,
                shopify_id=data.shopify_id,
                name=data.name,
                email=data.email,
                financial_status=data.financial_status,
                shopify_created_at=data.created_at,
                shopify_updated_at=data.updated_at,
                has_digital_items=True,
                delivery_status="processed",
                delivered_at=data.created_at,
            )
        )
    Order.objects.bulk_create(rows, batch_size=500)
    by_id = dict(Order.objects.filter(shop=shop).values_list("shopify_id", "pk"))
    LineItem.objects.bulk_create(
        [
            LineItem(
                order_id=by_id[devorder.id],
                shopify_id=line.id,
                product_id=line.product_id,
                variant_id=line.variant_id,
                title=line.title,
            )
            for devorder in orders
            for line in devorder.line_items
        ],
        batch_size=500,
    )
