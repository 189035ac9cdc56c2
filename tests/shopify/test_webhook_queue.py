"""The webhook queue: a RECEIVED delivery row is the job. Workers claim due rows in batches,
oldest first, each for one worker within its lease; failures come back with a back-off, and a
delivery that keeps failing (or keeps killing its worker) ends FAILED instead of looping."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
import time_machine
from django.core import mail
from django.test import Client
from django.utils import timezone
from django_tasks_db.models import DBTaskResult

from imprint.emails.models import EmailLog, EmailStatus
from imprint.jobs import worker
from imprint.orders.models import Order
from imprint.shopify import webhooks
from imprint.shopify.models import DeliveryStatus, WebhookDelivery
from imprint.shopify.tasks import webhook_process_task
from imprint.shopify.webhooks import webhooks_claim, webhooks_process_ready
from imprint.shops.models import Shop
from tests.concurrency import at_once
from tests.factories import AttachmentFactory, DigitalFileFactory
from tests.shopify.helpers import paid_order, post_webhook, run_queued

SHOP = "shop-a.myshopify.com"


class WorkerKilled(BaseException):
    """Stands for a SIGKILL: no `except Exception` handles it, so nothing after it runs."""


def _attach_sample_product(shop: Shop) -> None:
    product_id = paid_order()["line_items"][0]["product_id"]
    AttachmentFactory(shop=shop, file=DigitalFileFactory(shop=shop), product_id=product_id)


def _post_paid(client: Client, **changes: Any) -> WebhookDelivery:
    response = post_webhook(client, topic="orders/paid", shop=SHOP, payload=paid_order(**changes))
    assert response.status_code == 200
    return WebhookDelivery.objects.latest("id")


def _past_lease(settings: Any, seconds: float = 1) -> dt.datetime:
    """A claim time whose lease ran out `seconds` ago."""
    return timezone.now() - dt.timedelta(seconds=settings.JOB_LEASE_SECONDS + seconds)


@pytest.mark.django_db
def test_a_retried_delivery_waits_for_its_next_attempt_then_fails_after_the_last(
    client, shop_a, monkeypatch, settings
) -> None:
    settings.JOB_MAX_ATTEMPTS = 3
    settings.JOB_RETRY_BASE_SECONDS = 60
    delivery = _post_paid(client)

    def broken(**kwargs: Any) -> None:
        raise KeyError("secret internals")

    monkeypatch.setattr(webhooks, "order_ingest", broken)
    assert webhooks_process_ready() == 1

    for attempt in (1, 2):
        delivery.refresh_from_db()
        assert (delivery.status, delivery.attempts) == (DeliveryStatus.RECEIVED, attempt)
        assert (
            delivery.outcome == f"Attempt {attempt} failed: an internal error; it will be retried."
        )
        due = delivery.next_attempt_at
        assert due is not None
        with time_machine.travel(due - dt.timedelta(seconds=1), tick=False):
            assert webhooks_claim() == []
        with time_machine.travel(due, tick=False):
            assert webhooks_process_ready() == 1

    delivery.refresh_from_db()
    assert (delivery.status, delivery.attempts) == (DeliveryStatus.FAILED, 3)
    assert delivery.outcome == "Gave up after 3 attempts: an internal error (see the server log)."
    assert delivery.processed_at is not None
    with time_machine.travel(timezone.now() + dt.timedelta(days=1), tick=False):
        assert webhooks_claim() == []
    assert Order.objects.count() == 0
    assert EmailLog.objects.count() == 0


@pytest.mark.django_db
def test_a_claim_holds_for_its_lease_and_a_dead_workers_delivery_sends_one_email(
    client, shop_a, monkeypatch, settings
) -> None:
    settings.JOB_LEASE_SECONDS = 300
    _attach_sample_product(shop_a)
    delivery = _post_paid(client)
    real_ingest = webhooks.order_ingest

    def ingest_then_die(**kwargs: Any) -> object:
        real_ingest(**kwargs)
        raise WorkerKilled

    # The first worker ingests the order (queueing its email), then dies before it can mark
    # the delivery processed: the ingest and the mark are one transaction, so nothing it did
    # stays, and its claim does.
    monkeypatch.setattr(webhooks, "order_ingest", ingest_then_die)
    with pytest.raises(WorkerKilled):
        webhooks_process_ready()
    monkeypatch.setattr(webhooks, "order_ingest", real_ingest)
    delivery.refresh_from_db()
    assert (delivery.status, delivery.attempts) == (DeliveryStatus.PROCESSING, 1)
    assert (Order.objects.count(), EmailLog.objects.count()) == (0, 0)

    # Inside the lease no other worker takes it.
    WebhookDelivery.objects.filter(pk=delivery.pk).update(
        claimed_at=timezone.now() - dt.timedelta(seconds=settings.JOB_LEASE_SECONDS - 1)
    )
    assert webhooks_claim() == []
    delivery.refresh_from_db()
    assert (delivery.status, delivery.attempts) == (DeliveryStatus.PROCESSING, 1)

    # Past it, the next worker claims it again and delivers the order.
    WebhookDelivery.objects.filter(pk=delivery.pk).update(claimed_at=_past_lease(settings))
    assert webhooks_process_ready() == 1

    delivery.refresh_from_db()
    assert (delivery.status, delivery.attempts, delivery.outcome) == (
        DeliveryStatus.PROCESSED,
        2,
        "Delivered",
    )
    assert Order.objects.count() == 1
    assert EmailLog.objects.get().status == EmailStatus.QUEUED
    assert run_queued("emails") == 1
    assert [message.to for message in mail.outbox] == [["jon@example.com"]]
    assert EmailLog.objects.get().status == EmailStatus.SENT


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("attempts_before", "status", "outcome"),
    [
        # The last allowed attempt still runs.
        (2, DeliveryStatus.PROCESSED, "Recorded"),
        # One more claim than allowed: its worker died every time, so it stops here.
        (3, DeliveryStatus.FAILED, "Gave up after 3 attempts: the worker stopped each time."),
    ],
)
def test_a_delivery_whose_worker_dies_every_time_ends_failed(
    client, shop_a, settings, attempts_before, status, outcome
) -> None:
    settings.JOB_MAX_ATTEMPTS = 3
    delivery = _post_paid(client)
    WebhookDelivery.objects.filter(pk=delivery.pk).update(
        status=DeliveryStatus.PROCESSING,
        attempts=attempts_before,
        claimed_at=_past_lease(settings),
    )

    assert webhooks_process_ready() == 1

    delivery.refresh_from_db()
    assert (delivery.status, delivery.attempts, delivery.outcome) == (
        status,
        attempts_before + 1,
        outcome,
    )
    assert Order.objects.count() == (1 if status == DeliveryStatus.PROCESSED else 0)
    # Finished either way: nothing claims it again, however late.
    with time_machine.travel(timezone.now() + dt.timedelta(days=1), tick=False):
        assert webhooks_claim() == []


@pytest.mark.django_db(transaction=True)
def test_concurrent_workers_never_claim_one_delivery_twice_and_claim_them_all(shop_a) -> None:
    WebhookDelivery.objects.bulk_create(
        WebhookDelivery(
            webhook_id=f"w-{index}",
            topic="orders/paid",
            shop_domain=SHOP,
            shop=shop_a,
            body="{}",
            status=DeliveryStatus.RECEIVED,
        )
        for index in range(200)
    )

    def claim_until_empty(_: int) -> list[int]:
        mine: list[int] = []
        while batch := webhooks_claim(limit=10):
            assert len(batch) <= 10
            mine.extend(delivery.pk for delivery in batch)
        return mine

    claimed = at_once(claim_until_empty, 4)

    everything = [pk for mine in claimed for pk in mine]
    assert len(everything) == len(set(everything))  # no delivery twice
    assert set(everything) == set(WebhookDelivery.objects.values_list("pk", flat=True))
    assert len(everything) == 200
    assert set(WebhookDelivery.objects.values_list("status", "attempts")) == {
        (DeliveryStatus.PROCESSING, 1)
    }


@pytest.mark.django_db
def test_a_batch_is_at_most_ten_deliveries_oldest_first(client, shop_a) -> None:
    order_ids = [5_000_000 + index for index in range(25)]
    for order_id in order_ids:
        _post_paid(client, id=order_id, name=f"#{order_id}")

    def processed() -> list[int]:
        return list(
            WebhookDelivery.objects.filter(status=DeliveryStatus.PROCESSED)
            .order_by("id")
            .values_list("id", flat=True)
        )

    ids = list(WebhookDelivery.objects.order_by("received_at", "id").values_list("id", flat=True))

    assert webhooks_process_ready() == 10
    assert processed() == ids[:10]
    assert sorted(Order.objects.values_list("shopify_id", flat=True)) == order_ids[:10]
    assert webhooks_process_ready() == 10
    assert processed() == ids[:20]
    assert webhooks_process_ready() == 5
    assert processed() == ids
    assert webhooks_process_ready() == 0
    assert sorted(Order.objects.values_list("shopify_id", flat=True)) == order_ids


@pytest.mark.django_db
def test_a_legacy_webhook_job_processes_its_delivery_once(client, shop_a, monkeypatch) -> None:
    _attach_sample_product(shop_a)
    delivery = _post_paid(client)
    # Run only django-tasks jobs, as if the queue had not reached the row yet: the job itself
    # must process it.
    monkeypatch.setattr(worker, "queues_drain_once", lambda: 0)

    # As an older version queued it, for a delivery still waiting.
    first = webhook_process_task.enqueue(delivery_id=delivery.pk)
    assert worker.jobs_run_pending() == 1
    first.refresh()
    assert (first.status, first.return_value) == ("SUCCESSFUL", "processed")
    delivery.refresh_from_db()
    assert (delivery.status, delivery.attempts, delivery.outcome) == (
        DeliveryStatus.PROCESSED,
        1,
        "Delivered",
    )
    assert EmailLog.objects.count() == 1

    # Run again (a retry the older version had queued too): nothing to do, nothing changes.
    again = webhook_process_task.enqueue(delivery_id=delivery.pk, attempt=2)
    assert worker.jobs_run_pending() == 1
    again.refresh()
    assert (again.status, again.return_value) == ("SUCCESSFUL", "nothing to do")
    delivery.refresh_from_db()
    assert (delivery.status, delivery.attempts) == (DeliveryStatus.PROCESSED, 1)
    assert Order.objects.count() == 1
    assert EmailLog.objects.count() == 1
    assert DBTaskResult.objects.filter(status="READY").count() == 0


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("shop", "topic", "outcome"),
    [
        ("stranger.myshopify.com", "orders/paid", "Unknown shop"),
        (SHOP, "products/update", "Topic products/update is not handled"),
    ],
)
def test_an_unknown_shop_or_topic_is_ignored_at_intake_and_never_claimed(
    client, shop_a, shop, topic, outcome
) -> None:
    response = post_webhook(client, topic=topic, shop=shop, payload=paid_order())
    assert response.status_code == 200

    assert webhooks_claim() == []
    with time_machine.travel(timezone.now() + dt.timedelta(days=1), tick=False):
        assert run_queued() == 0

    delivery = WebhookDelivery.objects.get()
    assert (
        delivery.status,
        delivery.outcome,
        delivery.attempts,
        delivery.claimed_at,
        delivery.processed_at,
    ) == (DeliveryStatus.IGNORED, outcome, 0, None, None)
    assert Order.objects.count() == 0
    assert EmailLog.objects.count() == 0
    assert DBTaskResult.objects.count() == 0


@pytest.mark.django_db(transaction=True)
def test_a_duplicate_outside_any_transaction_is_answered_and_recorded_once(shop_a) -> None:
    # As in production: no transaction around the request, so on PostgreSQL the INSERT runs on
    # its own (autocommit) and its unique violation must leave the connection usable.
    client = Client()
    first = post_webhook(
        client, topic="orders/paid", shop=SHOP, payload=paid_order(), webhook_id="same"
    )
    again = post_webhook(
        client, topic="orders/paid", shop=SHOP, payload=paid_order(), webhook_id="same"
    )
    other = post_webhook(
        client, topic="orders/paid", shop=SHOP, payload=paid_order(), webhook_id="other"
    )

    assert [(r.status_code, r.content) for r in (first, again, other)] == [
        (200, b"received"),
        (200, b"duplicate"),
        (200, b"received"),
    ]
    assert sorted(WebhookDelivery.objects.values_list("webhook_id", flat=True)) == [
        "other",
        "same",
    ]
