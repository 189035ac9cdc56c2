"""What an operator watches, read with a handful of aggregate queries (one GROUP BY per table).

Counts are whole-table totals: Prometheus turns them into rates (`rate(...[5m])`), so Imprint keeps
no counters in memory and every web process answers the same numbers.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass, field

from django.db import connection
from django.db.models import Count, Max, Min, Sum
from django.db.models.functions import Coalesce
from django.utils import timezone
from django_tasks_db.models import DBTaskResult

from imprint.catalog.storage import storage_reachable
from imprint.delivery.models import DownloadEvent
from imprint.emails.models import EmailLog, EmailStatus
from imprint.jobs.models import PeriodicJob
from imprint.jobs.rows import rows_due
from imprint.orders.models import SyncRun
from imprint.shopify.models import DeliveryStatus, WebhookDelivery
from imprint.shops.models import Shop

JOB_STATUSES = ("READY", "RUNNING", "FAILED", "SUCCESSFUL")


def database_reachable() -> bool:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
    except Exception:
        return False
    return True


def readiness() -> dict[str, bool]:
    """Whether this process can do its work: the database answers and storage is usable."""
    return {"database": database_reachable(), "storage": storage_reachable()}


@dataclass
class Metric:
    name: str
    kind: str  # "counter" or "gauge"
    help: str
    samples: list[tuple[dict[str, str], float]] = field(default_factory=list)


def _by_status(rows: Iterable[dict[str, object]], statuses: Iterable[str]) -> dict[str, int]:
    counts = dict.fromkeys(statuses, 0)
    for row in rows:
        counts[str(row["status"])] = int(row["n"])  # type: ignore[call-overload]
    return counts


def metrics_collect(*, now: dt.datetime | None = None) -> list[Metric]:
    """Every metric /metrics exposes, read now."""
    now = now or timezone.now()
    metrics: list[Metric] = []

    webhooks = _by_status(
        WebhookDelivery.objects.values("status").annotate(n=Count("id")).order_by(),
        DeliveryStatus.values,
    )
    metrics.append(
        Metric(
            "imprint_webhooks_received_total",
            "counter",
            "Webhook deliveries recorded, by what became of them (received: not processed yet).",
            [({"status": status}, n) for status, n in webhooks.items()],
        )
    )

    # The two queues whose rows are their own jobs: how long the oldest due row has waited.
    due_webhooks = WebhookDelivery.objects.filter(
        rows_due(waiting=DeliveryStatus.RECEIVED, now=now)
    )
    due_emails = EmailLog.objects.filter(rows_due(waiting=EmailStatus.QUEUED, now=now))
    for name, what, rows, since in (
        (
            "imprint_webhooks_oldest_waiting_seconds",
            "webhook delivery",
            due_webhooks,
            "received_at",
        ),
        ("imprint_emails_oldest_waiting_seconds", "email", due_emails, "created_at"),
    ):
        oldest = rows.aggregate(oldest=Min(Coalesce("next_attempt_at", since)))["oldest"]
        metrics.append(
            Metric(
                name,
                "gauge",
                f"Seconds the oldest {what} due now has waited for a worker (0: none waiting).",
                [({}, max((now - oldest).total_seconds(), 0.0) if oldest else 0.0)],
            )
        )

    jobs = _by_status(
        DBTaskResult.objects.values("status").annotate(n=Count("id")).order_by(), JOB_STATUSES
    )
    metrics.append(
        Metric(
            "imprint_jobs",
            "gauge",
            "Background jobs in the job table, by status (READY: queued).",
            [({"status": status.lower()}, n) for status, n in jobs.items()],
        )
    )
    # ready(): READY and due now (not waiting for a retry's back-off).
    waiting = DBTaskResult.objects.ready().aggregate(oldest=Min("enqueued_at"))["oldest"]
    metrics.append(
        Metric(
            "imprint_jobs_oldest_ready_seconds",
            "gauge",
            "Age of the oldest job that is due and waits for a worker (0: none waiting).",
            [({}, max((now - waiting).total_seconds(), 0.0) if waiting else 0.0)],
        )
    )

    emails = _by_status(
        EmailLog.objects.values("status").annotate(n=Count("id")).order_by(), EmailStatus.values
    )
    metrics.append(
        Metric(
            "imprint_emails",
            "gauge",
            "Delivery emails by status (sent and failed only grow; queued and sending are now).",
            [({"status": status}, n) for status, n in emails.items()],
        )
    )

    downloads = DownloadEvent.objects.aggregate(n=Count("id"), nbytes=Sum("bytes_charged"))
    metrics.append(
        Metric(
            "imprint_downloads_total",
            "counter",
            "File responses charged.",
            [({}, downloads["n"] or 0)],
        )
    )
    metrics.append(
        Metric(
            "imprint_download_bytes_total",
            "counter",
            "Bytes charged to download links.",
            [({}, downloads["nbytes"] or 0)],
        )
    )

    periodic = PeriodicJob.objects.values_list("name", "last_run_at")
    metrics.append(
        Metric(
            "imprint_periodic_last_run_age_seconds",
            "gauge",
            "Seconds since a periodic job last fired (a scheduler is down when this grows).",
            [
                ({"job": name}, (now - last).total_seconds())
                for name, last in periodic
                if last is not None
            ],
        )
    )

    # The newest successful sync of each installed store: one grouped query.
    synced = dict(
        SyncRun.objects.filter(status=SyncRun.Status.SUCCEEDED, shop__uninstalled_at__isnull=True)
        .values("shop__domain")
        .annotate(last=Max("finished_at"))
        .values_list("shop__domain", "last")
    )
    installed = Shop.objects.filter(uninstalled_at__isnull=True).values_list("domain", flat=True)
    metrics.append(
        Metric(
            "imprint_sync_lag_seconds",
            "gauge",
            "Seconds since the last successful order sync of each installed store "
            "(absent: never synced).",
            [
                ({"shop": domain}, (now - synced[domain]).total_seconds())
                for domain in installed
                if synced.get(domain) is not None
            ],
        )
    )
    return metrics


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')


def metrics_text(metrics: list[Metric]) -> str:
    """The Prometheus text exposition format (version 0.0.4)."""
    lines = []
    for metric in metrics:
        lines.append(f"# HELP {metric.name} {metric.help}")
        lines.append(f"# TYPE {metric.name} {metric.kind}")
        for labels, value in metric.samples:
            label_text = ",".join(f'{key}="{_escape(val)}"' for key, val in labels.items())
            lines.append(
                f"{metric.name}{{{label_text}}} {value:g}" if labels else f"{metric.name} {value:g}"
            )
    return "\n".join(lines) + "\n"
