"""Intake behind psycopg's connection pool: when PostgreSQL drops every connection (a restart, a
failover), the next webhook is still recorded, not answered with a 500 for each connection the
pool still held."""

from __future__ import annotations

import json
import uuid

import pytest
from django.db import connection

from imprint.shopify.models import DeliveryStatus, WebhookDelivery
from tests.concurrency import at_once
from tests.factories import ShopFactory
from tests.processes import Processes, child_env, free_port, healthy, wait_until
from tests.shopify.helpers import SECRET, paid_order, webhook_post_http

SHOP = "pooled.myshopify.com"
THREADS = 4


def _post(port: int, webhook_id: str) -> tuple[int, bytes]:
    return webhook_post_http(
        port, shop=SHOP, body=json.dumps(paid_order()).encode(), webhook_id=webhook_id
    )


def test_intake_survives_the_database_dropping_every_pooled_connection(
    transactional_db, processes: Processes
) -> None:
    if connection.vendor != "postgresql":
        pytest.skip("PostgreSQL only: the pool is psycopg's")
    ShopFactory(domain=SHOP, name="Pooled Prints")
    port = free_port()
    web = processes.start(
        "web",
        "--port",
        str(port),
        env=child_env(
            SHOPIFY_API_SECRET=SECRET,
            IMPRINT_DATABASE_POOL_SIZE=str(THREADS),
            IMPRINT_WEB_WORKERS="1",
            IMPRINT_WEB_THREADS=str(THREADS),
        ),
    )
    wait_until(lambda: healthy(port) or not web.alive(), timeout=60, what="imprint web")
    # Requests at once, so that the pool opens several connections and keeps them idle.
    assert at_once(lambda n: _post(port, f"before-{n}"), THREADS * 2) == [(200, b"received")] * (
        THREADS * 2
    )

    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
            "WHERE datname = current_database() AND pid <> pg_backend_pid()"
        )
        (dropped,) = cursor.fetchone()
    assert dropped >= 2  # the pool's idle connections, all dead now

    after = [_post(port, f"after-{uuid.uuid4()}") for _ in range(3)]

    assert after == [(200, b"received")] * 3
    assert WebhookDelivery.objects.filter(status=DeliveryStatus.RECEIVED).count() == (
        THREADS * 2 + 3
    )
