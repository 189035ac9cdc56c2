"""The order sync against the devstore over real HTTP: lost webhooks healed, each order once,
Shopify's rate limit spent exactly, and every failure recorded in words."""

from __future__ import annotations

import datetime as dt
import logging

import pytest
from django.utils import timezone

from imprint.delivery.models import DownloadGrant
from imprint.emails.models import EmailLog
from imprint.orders.models import Order, SyncRun
from imprint.orders.sync import (
    NO_TOKEN,
    SYNC_LEASE_SECONDS,
    UNINSTALLED,
    orders_sync,
)
from imprint.shops.models import Shop
from tests.orders import sync_helpers
from tests.orders.sync_helpers import Devstore, days_ago

sync_devstore = sync_helpers.sync_devstore  # the fixture, for this module

pytestmark = pytest.mark.django_db


def emailed_orders(shop: Shop) -> list[int]:
    return sorted(
        EmailLog.objects.filter(order__shop=shop, kind="delivery").values_list(
            "order__shopify_id", flat=True
        )
    )


def counts(run: SyncRun) -> dict[str, object]:
    return {
        "status": run.status,
        "scanned": run.scanned,
        "already_known": run.already_known,
        "delivered": run.delivered,
        "skipped_no_digital": run.skipped_no_digital,
        "recorded": run.recorded,
        "errors": run.errors,
        "error_text": run.error_text,
    }


def test_one_sync_delivers_exactly_the_orders_whose_webhooks_were_lost(
    sync_devstore: Devstore, shop_a: Shop
) -> None:
    sync_devstore.shop(shop_a)
    product = sync_devstore.product(shop_a)
    orders = sync_devstore.store.orders_bulk_create(
        shop=shop_a.domain, count=520, paid_ratio=500 / 520, product_ids=[product.id]
    )
    paid = [o for o in orders if o.financial_status == "paid"]
    lost = paid[::10]  # every webhook of these 50 was dropped
    sync_devstore.known(shop_a, [o for o in paid if o not in lost])

    run = orders_sync(shop=shop_a, since=days_ago(60), trigger="manual", clock=sync_devstore.clock)

    assert (len(paid), len(lost)) == (500, 50)
    assert counts(run) == {
        "status": "succeeded",
        "scanned": 500,
        "already_known": 450,
        "delivered": 50,
        "skipped_no_digital": 0,
        "recorded": 0,
        "errors": 0,
        "error_text": "",
    }
    assert emailed_orders(shop_a) == sorted(o.id for o in lost)
    assert DownloadGrant.objects.filter(order__shop=shop_a).count() == 50
    run.refresh_from_db()
    assert (run.trigger, run.finished_at is not None, run.points_spent > 0) == (
        "manual",
        True,
        True,
    )
    # Listing 500 ids costs about a point each; details were fetched for the 50 only.
    assert run.points_spent < 500 + 50 * 15


def test_a_second_sync_delivers_nothing_and_emails_nobody_again(
    sync_devstore: Devstore, shop_a: Shop
) -> None:
    sync_devstore.shop(shop_a)
    product = sync_devstore.product(shop_a)
    sync_devstore.store.orders_bulk_create(shop=shop_a.domain, count=30, product_ids=[product.id])
    first = orders_sync(shop=shop_a, since=days_ago(60), clock=sync_devstore.clock)
    emails_before = EmailLog.objects.count()

    second = orders_sync(shop=shop_a, since=days_ago(60), clock=sync_devstore.clock)

    assert (first.delivered, emails_before) == (30, 30)
    assert counts(second) == {
        "status": "succeeded",
        "scanned": 30,
        "already_known": 30,
        "delivered": 0,
        "skipped_no_digital": 0,
        "recorded": 0,
        "errors": 0,
        "error_text": "",
    }
    assert EmailLog.objects.count() == 30
    assert second.points_spent <= 30 + 2  # one listing page, no details


def test_an_order_known_but_unpaid_in_imprint_is_delivered_once_its_paid_state_is_synced(
    sync_devstore: Devstore, shop_a: Shop
) -> None:
    """orders/create arrived, orders/paid was lost: the order is known, but stale."""
    sync_devstore.shop(shop_a)
    product = sync_devstore.product(shop_a)
    (order,) = sync_devstore.store.orders_bulk_create(
        shop=shop_a.domain, count=1, product_ids=[product.id]
    )
    sync_devstore.known(shop_a, [order])
    Order.objects.filter(shop=shop_a).update(
        financial_status="pending",
        delivered_at=None,
        delivery_status="pending",
        shopify_updated_at=timezone.now() - dt.timedelta(days=40),
    )

    run = orders_sync(shop=shop_a, since=days_ago(60), clock=sync_devstore.clock)

    assert (run.scanned, run.already_known, run.delivered) == (1, 0, 1)
    assert emailed_orders(shop_a) == [order.id]


def test_orders_without_files_are_recorded_and_counted_as_skipped(
    sync_devstore: Devstore, shop_a: Shop
) -> None:
    sync_devstore.shop(shop_a)
    poster = sync_devstore.store.product_create(shop=shop_a.domain, title="Poster", variants=["A2"])
    sync_devstore.store.orders_bulk_create(shop=shop_a.domain, count=3, product_ids=[poster.id])

    run = orders_sync(shop=shop_a, since=days_ago(60), clock=sync_devstore.clock)

    assert (run.status, run.scanned, run.delivered, run.skipped_no_digital) == (
        "succeeded",
        3,
        0,
        3,
    )
    assert Order.objects.filter(shop=shop_a, delivery_status="no_digital").count() == 3
    assert EmailLog.objects.count() == 0


def test_an_order_with_120_line_items_is_ingested_whole(
    sync_devstore: Devstore, shop_a: Shop
) -> None:
    sync_devstore.shop(shop_a)
    product = sync_devstore.product(shop_a, variants=120)
    order = sync_devstore.store.order_create(
        shop=shop_a.domain, lines=[(v.id, 1) for v in product.variants], webhooks=False
    )

    run = orders_sync(shop=shop_a, since=days_ago(60), clock=sync_devstore.clock)

    assert (run.status, run.delivered) == ("succeeded", 1)
    synced = Order.objects.get(shop=shop_a, shopify_id=order.id)
    assert sorted(synced.line_items.values_list("shopify_id", flat=True)) == sorted(
        line.id for line in order.line_items
    )
    assert synced.line_items.count() == 120
    assert synced.grants.count() == 120
    assert EmailLog.objects.filter(order=synced).count() == 1


def test_the_window_stops_at_the_60_days_shopify_shows_and_says_so(
    sync_devstore: Devstore, shop_a: Shop
) -> None:
    sync_devstore.shop(shop_a)
    product = sync_devstore.product(shop_a)
    variant = product.variants[0].id
    now = sync_devstore.clock.now()
    old = sync_devstore.store.order_create(
        shop=shop_a.domain, lines=[(variant, 1)], created_at=now - 70 * 86400, webhooks=False
    )
    recent = sync_devstore.store.order_create(
        shop=shop_a.domain, lines=[(variant, 1)], created_at=now - 30 * 86400, webhooks=False
    )

    before = timezone.now()
    run = orders_sync(shop=shop_a, since=days_ago(90), clock=sync_devstore.clock)

    assert (run.status, run.scanned, run.delivered) == ("succeeded", 1, 1)
    assert emailed_orders(shop_a) == [recent.id]
    assert not Order.objects.filter(shopify_id=old.id).exists()
    assert (
        before - dt.timedelta(days=60) <= run.window_start <= timezone.now() - dt.timedelta(days=60)
    )
    assert run.note.startswith(
        "Shopify shows apps only the last 60 days of orders: checked orders since "
    )


def test_a_refused_token_stops_the_sync_and_says_to_reinstall(
    sync_devstore: Devstore, shop_a: Shop, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="httpx")
    sync_devstore.shop(shop_a)
    product = sync_devstore.product(shop_a)
    sync_devstore.store.orders_bulk_create(shop=shop_a.domain, count=5, product_ids=[product.id])
    sync_devstore.store.token_revoke(shop=shop_a.domain)

    run = orders_sync(shop=shop_a, since=days_ago(60), clock=sync_devstore.clock)

    assert counts(run) == {
        "status": "failed",
        "scanned": 0,
        "already_known": 0,
        "delivered": 0,
        "skipped_no_digital": 0,
        "recorded": 0,
        "errors": 0,
        "error_text": "Shopify refused the access token; reinstall the app",
    }
    assert SyncRun.objects.get().status == "failed"
    assert (Order.objects.count(), EmailLog.objects.count()) == (0, 0)
    requests = [r.getMessage() for r in caplog.records if r.name == "httpx"]
    assert len(requests) == 1  # refused once, never retried
    assert requests[0].endswith('"HTTP/1.0 401 Unauthorized"')


def test_an_uninstalled_store_is_not_called_and_the_run_says_why(
    sync_devstore: Devstore, shop_a: Shop
) -> None:
    sync_devstore.shop(shop_a)
    Shop.objects.filter(pk=shop_a.pk).update(uninstalled_at=timezone.now())
    shop_a.refresh_from_db()

    run = orders_sync(shop=shop_a, since=days_ago(60), clock=sync_devstore.clock)

    assert (run.status, run.error_text) == ("failed", UNINSTALLED)
    assert run.error_text == "The app is uninstalled from this store"
    assert sync_devstore.store.cost_log == []
    assert Order.objects.count() == 0


def test_a_store_without_a_token_is_not_called(sync_devstore: Devstore, shop_a: Shop) -> None:
    Shop.objects.filter(pk=shop_a.pk).update(access_token_encrypted="")
    shop_a.refresh_from_db()

    run = orders_sync(shop=shop_a, since=days_ago(60), clock=sync_devstore.clock)

    assert (run.status, run.error_text) == ("failed", NO_TOKEN)
    assert sync_devstore.store.cost_log == []


def test_a_few_500s_are_retried_and_the_sync_succeeds(
    sync_devstore: Devstore, shop_a: Shop
) -> None:
    sync_devstore.shop(shop_a)
    product = sync_devstore.product(shop_a)
    sync_devstore.store.orders_bulk_create(shop=shop_a.domain, count=4, product_ids=[product.id])
    sync_devstore.store.fail_next(shop=shop_a.domain, count=3, status=500)

    run = orders_sync(shop=shop_a, since=days_ago(60), clock=sync_devstore.clock)

    assert (run.status, run.delivered, run.error_text) == ("succeeded", 4, "")
    assert sync_devstore.clock.slept[:3] == [1.0, 2.0, 4.0]  # exponential backoff on the FakeClock


def test_500s_that_persist_mid_sync_end_in_a_readable_failure_with_whole_orders(
    sync_devstore: Devstore, shop_a: Shop
) -> None:
    sync_devstore.shop(shop_a)
    product = sync_devstore.product(shop_a)
    orders = sync_devstore.store.orders_bulk_create(
        shop=shop_a.domain, count=300, product_ids=[product.id]
    )
    sync_devstore.known(shop_a, orders[10:250])  # the first page has 10 to deliver
    pages = []

    def after_page(run: SyncRun) -> None:
        pages.append(run.scanned)
        sync_devstore.store.fail_next(shop=shop_a.domain, count=100, status=500)

    run = orders_sync(
        shop=shop_a, since=days_ago(60), clock=sync_devstore.clock, progress=after_page
    )

    assert pages == [250]
    assert counts(run) == {
        "status": "failed",
        "scanned": 250,
        "already_known": 240,
        "delivered": 10,
        "skipped_no_digital": 0,
        "recorded": 0,
        "errors": 0,
        "error_text": "Shopify answered HTTP 500 5 times in a row; try again later",
    }
    # Every order delivered is whole: its line, its grant, its one email; the rest untouched.
    assert Order.objects.filter(shop=shop_a).count() == 250
    assert emailed_orders(shop_a) == sorted(o.id for o in orders[:10])
    assert DownloadGrant.objects.filter(order__shop=shop_a).count() == 10
    assert SyncRun.objects.get().finished_at is not None


def test_a_sync_asked_to_stop_finishes_the_current_order_and_is_recorded_partial(
    sync_devstore: Devstore, shop_a: Shop
) -> None:
    import threading

    sync_devstore.shop(shop_a)
    product = sync_devstore.product(shop_a)
    orders = sync_devstore.store.orders_bulk_create(
        shop=shop_a.domain, count=260, product_ids=[product.id]
    )
    sync_devstore.known(shop_a, orders[5:250])
    stop = threading.Event()

    run = orders_sync(
        shop=shop_a,
        since=days_ago(60),
        trigger="cli",
        clock=sync_devstore.clock,
        stop=stop,
        progress=lambda run: stop.set(),
    )

    assert (run.status, run.scanned, run.delivered) == ("partial", 250, 5)
    assert emailed_orders(shop_a) == sorted(o.id for o in orders[:5])


def test_a_second_sync_while_one_runs_joins_it(sync_devstore: Devstore, shop_a: Shop) -> None:
    sync_devstore.shop(shop_a)
    product = sync_devstore.product(shop_a)
    sync_devstore.store.orders_bulk_create(shop=shop_a.domain, count=3, product_ids=[product.id])
    joined = []

    def meanwhile(run: SyncRun) -> None:
        joined.append(orders_sync(shop=shop_a, since=days_ago(60), clock=sync_devstore.clock))

    run = orders_sync(
        shop=shop_a, since=days_ago(60), clock=sync_devstore.clock, progress=meanwhile
    )

    assert [(j.pk, j.status) for j in joined] == [(run.pk, "running")]
    assert SyncRun.objects.count() == 1
    assert (run.status, run.delivered, EmailLog.objects.count()) == ("succeeded", 3, 3)


def test_a_run_left_running_by_a_dead_process_is_taken_over_after_its_lease(
    sync_devstore: Devstore, shop_a: Shop
) -> None:
    sync_devstore.shop(shop_a)
    stale = timezone.now() - dt.timedelta(seconds=SYNC_LEASE_SECONDS + 1)
    dead = SyncRun.objects.create(
        shop=shop_a,
        trigger="schedule",
        window_start=stale,
        started_at=stale,
        heartbeat_at=stale,
    )

    run = orders_sync(shop=shop_a, since=days_ago(3), clock=sync_devstore.clock)

    dead.refresh_from_db()
    assert (dead.status, dead.error_text) == (
        "failed",
        "The sync stopped without finishing (its process ended); a later sync took over.",
    )
    assert (run.pk != dead.pk, run.status) == (True, "succeeded")


def test_a_running_sync_within_its_lease_is_joined_not_taken_over(shop_a: Shop) -> None:
    now = timezone.now()
    alive = SyncRun.objects.create(
        shop=shop_a, trigger="schedule", window_start=now, started_at=now, heartbeat_at=now
    )

    run = orders_sync(shop=shop_a, since=days_ago(3))

    assert (run.pk, run.status) == (alive.pk, "running")
    assert SyncRun.objects.count() == 1
