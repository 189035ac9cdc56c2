"""Shopify's leaky bucket, spent exactly: a Standard-plan sync of thousands of orders never fails
a request and takes within 10% of the least time the restore rate allows for what it spent."""

from __future__ import annotations

import pytest

from devstore.store import PLANS
from imprint.emails.models import EmailLog
from imprint.orders.sync import orders_sync
from imprint.shops.models import Shop
from tests.orders import sync_helpers
from tests.orders.sync_helpers import Devstore, days_ago

sync_devstore = sync_helpers.sync_devstore  # the fixture, for this module

pytestmark = [pytest.mark.django_db, pytest.mark.slow]


def test_a_standard_plan_sync_of_3000_orders_waits_only_what_the_bucket_needs(
    sync_devstore: Devstore, shop_a: Shop
) -> None:
    sync_devstore.shop(shop_a, plan="standard")
    product = sync_devstore.product(shop_a)
    orders = sync_devstore.store.orders_bulk_create(
        shop=shop_a.domain, count=3000, product_ids=[product.id]
    )
    lost = orders[::100]  # 1% never reached Imprint
    sync_devstore.known(shop_a, [o for o in orders if o not in lost])

    run = orders_sync(shop=shop_a, since=days_ago(60), clock=sync_devstore.clock)

    spent, requests, throttled = sync_devstore.points(shop_a)
    plan = PLANS["standard"]
    minimum = max(0.0, spent - plan.bucket) / plan.restore_rate
    assert (run.status, run.scanned, run.delivered, run.errors) == ("succeeded", 3000, 30, 0)
    assert EmailLog.objects.count() == 30
    # Not one request refused: the client waits before asking rather than after being told.
    assert throttled == 0
    assert all(entry["error"] is None for entry in sync_devstore.store.cost_log)
    assert run.points_spent == round(spent)
    assert spent > plan.bucket  # the bucket really ran dry, so waiting was needed
    assert minimum <= run.duration_seconds <= minimum * 1.10, (run.duration_seconds, minimum)
    assert requests < 3000 / 250 + 30  # a page per 250 orders, detail batches for the 30
