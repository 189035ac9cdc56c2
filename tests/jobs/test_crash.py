"""Invariant 2: a worker killed in the middle of a job loses nothing. Real processes, a real
SMTP server, SIGKILL."""

from __future__ import annotations

import datetime as dt
import signal

import pytest
from django.utils import timezone
from django_tasks_db.models import DBTaskResult

from imprint.emails.models import EmailLog, EmailStatus
from imprint.jobs.models import PeriodicJob
from imprint.orders.data import LineItemData, OrderData
from imprint.orders.services import order_ingest
from tests.factories import AttachmentFactory, ShopFactory
from tests.processes import Processes, child_env, wait_until
from tests.smtp import SMTPServer

pytestmark = pytest.mark.slow

BOUND_SECONDS = 60.0


def _paid_order_with_a_file() -> EmailLog:
    shop = ShopFactory(domain="shop-a.myshopify.com", name="Shop A")
    attachment = AttachmentFactory(file__shop=shop, file__name="guide.pdf", product_id=7001)
    now = timezone.now() - dt.timedelta(minutes=1)
    data = OrderData(
        shopify_id=820982911946154508,
        name="#1001",
        email="jon@example.com",
        first_name="Jon",
        last_name="Snow",
        financial_status="paid",
        cancelled_at=None,
        test=False,
        created_at=now,
        updated_at=now,
        line_items=(
            LineItemData(
                shopify_id=866550311766439020,
                product_id=attachment.product_id,
                variant_id=None,
                title="Snowboard Guide",
            ),
        ),
    )
    result = order_ingest(shop=shop, data=data, source="test")
    assert result.delivered is True
    return EmailLog.objects.get(order_id=result.order_id)


def _email_status(email: EmailLog) -> str:
    return EmailLog.objects.get(pk=email.pk).status


def test_a_worker_killed_mid_send_delivers_the_email_exactly_once(
    transactional_db,
    smtp_server: SMTPServer,
    processes: Processes,
) -> None:
    email = _paid_order_with_a_file()
    # The row is the job: no django-tasks job is queued for the email.
    assert not DBTaskResult.objects.exists()
    env = child_env(
        # The lease of a claim, as the next worker judges it: short, so the test need not wait
        # five minutes for the dead worker's claim to run out.
        IMPRINT_JOB_LEASE_SECONDS="2",
        IMPRINT_WORKER_POLL_SECONDS="0.1",
        IMPRINT_EMAIL_URL=f"smtp://127.0.0.1:{smtp_server.port}?timeout=20",
    )

    # The mail server holds the message: the worker is inside the send, mid-SMTP, when it dies.
    smtp_server.hold()
    doomed = processes.start("worker", env=env)
    try:
        wait_until(
            lambda: _email_status(email) == EmailStatus.SENDING,
            timeout=BOUND_SECONDS,
            what="the send to start",
        )
        smtp_server.wait_until_held(timeout=BOUND_SECONDS)
    except TimeoutError:
        pytest.fail(processes.outputs())
    doomed.kill()
    # The server saw the client vanish before it answered DATA: nothing was delivered.
    wait_until(
        lambda: smtp_server.abandoned == 1,
        timeout=BOUND_SECONDS,
        what="the server to drop the session",
    )
    smtp_server.release()
    assert smtp_server.messages == []
    # The dead worker's claim is still on the row: SENDING, one attempt, until its lease ends.
    claimed = EmailLog.objects.get(pk=email.pk)
    assert (claimed.status, claimed.attempts) == (EmailStatus.SENDING, 1)
    assert claimed.claimed_at is not None

    # Restart: a new worker alone (no reaper needed) claims the row once the lease has run out.
    worker = processes.start("worker", env=env)
    try:
        wait_until(
            lambda: _email_status(email) == EmailStatus.SENT,
            timeout=BOUND_SECONDS,
            what="the email to be sent",
        )
    except TimeoutError:
        pytest.fail(processes.outputs())

    [message] = smtp_server.messages
    assert message["To"] == "jon@example.com"
    sent = EmailLog.objects.get(pk=email.pk)
    assert (sent.status, sent.attempts) == (EmailStatus.SENT, 2)
    # Claimed again only after the dead worker's lease (2 s) ran out.
    assert sent.claimed_at >= claimed.claimed_at + dt.timedelta(seconds=2)
    assert worker.stop() == 0, processes.outputs()
    assert len(smtp_server.messages) == 1
    assert not DBTaskResult.objects.exists()


def test_worker_and_scheduler_stop_cleanly_on_sigterm_and_sigint(
    transactional_db,
    processes: Processes,
) -> None:
    env = child_env(IMPRINT_WORKER_POLL_SECONDS="0.1", IMPRINT_JOB_LEASE_SECONDS="2")
    worker = processes.start("worker", env=env)
    scheduler = processes.start("scheduler", env=env)
    # Both say so once their signal handlers are in place.
    try:
        wait_until(
            lambda: " started: polling every 0.1s" in worker.output(),
            timeout=BOUND_SECONDS,
            what="the worker",
        )
        wait_until(
            lambda: "scheduler started: jobs.reap every 0.5s" in scheduler.output(),
            timeout=BOUND_SECONDS,
            what="the scheduler",
        )
        wait_until(
            lambda: PeriodicJob.objects.filter(name="jobs.reap").exists(),
            timeout=BOUND_SECONDS,
            what="a reap",
        )
    except TimeoutError:
        pytest.fail(processes.outputs())

    worker_id = worker.output().split("worker ", 1)[1].split()[0]
    assert worker.stop(signum=signal.SIGTERM) == 0, processes.outputs()
    assert scheduler.stop(signum=signal.SIGINT) == 0, processes.outputs()
    assert f"worker {worker_id} stopped" in worker.output()
    assert "scheduler stopped" in scheduler.output()
    assert "Traceback" not in processes.outputs()
