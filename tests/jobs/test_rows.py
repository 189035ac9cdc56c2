"""A worker's claim must find the rows still to do through an index, whatever the table keeps:
a scan of every delivery ever received (each with its body) grew the claim's cost with the
table and capped the whole pipeline's throughput."""

from __future__ import annotations

import pytest
from django.db import connection
from django.utils import timezone

from imprint.emails.models import EmailLog, EmailStatus
from imprint.jobs.rows import rows_ready
from imprint.shopify.models import DeliveryStatus, WebhookDelivery

pytestmark = pytest.mark.django_db


def _plan(sql: str, params: tuple[object, ...]) -> str:
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            # The plan the database would choose if the table were large: sequential scans off.
            cursor.execute("SET LOCAL enable_seqscan = off")
            cursor.execute("EXPLAIN " + sql, params)
            return "\n".join(row[0] for row in cursor.fetchall())
        cursor.execute("EXPLAIN QUERY PLAN " + sql, params)
        return "\n".join(str(row[-1]) for row in cursor.fetchall())


@pytest.mark.parametrize(
    ("model", "waiting", "claimed"),
    [
        (WebhookDelivery, DeliveryStatus.RECEIVED, DeliveryStatus.PROCESSING),
        (EmailLog, EmailStatus.QUEUED, EmailStatus.SENDING),
    ],
)
def test_the_claim_finds_rows_through_an_index(model, waiting, claimed) -> None:
    ready = model.objects.filter(rows_ready(waiting=waiting, claimed=claimed, now=timezone.now()))
    sql, params = ready.order_by("pk").values_list("pk", flat=True)[:10].query.sql_with_params()

    plan = _plan(sql, params)

    table = model._meta.db_table
    assert f"SCAN {table}" not in plan  # SQLite: a full scan of the table
    assert "Seq Scan" not in plan  # PostgreSQL
    assert "INDEX" in plan.upper()
