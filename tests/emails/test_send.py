"""The send job: claims, retries, permanent failures, cancellation and the order's status."""

from __future__ import annotations

import datetime as dt
import socket
import threading

import pytest
import time_machine
from django.db import connection
from django.utils import timezone

from imprint.delivery.models import DownloadGrant, Restriction
from imprint.emails.models import EmailLog, EmailStatus
from imprint.emails.services import NO_ADDRESS_ERROR, _sanitize, email_send
from imprint.orders.models import DeliveryStatus, Order, OrderActivity
from tests.emails.helpers import later, order_delivered, tasks_pending, tasks_run_ready

pytestmark = pytest.mark.django_db

REFUSED_421 = (
    "The mail server is temporarily refusing mail for jon@example.com: "
    "421 4.3.2 Service not available, closing transmission channel"
)


def _activity(order: Order) -> list[tuple[str, str, str]]:
    return list(
        OrderActivity.objects.filter(order=order)
        .order_by("id")
        .values_list("actor", "action", "detail")
    )


def test_queued_job_sends_the_email_and_order_becomes_processed(smtp_settings, shop_a):
    order, email = order_delivered(shop_a)

    assert tasks_run_ready() == 1

    email.refresh_from_db()
    order.refresh_from_db()
    assert len(smtp_settings.messages) == 1
    assert email.status == EmailStatus.SENT
    assert email.attempts == 1
    assert email.last_error == ""
    assert email.sent_at is not None
    assert order.delivery_status == DeliveryStatus.PROCESSED
    assert _activity(order) == [
        ("Imprint", "email_sent", "Delivery email sent to jon@example.com.")
    ]
    assert tasks_pending() == []


def test_job_run_twice_sends_one_email(smtp_settings, shop_a):
    order, email = order_delivered(shop_a)

    email_send(email_id=email.pk)
    email_send(email_id=email.pk)

    email.refresh_from_db()
    assert len(smtp_settings.messages) == 1
    assert email.status == EmailStatus.SENT
    assert email.attempts == 1
    assert len(_activity(order)) == 1


def test_email_being_sent_by_another_worker_is_left_alone(smtp_settings, shop_a, settings):
    _order, email = order_delivered(shop_a)
    claimed_at = timezone.now() - dt.timedelta(seconds=settings.JOB_LEASE_SECONDS - 10)
    EmailLog.objects.filter(pk=email.pk).update(
        status=EmailStatus.SENDING, claimed_at=claimed_at, attempts=1
    )

    email_send(email_id=email.pk)

    email.refresh_from_db()
    assert smtp_settings.messages == []
    assert (email.status, email.attempts, email.claimed_at) == (EmailStatus.SENDING, 1, claimed_at)
    # Looked at again when that worker's lease runs out, in case it died.
    _original, follow_up = sorted(tasks_pending(), key=lambda row: row.enqueued_at)
    assert follow_up.run_after == claimed_at + dt.timedelta(seconds=settings.JOB_LEASE_SECONDS + 1)
    assert follow_up.args_kwargs == {"args": [], "kwargs": {"email_id": email.pk}}


def test_follow_up_after_the_lease_sends_the_email_of_a_dead_worker(
    smtp_settings, shop_a, settings
):
    _order, email = order_delivered(shop_a)
    claimed_at = timezone.now() - dt.timedelta(seconds=1)
    EmailLog.objects.filter(pk=email.pk).update(
        status=EmailStatus.SENDING, claimed_at=claimed_at, attempts=1
    )
    tasks_run_ready()  # the reaper's early re-run: still inside the lease
    assert smtp_settings.messages == []

    with time_machine.travel(
        claimed_at + dt.timedelta(seconds=settings.JOB_LEASE_SECONDS + 2), tick=True
    ):
        assert tasks_run_ready() == 1

    email.refresh_from_db()
    assert len(smtp_settings.messages) == 1
    assert (email.status, email.attempts) == (EmailStatus.SENT, 2)
    assert tasks_pending() == []


def test_job_of_an_email_already_sent_enqueues_nothing(smtp_settings, shop_a):
    _order, email = order_delivered(shop_a)
    tasks_run_ready()

    email_send(email_id=email.pk)

    assert tasks_pending() == []
    assert len(smtp_settings.messages) == 1


def test_code_error_is_recorded_retried_and_raised(smtp_settings, shop_a, monkeypatch):
    _order, email = order_delivered(shop_a)

    def broken(**kwargs):
        raise RuntimeError("template broke")

    monkeypatch.setattr("imprint.emails.services.delivery_email_render", broken)

    with pytest.raises(RuntimeError, match="template broke"):
        email_send(email_id=email.pk)

    email.refresh_from_db()
    assert (email.status, email.attempts) == (EmailStatus.QUEUED, 1)
    assert email.last_error == (
        "Imprint could not send this email because of an internal error (recorded in the server "
        "log). It will try again."
    )
    assert "template broke" not in email.last_error
    assert len(tasks_pending()) == 2  # the original (not run by a worker here) and the retry
    assert smtp_settings.messages == []


def test_email_of_a_worker_killed_past_its_lease_is_sent_again(smtp_settings, shop_a, settings):
    _order, email = order_delivered(shop_a)
    claimed_at = timezone.now() - dt.timedelta(seconds=settings.JOB_LEASE_SECONDS + 1)
    EmailLog.objects.filter(pk=email.pk).update(
        status=EmailStatus.SENDING, claimed_at=claimed_at, attempts=1
    )

    email_send(email_id=email.pk)

    email.refresh_from_db()
    assert len(smtp_settings.messages) == 1
    assert (email.status, email.attempts) == (EmailStatus.SENT, 2)


@pytest.mark.django_db(transaction=True)
def test_concurrent_workers_send_one_email(smtp_settings, shop_a):
    _order, email = order_delivered(shop_a)
    smtp_settings.hold()
    errors: list[BaseException] = []

    def first_worker() -> None:
        try:
            email_send(email_id=email.pk)
        except BaseException as exc:  # surfaced in the main thread below
            errors.append(exc)
        finally:
            connection.close()

    worker = threading.Thread(target=first_worker)
    worker.start()
    try:
        smtp_settings.wait_until_held(timeout=5)
        email_send(email_id=email.pk)  # the second worker finds it claimed
        assert EmailLog.objects.get(pk=email.pk).status == EmailStatus.SENDING
    finally:
        smtp_settings.release()
        worker.join(timeout=10)
    assert not worker.is_alive()
    assert errors == []
    email.refresh_from_db()
    assert len(smtp_settings.messages) == 1
    assert (email.status, email.attempts) == (EmailStatus.SENT, 1)


def test_temporary_refusal_is_retried_and_then_sent_once(smtp_settings, shop_a):
    order, email = order_delivered(shop_a)
    smtp_settings.refuse_with(421)
    before = timezone.now()

    # Time stands still for the first run, so the retry (due 0.01 s later) is not run by it too.
    with time_machine.travel(before, tick=False):
        tasks_run_ready()

    email.refresh_from_db()
    order.refresh_from_db()
    assert smtp_settings.messages == []
    assert email.status == EmailStatus.QUEUED
    assert email.attempts == 1
    assert email.last_error == REFUSED_421
    assert order.delivery_status == DeliveryStatus.PENDING
    [retry] = tasks_pending()
    assert retry.run_after == email.next_attempt_at
    # JOB_RETRY_BASE_SECONDS is 0.01 here: the first retry waits 0.01 to 0.011 s.
    assert before < email.next_attempt_at <= before + dt.timedelta(seconds=0.011)
    assert retry.args_kwargs == {"args": [], "kwargs": {"email_id": email.pk}}

    smtp_settings.accept()
    with time_machine.travel(later(), tick=True):
        assert tasks_run_ready() == 1

    email.refresh_from_db()
    order.refresh_from_db()
    assert len(smtp_settings.messages) == 1
    assert (email.status, email.attempts, email.last_error, email.next_attempt_at) == (
        EmailStatus.SENT,
        2,
        "",
        None,
    )
    assert order.delivery_status == DeliveryStatus.PROCESSED
    assert tasks_pending() == []


def test_retry_waits_for_its_backoff(smtp_settings, shop_a, settings):
    settings.JOB_RETRY_BASE_SECONDS = 60.0
    _order, email = order_delivered(shop_a)
    smtp_settings.refuse_with(451, at="data")

    assert tasks_run_ready() == 1
    smtp_settings.accept()

    email.refresh_from_db()
    assert email.last_error == (
        "The mail server is temporarily refusing mail: 451 4.3.0 Local error in processing, try again later"
    )
    delay = (email.next_attempt_at - email.claimed_at).total_seconds()
    # imprint.jobs.retry.backoff_seconds: the base for the first retry, plus up to 10% jitter.
    assert 59.9 <= delay <= 66.1
    assert tasks_run_ready() == 0  # not due yet
    assert smtp_settings.messages == []
    with time_machine.travel(email.next_attempt_at + dt.timedelta(seconds=1), tick=True):
        assert tasks_run_ready() == 1
    assert len(smtp_settings.messages) == 1


@pytest.mark.parametrize(
    ("code", "at", "error"),
    [
        (
            550,
            "rcpt",
            "The mail server refused the address jon@example.com: 550 5.1.1 Mailbox unavailable",
        ),
        (554, "data", "The mail server rejected the message: 554 5.7.1 Transaction failed"),
    ],
)
def test_permanent_refusal_fails_at_once_without_retry(smtp_settings, shop_a, code, at, error):
    order, email = order_delivered(shop_a)
    smtp_settings.refuse_with(code, at=at)

    tasks_run_ready()

    email.refresh_from_db()
    order.refresh_from_db()
    assert smtp_settings.messages == []
    assert (email.status, email.attempts, email.last_error) == (EmailStatus.FAILED, 1, error)
    assert email.next_attempt_at is None
    assert tasks_pending() == []
    assert order.delivery_status == DeliveryStatus.FAILED
    assert _activity(order) == [
        ("Imprint", "email_failed", f"Delivery email to jon@example.com failed: {error}")
    ]


def test_last_attempt_fails_with_the_error_kept(smtp_settings, shop_a, settings):
    settings.JOB_MAX_ATTEMPTS = 2
    order, email = order_delivered(shop_a)
    smtp_settings.refuse_with(421)

    tasks_run_ready()
    with time_machine.travel(later(), tick=True):
        tasks_run_ready()

    email.refresh_from_db()
    order.refresh_from_db()
    assert smtp_settings.messages == []
    assert email.status == EmailStatus.FAILED
    assert email.attempts == 2
    assert email.last_error == f"Gave up after 2 attempts. Last error: {REFUSED_421}"
    assert tasks_pending() == []
    assert order.delivery_status == DeliveryStatus.FAILED


def test_mail_server_down_is_retried(smtp_settings, shop_a, settings):
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        closed_port = sock.getsockname()[1]
    settings.EMAIL_PORT = closed_port
    _order, email = order_delivered(shop_a)

    email_send(email_id=email.pk)

    email.refresh_from_db()
    assert email.status == EmailStatus.QUEUED
    assert (
        email.last_error
        == f"Could not connect to the mail server at 127.0.0.1:{closed_port}: connection refused."
    )
    assert len(tasks_pending()) == 2  # the original row (not run by a worker here) and the retry


def test_order_without_email_address_fails_with_a_readable_error(smtp_settings, shop_a):
    order, email = order_delivered(shop_a, email="")

    tasks_run_ready()

    email.refresh_from_db()
    order.refresh_from_db()
    assert smtp_settings.messages == []
    assert (email.status, email.attempts, email.last_error) == (
        EmailStatus.FAILED,
        1,
        NO_ADDRESS_ERROR,
    )
    assert (
        NO_ADDRESS_ERROR
        == "The order has no email address. Open the order and resend to a corrected address."
    )
    assert tasks_pending() == []
    assert order.delivery_status == DeliveryStatus.FAILED


def test_order_refunded_before_sending_is_not_emailed(smtp_settings, shop_a):
    order, email = order_delivered(shop_a)
    DownloadGrant.objects.filter(order=order).update(restriction=Restriction.REFUNDED)

    tasks_run_ready()

    email.refresh_from_db()
    order.refresh_from_db()
    assert smtp_settings.messages == []
    assert email.status == EmailStatus.CANCELLED
    assert email.last_error == (
        "Not sent: every download link of this order was restricted (refund, cancellation or the store) "
        "before the email went out."
    )
    assert tasks_pending() == []
    assert order.delivery_status == DeliveryStatus.RESTRICTED
    assert _activity(order) == [
        (
            "Imprint",
            "email_cancelled",
            "Delivery email to jon@example.com not sent: every link is restricted.",
        )
    ]


def test_stored_error_never_shows_the_smtp_password(smtp_settings, shop_a, settings):
    settings.EMAIL_HOST_PASSWORD = "hunter2/secret"
    order, email = order_delivered(shop_a)
    smtp_settings.refuse_with(
        554,
        "5.7.1 no relay for smtp://mailer:hunter2%2Fsecret@mail.example hunter2/secret",
        at="data",
    )

    email_send(email_id=email.pk)

    email.refresh_from_db()
    assert email.last_error == (
        "The mail server rejected the message: 554 5.7.1 no relay for smtp://********@mail.example ********"
    )
    assert "hunter2" not in OrderActivity.objects.get(order=order).detail


def test_sanitize_removes_password_in_every_form(settings):
    settings.EMAIL_HOST_PASSWORD = "p@ss word"
    assert _sanitize("login p@ss word failed, url smtp+tls://u:p%40ss%20word@h:587") == (
        "login ******** failed, url smtp+tls://********@h:587"
    )


def test_resend_after_failure_moves_order_from_failed_to_processed(smtp_settings, shop_a):
    from imprint.emails.services import email_resend

    order, _email = order_delivered(shop_a, email="")
    tasks_run_ready()
    order.refresh_from_db()
    assert order.delivery_status == DeliveryStatus.FAILED

    resend = email_resend(order=order, to="jon@example.org", actor="Staff Member")
    order.refresh_from_db()
    assert order.delivery_status == DeliveryStatus.PENDING
    tasks_run_ready()

    order.refresh_from_db()
    resend.refresh_from_db()
    assert resend.status == EmailStatus.SENT
    assert order.delivery_status == DeliveryStatus.PROCESSED
    assert [m["To"] for m in smtp_settings.messages] == ["jon@example.org"]
