"""The sync and refunds: an order whose webhooks were all lost is delivered with every refund
counted, however many refunds it has and however many lines each refunds, so no refunded file
goes out. Only orders at the batch query's limits pay for a second query."""

from __future__ import annotations

from typing import Any

import pytest

from devstore.models import Order as DevOrder
from imprint.delivery.models import DownloadGrant, Restriction
from imprint.orders.sync import orders_sync
from imprint.shopify import admin
from imprint.shopify.admin import AdminClient, ShopifyCostExceeded
from imprint.shops.models import Shop
from tests.orders import sync_helpers
from tests.orders.sync_helpers import Devstore, days_ago

sync_devstore = sync_helpers.sync_devstore  # the fixture, for this module

pytestmark = pytest.mark.django_db


@pytest.fixture
def queries(monkeypatch) -> list[str]:
    """The name of every query the sync sends, in order."""
    sent: list[str] = []
    real = AdminClient.query

    def spy(self: AdminClient, query: str, *args: Any, **kwargs: Any) -> Any:
        sent.append(query.split("(")[0].split()[-1])
        return real(self, query, *args, **kwargs)

    monkeypatch.setattr(AdminClient, "query", spy)
    return sent


def _order_with_lines(devstore: Devstore, shop: Shop, count: int) -> DevOrder:
    """A paid order of `count` lines, each a file in Imprint, whose webhooks never arrived."""
    product = devstore.product(shop, variants=count)
    return devstore.store.order_create(
        shop=shop.domain,
        lines=[(variant.id, 1) for variant in product.variants],
        webhooks=False,
    )


def _active(order: DevOrder) -> set[int]:
    """The Shopify ids of the order's line items with a download link that works (a refunded
    line gets none, or a restricted one)."""
    return set(
        DownloadGrant.objects.filter(
            order__shopify_id=order.id, restriction=Restriction.NONE
        ).values_list("line_item__shopify_id", flat=True)
    )


def _sync(devstore: Devstore, shop: Shop) -> None:
    run = orders_sync(shop=shop, since=days_ago(60), trigger="manual", clock=devstore.clock)
    assert (run.status, run.delivered, run.errors) == ("succeeded", 1, 0), run.error_text


def test_an_order_with_more_refunds_than_the_batch_asks_for_has_every_one_counted(
    sync_devstore: Devstore, shop_a: Shop, queries: list[str]
) -> None:
    sync_devstore.shop(shop_a)
    order = _order_with_lines(sync_devstore, shop_a, admin.REFUNDS_FIRST + 3)
    refunded = order.line_items[: admin.REFUNDS_FIRST + 2]
    for line in refunded:  # one refund per line, every webhook of them lost too
        sync_devstore.store.refund_create(
            shop=shop_a.domain, order_id=order.id, lines=[(line.id, 1)]
        )

    _sync(sync_devstore, shop_a)

    assert _active(order) == {order.line_items[-1].id}
    assert queries.count("OrderRefunds") == 1


def test_a_refund_of_more_lines_than_a_page_has_every_line_counted(
    sync_devstore: Devstore, shop_a: Shop, queries: list[str], monkeypatch
) -> None:
    monkeypatch.setattr(admin, "REFUND_LINES_PAGE", 10)  # so that the lines take three pages
    sync_devstore.shop(shop_a)
    order = _order_with_lines(sync_devstore, shop_a, admin.REFUND_LINES_FIRST + 26)
    refunded = order.line_items[:-1]
    sync_devstore.store.refund_create(
        shop=shop_a.domain, order_id=order.id, lines=[(line.id, 1) for line in refunded]
    )

    _sync(sync_devstore, shop_a)

    assert _active(order) == {order.line_items[-1].id}
    assert len(refunded) == 50
    assert queries.count("OrderRefunds") == 1
    # The batch brought lines 1-25; the rest come from where it stopped: 26-35, 36-45, 46-50.
    assert queries.count("RefundLines") == 3


def test_an_order_whose_refunds_cannot_be_read_in_full_is_reported_and_the_rest_delivered(
    sync_devstore: Devstore, shop_a: Shop, monkeypatch
) -> None:
    sync_devstore.shop(shop_a)
    many = _order_with_lines(sync_devstore, shop_a, admin.REFUNDS_FIRST + 1)
    for line in many.line_items[:-1]:
        sync_devstore.store.refund_create(
            shop=shop_a.domain, order_id=many.id, lines=[(line.id, 1)]
        )
    plain = _order_with_lines(sync_devstore, shop_a, 1)
    real = AdminClient.query

    def refusing(self: AdminClient, query: str, *args: Any, **kwargs: Any) -> Any:
        if "query OrderRefunds" in query:
            raise ShopifyCostExceeded("Query cost is 1200, which exceeds the single query max")
        return real(self, query, *args, **kwargs)

    monkeypatch.setattr(AdminClient, "query", refusing)

    run = orders_sync(shop=shop_a, since=days_ago(60), trigger="manual", clock=sync_devstore.clock)

    # A run with an order it could not deliver is marked failed, with the order named; the
    # other order is delivered all the same.
    assert (run.status, run.delivered, run.errors) == ("failed", 1, 1)
    assert "exceeds the single query max" in run.error_text
    assert _active(plain) == {plain.line_items[0].id}
    assert _active(many) == set()  # not delivered: its refunds are not known in full


def test_an_order_within_the_limits_costs_no_second_query(
    sync_devstore: Devstore, shop_a: Shop, queries: list[str]
) -> None:
    sync_devstore.shop(shop_a)
    order = _order_with_lines(sync_devstore, shop_a, 3)
    sync_devstore.store.refund_create(
        shop=shop_a.domain, order_id=order.id, lines=[(order.line_items[0].id, 1)]
    )
    sync_devstore.store.refund_create(
        shop=shop_a.domain, order_id=order.id, lines=[(order.line_items[1].id, 1)]
    )

    _sync(sync_devstore, shop_a)

    assert _active(order) == {order.line_items[2].id}
    assert "OrdersWithRefunds" in queries
    assert "OrderRefunds" not in queries
    assert "RefundLines" not in queries
