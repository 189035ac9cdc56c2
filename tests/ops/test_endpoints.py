"""/readyz for load balancers and /metrics for Prometheus."""

from __future__ import annotations

import datetime as dt
from unittest import mock

import pytest
from django.test import Client
from django.utils import timezone
from django_tasks_db.models import DBTaskResult

from imprint.delivery.models import DownloadEvent
from imprint.delivery.services import grants_issue
from imprint.emails.models import EmailLog, EmailStatus
from imprint.orders.models import SyncRun
from imprint.shopify.models import DeliveryStatus, WebhookDelivery
from tests.factories import (
    AttachmentFactory,
    DigitalFileFactory,
    LineItemFactory,
    OrderFactory,
    ShopFactory,
)

pytestmark = pytest.mark.django_db


def test_readyz_is_ready_when_database_and_storage_answer(client: Client) -> None:
    response = client.get("/readyz")

    assert response.status_code == 200
    assert response.json() == {"status": "ready", "database": "ok", "storage": "ok"}


def test_readyz_is_503_when_storage_cannot_be_written(client: Client, settings, tmp_path) -> None:
    blocked = tmp_path / "not-a-directory"
    blocked.write_text("a file where the storage directory should be")
    settings.STORAGES = {
        **settings.STORAGES,
        "default": {
            "BACKEND": "django.core.files.storage.FileSystemStorage",
            "OPTIONS": {"location": str(blocked / "files")},
        },
    }

    response = client.get("/readyz")

    assert response.status_code == 503
    assert response.json() == {"status": "unavailable", "database": "ok", "storage": "unreachable"}


def test_readyz_is_503_when_the_database_fails(client: Client) -> None:
    with mock.patch("imprint.ops.selectors.database_reachable", return_value=False):
        response = client.get("/readyz")

    assert response.status_code == 503
    assert response.json()["database"] == "unreachable"


def _metric_lines(client: Client, **headers: str) -> list[str]:
    response = client.get("/metrics", **headers)
    assert response.status_code == 200
    assert response["Content-Type"] == "text/plain; version=0.0.4; charset=utf-8"
    return response.content.decode().splitlines()


def test_metrics_count_webhooks_jobs_emails_downloads_and_sync_lag(client: Client) -> None:
    now = timezone.now()
    shop = ShopFactory(domain="lagging.myshopify.com")
    ShopFactory(domain="never-synced.myshopify.com")
    for index, status in enumerate(
        [DeliveryStatus.PROCESSED, DeliveryStatus.PROCESSED, DeliveryStatus.FAILED]
    ):
        WebhookDelivery.objects.create(
            webhook_id=f"w{index}",
            topic="orders/paid",
            shop_domain=shop.domain,
            shop=shop,
            body="{}",
            status=status,
        )
    file = DigitalFileFactory(shop=shop)
    order = OrderFactory(shop=shop)
    line = LineItemFactory(order=order)
    AttachmentFactory(shop=shop, file=file, product_id=line.product_id)
    [grant] = grants_issue(order=order)
    DownloadEvent.objects.create(grant=grant, range_start=0, range_end=99, bytes_charged=100)
    EmailLog.objects.create(
        shop=shop, order=order, kind="delivery", to="a@example.com", status=EmailStatus.SENT
    )
    EmailLog.objects.create(
        shop=shop, order=order, kind="resend", to="a@example.com", status=EmailStatus.FAILED
    )
    SyncRun.objects.create(
        shop=shop,
        trigger=SyncRun.Trigger.SCHEDULE,
        status=SyncRun.Status.SUCCEEDED,
        window_start=now - dt.timedelta(days=3),
        started_at=now - dt.timedelta(seconds=130),
        heartbeat_at=now - dt.timedelta(seconds=120),
        finished_at=now - dt.timedelta(seconds=120),
    )
    jobs_before = DBTaskResult.objects.count()

    lines = _metric_lines(client)

    assert 'imprint_webhooks_received_total{status="processed"} 2' in lines
    assert 'imprint_webhooks_received_total{status="failed"} 1' in lines
    assert 'imprint_webhooks_received_total{status="received"} 0' in lines
    assert 'imprint_emails{status="sent"} 1' in lines
    assert 'imprint_emails{status="failed"} 1' in lines
    assert 'imprint_emails{status="queued"} 0' in lines
    assert f'imprint_jobs{{status="ready"}} {jobs_before}' in lines  # grants_issue queues nothing
    assert 'imprint_jobs{status="failed"} 0' in lines
    assert "imprint_downloads_total 1" in lines
    assert "imprint_download_bytes_total 100" in lines
    assert "# TYPE imprint_sync_lag_seconds gauge" in lines
    [lag] = [line for line in lines if line.startswith("imprint_sync_lag_seconds{")]
    name, value = lag.rsplit(" ", 1)
    assert name == 'imprint_sync_lag_seconds{shop="lagging.myshopify.com"}'
    assert 120 <= float(value) < 180


def test_metrics_count_queued_and_failed_jobs(client: Client) -> None:
    from imprint.emails.tasks import email_send_task  # a real job, queued as the pipeline does

    before = DBTaskResult.objects.count()
    email_send_task.enqueue(email_id=123456)

    lines = _metric_lines(client)

    assert f'imprint_jobs{{status="ready"}} {before + 1}' in lines
    [oldest] = [line for line in lines if line.startswith("imprint_jobs_oldest_ready_seconds ")]
    assert 0 <= float(oldest.split()[1]) < 60


def test_metrics_refuse_remote_clients_without_a_token(client: Client) -> None:
    response = client.get("/metrics", REMOTE_ADDR="203.0.113.9")

    assert response.status_code == 403
    assert b"imprint_" not in response.content


def test_metrics_refuse_a_proxied_request_from_loopback(client: Client) -> None:
    response = client.get("/metrics", HTTP_X_FORWARDED_FOR="203.0.113.9")

    assert response.status_code == 403


def test_metrics_with_a_token_need_the_bearer_token(client: Client, settings) -> None:
    settings.METRICS_TOKEN = "s3cret-metrics-token"

    refused = client.get("/metrics")
    wrong = client.get("/metrics", HTTP_AUTHORIZATION="Bearer nope")
    allowed = client.get(
        "/metrics", HTTP_AUTHORIZATION="Bearer s3cret-metrics-token", REMOTE_ADDR="203.0.113.9"
    )

    assert refused.status_code == 401
    assert refused["WWW-Authenticate"] == 'Bearer realm="metrics"'
    assert wrong.status_code == 401
    assert allowed.status_code == 200
    assert b"imprint_webhooks_received_total" in allowed.content


def _gauge(lines: list[str], name: str) -> float:
    [line] = [line for line in lines if line.startswith(f"{name} ")]
    return float(line.split()[1])


def test_metrics_tell_how_long_the_oldest_due_delivery_and_email_have_waited(
    client: Client,
) -> None:
    now = timezone.now()
    shop = ShopFactory()
    lines = _metric_lines(client)
    assert _gauge(lines, "imprint_webhooks_oldest_waiting_seconds") == 0
    assert _gauge(lines, "imprint_emails_oldest_waiting_seconds") == 0

    waiting = WebhookDelivery.objects.create(
        webhook_id="waiting",
        topic="orders/paid",
        shop_domain=shop.domain,
        shop=shop,
        body="{}",
        status=DeliveryStatus.RECEIVED,
    )
    WebhookDelivery.objects.filter(pk=waiting.pk).update(received_at=now - dt.timedelta(seconds=90))
    # A retry waiting for its back-off is not late: it is not due yet.
    WebhookDelivery.objects.create(
        webhook_id="backing-off",
        topic="orders/paid",
        shop_domain=shop.domain,
        shop=shop,
        body="{}",
        status=DeliveryStatus.RECEIVED,
        next_attempt_at=now + dt.timedelta(hours=1),
    )
    order = OrderFactory(shop=shop)
    email = EmailLog.objects.create(shop=shop, order=order, kind="delivery", to="a@example.com")
    EmailLog.objects.filter(pk=email.pk).update(created_at=now - dt.timedelta(hours=2))
    # A retry that became due 30 s ago has waited 30 s, however old the email is.
    retried = EmailLog.objects.create(shop=shop, order=order, kind="resend", to="a@example.com")
    EmailLog.objects.filter(pk=retried.pk).update(
        created_at=now - dt.timedelta(days=1), next_attempt_at=now - dt.timedelta(seconds=30)
    )

    lines = _metric_lines(client)

    assert 90 <= _gauge(lines, "imprint_webhooks_oldest_waiting_seconds") < 150
    assert 7200 <= _gauge(lines, "imprint_emails_oldest_waiting_seconds") < 7260

    EmailLog.objects.filter(pk=email.pk).update(status=EmailStatus.SENT)
    lines = _metric_lines(client)
    assert 30 <= _gauge(lines, "imprint_emails_oldest_waiting_seconds") < 90
