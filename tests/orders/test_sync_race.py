"""The sync racing live webhooks, and two syncs of one store at once, on real threads and
connections: one delivery email per order, one run per store."""

from __future__ import annotations

import threading
import time
import urllib.request

import pytest
from django.core import mail
from django.db import connection

from imprint.emails.models import EmailLog
from imprint.jobs.worker import jobs_run_pending
from imprint.orders.models import Order, SyncRun
from imprint.orders.sync import orders_sync
from imprint.shops.models import Shop
from tests.orders import sync_helpers
from tests.orders.sync_helpers import Devstore, days_ago
from tests.processes import Processes, child_env, free_port, wait_until

sync_devstore = sync_helpers.sync_devstore  # the fixture, for this module

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]


def _healthy(port: int) -> bool:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=5) as response:
            return response.status == 200
    except OSError:
        return False


def test_a_sync_racing_live_webhooks_sends_one_email_per_order(
    sync_devstore: Devstore, shop_a: Shop, processes: Processes, settings
) -> None:
    """Three processes at once: Imprint's web server receiving the devstore's webhooks,
    `imprint sync` for the same orders, and this test working the jobs both queue."""
    port = free_port()
    env = child_env(
        SHOPIFY_API_SECRET=settings.SHOPIFY_API_SECRET,
        IMPRINT_SHOPIFY_ADMIN_ORIGIN=sync_devstore.url,
        IMPRINT_WEB_WORKERS="1",
    )
    web = processes.start("web", "--port", str(port), env=env)
    wait_until(lambda: _healthy(port) or not web.alive(), timeout=60, what="imprint web")
    assert web.alive(), processes.outputs()
    sync_devstore.shop(shop_a, webhook_url=f"http://127.0.0.1:{port}/webhooks/shopify")
    product = sync_devstore.product(shop_a)
    store = sync_devstore.store
    store.webhooks.set_mode("delay")  # hold them, to release them as the sync starts
    orders = [
        store.order_create(shop=shop_a.domain, lines=[(product.variants[0].id, 1)])
        for _ in range(40)
    ]

    sync = processes.start("sync", "--shop", shop_a.domain, "--days", "60", env=env)
    store.webhooks.flush()
    deadline = time.monotonic() + 120
    while sync.alive() or not store.webhooks.wait_idle(0.05) or jobs_run_pending():
        assert time.monotonic() < deadline, processes.outputs()
        jobs_run_pending()
    jobs_run_pending()

    assert sync.popen.returncode == 0, processes.outputs()
    run = SyncRun.objects.get()
    assert (run.status, run.trigger, run.scanned) == ("succeeded", "cli", 40)
    # Every order came in once, whichever of the two got there first.
    assert run.delivered + run.already_known == 40
    assert all(d.state == "delivered" for d in store.webhooks.deliveries), processes.outputs()
    assert sorted(EmailLog.objects.values_list("order__shopify_id", flat=True)) == sorted(
        o.id for o in orders
    )
    assert len(mail.outbox) == 40
    assert sorted(m.to[0] for m in mail.outbox) == sorted(o.email for o in orders)
    assert Order.objects.filter(shop=shop_a).count() == 40


def test_two_syncs_of_one_store_at_once_run_once(sync_devstore: Devstore, shop_a: Shop) -> None:
    sync_devstore.shop(shop_a)
    product = sync_devstore.product(shop_a)
    sync_devstore.store.orders_bulk_create(shop=shop_a.domain, count=5, product_ids=[product.id])
    second_done = threading.Event()
    results: dict[str, SyncRun] = {}

    def first() -> None:
        def hold(run: SyncRun) -> None:
            second_done.wait(timeout=30)  # stay running until the second caller has come and gone

        try:
            results["first"] = orders_sync(
                shop=shop_a, since=days_ago(60), clock=sync_devstore.clock, progress=hold
            )
        finally:
            connection.close()

    def second() -> None:
        try:
            wait_until(
                lambda: SyncRun.objects.filter(status="running").exists(),
                timeout=30,
                what="the first sync to start",
            )
            results["second"] = orders_sync(
                shop=shop_a, since=days_ago(60), clock=sync_devstore.clock
            )
        finally:
            second_done.set()
            connection.close()

    threads = [threading.Thread(target=first), threading.Thread(target=second)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)

    assert results["second"].pk == results["first"].pk
    assert results["second"].status == "running"  # it joined the first, it did not run
    assert SyncRun.objects.count() == 1
    assert (results["first"].status, results["first"].delivered) == ("succeeded", 5)
    assert EmailLog.objects.count() == 5
