"""Imprint on many processes at once, as on many machines: several `imprint web`, several
`imprint worker` and two `imprint scheduler` against one database, a burst of signed paid-order
webhooks, a real SMTP server. Every order is delivered exactly once, no delivery or email is
processed twice, and no periodic job fires twice in one interval.

On PostgreSQL (the many-machine setup) with more processes, more orders and psycopg's connection
pool; on SQLite (one machine) with fewer, so that it runs in every CI pass, not skipped.
"""

from __future__ import annotations

import datetime as dt
import itertools
import json
import re
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from django.db import connection
from django_tasks_db.models import DBTaskResult

from imprint.catalog.models import Attachment, DigitalFile
from imprint.emails.models import EmailLog, EmailStatus
from imprint.orders.models import Order
from imprint.shopify.models import DeliveryStatus, WebhookDelivery
from imprint.shops.models import Shop
from tests.factories import DigitalFileFactory, ShopFactory
from tests.processes import Processes, child_env, free_port, healthy, wait_until
from tests.shopify.helpers import SECRET, paid_order, webhook_post_http
from tests.smtp import SMTPServer

pytestmark = pytest.mark.slow

SHOP = "burst.myshopify.com"
LEASE_SECONDS = 8.0  # the reaper then runs every 2 s: several runs to check within the test
_FIRED = re.compile(r"periodic job (\S+) fired at (\S+)")
_SENT = re.compile(r"email (\d+) sent to order (\d+)")


def _scale() -> dict[str, int]:
    if connection.vendor == "postgresql":
        return {"orders": 200, "web": 2, "workers": 3, "schedulers": 2}
    # SQLite has one writer at a time: fewer processes and orders, the same checks.
    return {"orders": 60, "web": 1, "workers": 2, "schedulers": 2}


def test_a_burst_of_orders_is_delivered_exactly_once_by_many_processes(
    transactional_db, processes: Processes, smtp_server: SMTPServer, tmp_path: Path
) -> None:
    scale = _scale()
    order_template = paid_order()
    product_id = order_template["line_items"][0]["product_id"]
    shop: Shop = ShopFactory(domain=SHOP, name="Burst Prints", email="help@burst.example")
    file: DigitalFile = DigitalFileFactory(shop=shop, name="poster.pdf")
    Attachment.objects.create(shop=shop, file=file, product_id=product_id)
    env = child_env(
        IMPRINT_EMAIL_URL=f"smtp://127.0.0.1:{smtp_server.port}",
        IMPRINT_WORKER_POLL_SECONDS="0.05",
        IMPRINT_JOB_LEASE_SECONDS=str(LEASE_SECONDS),
        IMPRINT_SYNC_INTERVAL_MINUTES="0",  # no order sync: it would call Shopify
        IMPRINT_WEB_WORKERS="1",
        IMPRINT_WEB_THREADS="4",
        SHOPIFY_API_SECRET=SECRET,
        **({"IMPRINT_DATABASE_POOL_SIZE": "4"} if connection.vendor == "postgresql" else {}),
    )
    ports = [free_port() for _ in range(scale["web"])]
    webs = [processes.start("web", "--port", str(port), env=env) for port in ports]
    workers = [processes.start("worker", env=env) for _ in range(scale["workers"])]
    schedulers = [
        processes.start("scheduler", env={**env, "IMPRINT_LOG_LEVEL": "DEBUG"})
        for _ in range(scale["schedulers"])
    ]
    started = dt.datetime.now(dt.UTC)
    wait_until(
        lambda: all(healthy(port) for port in ports) or not all(w.alive() for w in webs),
        timeout=60,
        what="every imprint web to answer",
    )
    assert all(web.alive() for web in webs), processes.outputs()

    # The burst: every order posted at once over the web processes, round robin.
    bodies = []
    for index in range(scale["orders"]):
        order = {**order_template, "id": 7_000_000_000 + index, "name": f"#B{index}"}
        order["email"] = f"customer{index}@example.com"
        bodies.append(json.dumps(order).encode())
    with ThreadPoolExecutor(max_workers=16) as pool:
        statuses = list(
            pool.map(
                lambda i: webhook_post_http(
                    ports[i % len(ports)], shop=SHOP, body=bodies[i], webhook_id=f"burst-{i}"
                )[0],
                range(len(bodies)),
            )
        )
    assert statuses == [200] * len(bodies), processes.outputs()

    messages = smtp_server.wait_for(scale["orders"], timeout=90)
    # Every delivery and email finished, so nothing can still be sending a second message.
    wait_until(
        lambda: (
            not WebhookDelivery.objects.filter(
                status__in=[DeliveryStatus.RECEIVED, DeliveryStatus.PROCESSING]
            ).exists()
            and not EmailLog.objects.filter(
                status__in=[EmailStatus.QUEUED, EmailStatus.SENDING]
            ).exists()
        ),
        timeout=30,
        what="every delivery and email to finish",
    )
    # Two reaper intervals more, so the schedulers have fired several times.
    wait_until(
        lambda: dt.datetime.now(dt.UTC) - started > dt.timedelta(seconds=3 * LEASE_SECONDS / 4 * 2),
        timeout=30,
        what="the schedulers to run a while",
    )
    for child in [*workers, *schedulers, *webs]:
        assert child.alive(), processes.outputs()
        assert child.stop(timeout=40) == 0, processes.outputs()

    # Exactly one message per order, to that order's customer.
    recipients = sorted(message["To"] for message in smtp_server.messages)
    assert recipients == sorted(f"customer{i}@example.com" for i in range(scale["orders"]))
    assert len(messages) == scale["orders"]
    assert Order.objects.filter(shop=shop).count() == scale["orders"]
    emails = EmailLog.objects.filter(shop=shop)
    assert emails.count() == scale["orders"]
    # No worker died, so no email was claimed twice: one attempt each, and it was sent.
    assert set(emails.values_list("status", "attempts")) == {(EmailStatus.SENT, 1)}
    # Each message the server received is one email row's, and no row's twice.
    assert sorted(str(message["Message-ID"]) for message in smtp_server.messages) == sorted(
        emails.values_list("message_id", flat=True)
    )

    # No delivery was processed twice: each was claimed once and processed.
    deliveries = WebhookDelivery.objects.filter(shop=shop)
    assert deliveries.count() == scale["orders"]
    assert set(deliveries.values_list("status", "attempts", "outcome")) == {
        (DeliveryStatus.PROCESSED, 1, "Delivered")
    }
    # The rows are the jobs: no django-tasks job was queued for a delivery or an email.
    assert DBTaskResult.objects.count() == 0

    # The work was shared: more than one worker sent emails, and each email was sent by one.
    sent = [
        (worker.pid, int(email_id))
        for worker in workers
        for email_id, _ in _SENT.findall(worker.output())
    ]
    assert sorted(email_id for _, email_id in sent) == sorted(emails.values_list("pk", flat=True))
    assert len({pid for pid, _ in sent}) > 1

    # No periodic job fired twice in one interval, however many schedulers ran.
    fired = sorted(
        dt.datetime.fromisoformat(at)
        for scheduler in schedulers
        for name, at in _FIRED.findall(scheduler.output())
        if name == "jobs.reap"
    )
    assert len(fired) >= 3, processes.outputs()
    gaps = [(later - earlier).total_seconds() for earlier, later in itertools.pairwise(fired)]
    assert min(gaps) >= LEASE_SECONDS / 4, fired
