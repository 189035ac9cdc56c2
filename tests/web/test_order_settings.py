from __future__ import annotations

import datetime as dt

from django.utils import timezone
from django_tasks_db.models import DBTaskResult

from imprint.orders.models import Order, SyncRun
from tests.emails.helpers import tasks_run_ready
from tests.factories import AttachmentFactory, DigitalFileFactory
from tests.web.conftest import shopify_shop


def _run(shop, **fields) -> SyncRun:
    now = timezone.now()
    defaults = {
        "trigger": SyncRun.Trigger.MANUAL,
        "window_start": now - dt.timedelta(days=60),
        "started_at": now,
        "heartbeat_at": now,
    }
    return SyncRun.objects.create(shop=shop, **{**defaults, **fields})


def test_page_explains_the_sync_processing_and_troubleshooting(client_a):
    html = client_a.get("/app/settings/orders").content.decode()
    for text in (
        "Sync orders from Shopify",
        "Last 60 days",
        "How order processing works",
        "Order placed",
        "Links created",
        "Email sent",
        "Not there at all?",
        "Resend Email",
        "Last manual sync</dt><dd>Never",
    ):
        assert text in html, text
    assert 'value="60" selected' in html


def test_sync_button_enqueues_the_sync_with_the_look_back(client_a, shop_a):
    response = client_a.post("/app/settings/orders/sync", {"days": "30"}, follow=True)
    assert "Sync started." in response.content.decode()
    (job,) = DBTaskResult.objects.all()
    assert job.task_path == "imprint.orders.tasks.orders_sync_task"
    assert job.args_kwargs["kwargs"] == {"shop_id": shop_a.pk, "days": 30, "trigger": "manual"}
    progress = client_a.get("/app/settings/orders/sync/progress").content.decode()
    assert 'data-sync-state="waiting"' in progress
    assert 'hx-trigger="every 1s"' in progress


def test_a_bad_look_back_is_refused(client_a):
    response = client_a.post("/app/settings/orders/sync", {"days": "3650"})
    assert response.status_code == 400
    assert "Select a valid choice." in response.content.decode()
    assert DBTaskResult.objects.count() == 0


def test_a_second_sync_while_one_runs_is_not_enqueued(client_a, shop_a):
    _run(shop_a, status=SyncRun.Status.RUNNING, scanned=120, delivered=2)
    response = client_a.post("/app/settings/orders/sync", {"days": "60"}, follow=True)
    assert "A sync is running already" in response.content.decode()
    assert DBTaskResult.objects.count() == 0


def test_progress_while_running_and_summary_when_done(client_a, shop_a):
    run = _run(shop_a, status=SyncRun.Status.RUNNING, scanned=120, delivered=2)
    running = client_a.get("/app/settings/orders/sync/progress").content.decode()
    assert "120 orders scanned, 2 newly delivered so far." in running
    assert 'hx-trigger="every 1s"' in running
    SyncRun.objects.filter(pk=run.pk).update(
        status=SyncRun.Status.SUCCEEDED,
        finished_at=timezone.now(),
        scanned=250,
        already_known=240,
        delivered=3,
        skipped_no_digital=7,
    )
    done = client_a.get("/app/settings/orders/sync/progress").content.decode()
    assert "hx-trigger" not in done
    assert "<dt>Orders scanned</dt><dd>250</dd>" in done
    assert "<dt>Already in Imprint</dt><dd>240</dd>" in done
    assert "<dt>Newly delivered</dt><dd>3</dd>" in done
    assert "<dt>No digital files</dt><dd>7</dd>" in done


def test_last_manual_and_automatic_sync_times(client_a, shop_a, shop_b):
    at = dt.datetime(2026, 11, 30, 8, 15, tzinfo=dt.UTC)
    _run(
        shop_a,
        trigger=SyncRun.Trigger.SCHEDULE,
        status=SyncRun.Status.SUCCEEDED,
        started_at=at,
        finished_at=at,
    )
    _run(
        shop_b,
        trigger=SyncRun.Trigger.MANUAL,
        status=SyncRun.Status.SUCCEEDED,
        started_at=at,
        finished_at=at,
    )
    html = client_a.get("/app/settings/orders").content.decode()
    assert "Last automatic sync</dt><dd>30 Nov 2026, 08:15 UTC (succeeded)" in html
    assert "Last manual sync</dt><dd>Never" in html


def test_failed_sync_shows_a_readable_reason(client_a, shop_a):
    _run(
        shop_a,
        status=SyncRun.Status.FAILED,
        finished_at=timezone.now(),
        error_text="Shopify refused Imprint's access token.",
    )
    html = client_a.get("/app/settings/orders/sync/progress").content.decode()
    assert "The sync could not finish. Shopify refused Imprint&#x27;s access token." in html


def test_sync_from_the_button_delivers_an_order_whose_webhook_was_lost(client_a, shop_a, shopify):
    shopify_shop(shopify, shop_a)
    product = shopify.product_create(shop=shop_a.domain, title="Field Guide")
    AttachmentFactory(shop=shop_a, file=DigitalFileFactory(shop=shop_a), product_id=product.id)
    order = shopify.order_create(
        shop=shop_a.domain, lines=[(product.variants[0].id, 1)], webhooks=False
    )
    client_a.post("/app/settings/orders/sync", {"days": "60"})
    tasks_run_ready()
    done = client_a.get("/app/settings/orders/sync/progress").content.decode()
    assert "<dt>Orders scanned</dt><dd>1</dd>" in done
    assert "<dt>Newly delivered</dt><dd>1</dd>" in done
    assert Order.objects.get(shop=shop_a).shopify_id == order.id
