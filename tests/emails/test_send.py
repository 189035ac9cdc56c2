"""Sending a queued email (the row is the job): claims, leases, retries, permanent failures,
cancellation and the order's status."""

from __future__ import annotations

import datetime as dt
import logging
import socket
import threading

import pytest
import time_machine
from django.db import connection
from django.utils import timezone

from imprint.delivery.models import DownloadGrant, Restriction
from imprint.emails import services
from imprint.emails.models import EmailLog, EmailStatus
from imprint.emails.services import NO_ADDRESS_ERROR, _sanitize, email_send, emails_send_ready
from imprint.orders.models import DeliveryStatus, Order, OrderActivity
from tests.emails.helpers import emails_waiting, later, order_delivered, tasks_run_ready

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


def test_queued_email_is_sent_and_order_becomes_processed(smtp_settings, shop_a):
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
    assert emails_waiting() == []


def test_send_run_twice_sends_one_email(smtp_settings, shop_a):
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

    assert emails_send_ready() == 0
    email_send(email_id=email.pk)

    email.refresh_from_db()
    assert smtp_settings.messages == []
    assert (email.status, email.attempts, email.claimed_at) == (EmailStatus.SENDING, 1, claimed_at)


def test_email_of_a_dead_worker_is_claimed_once_its_lease_ends_and_sent_once(
    smtp_settings, shop_a, settings
):
    _order, email = order_delivered(shop_a)
    claimed_at = timezone.now() - dt.timedelta(seconds=1)
    EmailLog.objects.filter(pk=email.pk).update(
        status=EmailStatus.SENDING, claimed_at=claimed_at, attempts=1
    )
    assert emails_send_ready() == 0  # inside the lease: that worker may still be sending it
    assert smtp_settings.messages == []

    # The worker died: its lease runs out.
    EmailLog.objects.filter(pk=email.pk).update(
        claimed_at=timezone.now() - dt.timedelta(seconds=settings.JOB_LEASE_SECONDS + 1)
    )
    assert emails_send_ready() == 1
    assert emails_send_ready() == 0

    email.refresh_from_db()
    assert len(smtp_settings.messages) == 1
    assert (email.status, email.attempts) == (EmailStatus.SENT, 2)
    assert emails_waiting() == []


def test_email_already_sent_is_not_sent_again(smtp_settings, shop_a):
    _order, email = order_delivered(shop_a)
    tasks_run_ready()
    email.refresh_from_db()
    sent = (email.status, email.attempts, email.sent_at, email.message_id)

    email_send(email_id=email.pk)

    email.refresh_from_db()
    assert (email.status, email.attempts, email.sent_at, email.message_id) == sent
    assert sent[0] == EmailStatus.SENT
    assert emails_waiting() == []
    assert len(smtp_settings.messages) == 1


def test_code_error_is_recorded_logged_and_retried_and_the_batch_goes_on(
    smtp_settings, shop_a, monkeypatch, caplog
):
    broken_order, broken_email = order_delivered(shop_a)
    _order, email = order_delivered(shop_a, email="ada@example.com", name="#1002")
    render = services.delivery_email_render

    def broken_for_one_order(*, order, grants):
        if order.pk == broken_order.pk:
            raise RuntimeError("template broke")
        return render(order=order, grants=grants)

    monkeypatch.setattr(services, "delivery_email_render", broken_for_one_order)
    caplog.set_level(logging.ERROR, logger="imprint.emails.services")

    assert emails_send_ready() == 2  # no exception: the second email of the batch still went out

    broken_email.refresh_from_db()
    email.refresh_from_db()
    assert (broken_email.status, broken_email.attempts) == (EmailStatus.QUEUED, 1)
    assert broken_email.last_error == (
        "Imprint could not send this email because of an internal error (recorded in the server "
        "log). It will try again."
    )
    assert broken_email.next_attempt_at is not None
    assert broken_email.next_attempt_at > broken_email.claimed_at
    assert emails_waiting() == [broken_email]
    [record] = [r for r in caplog.records if r.levelno == logging.ERROR]
    assert record.getMessage() == "email to jon@example.com could not be built or sent"
    assert record.exc_info is not None
    assert repr(record.exc_info[1]) == "RuntimeError('template broke')"
    assert "Traceback (most recent call last)" in caplog.text
    assert (email.status, email.attempts) == (EmailStatus.SENT, 1)
    assert [m["To"] for m in smtp_settings.messages] == ["ada@example.com"]


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
    assert emails_waiting() == [email]
    # JOB_RETRY_BASE_SECONDS is 0.01 here: the first retry waits 0.01 to 0.011 s.
    assert before < email.next_attempt_at <= before + dt.timedelta(seconds=0.011)

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
    assert emails_waiting() == []


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
    assert emails_waiting() == []
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
    assert emails_waiting() == []
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
    assert email.attempts == 1
    assert email.next_attempt_at is not None
    assert email.next_attempt_at > email.claimed_at
    assert emails_waiting() == [email]  # waiting for its retry, no other email queued


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
    assert emails_waiting() == []
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
    assert emails_waiting() == []
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
