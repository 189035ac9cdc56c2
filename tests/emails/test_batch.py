"""Emails go out in batches: claimed together, sent over one SMTP connection, each finished on
its own row, so one bad message never holds up the rest."""

from __future__ import annotations

import datetime as dt

import pytest
import time_machine
from django.utils import timezone
from django_tasks_db.compat import TaskResultStatus
from django_tasks_db.models import DBTaskResult

from imprint.delivery.services import grants_restrict
from imprint.emails import services
from imprint.emails.models import EmailKind, EmailLog, EmailStatus
from imprint.emails.services import BATCH_SIZE, emails_claim, emails_send_ready
from imprint.emails.tasks import email_send_task
from imprint.jobs.worker import job_run_one
from imprint.orders.models import Order
from imprint.shops.models import Shop
from tests.concurrency import at_once
from tests.emails.helpers import emails_waiting, order_delivered, tasks_run_ready
from tests.factories import OrderFactory

pytestmark = pytest.mark.django_db

CLAIM_THREADS = 4
CLAIM_EMAILS = 200
THREAD_BOUND_SECONDS = 60.0  # a claimer stuck on a lock fails the test instead of hanging it


def _emails_queued(shop: Shop, count: int) -> list[EmailLog]:
    """`count` orders with their delivery emails queued, oldest first."""
    return [
        order_delivered(
            shop, files=("guide.pdf",), email=f"buyer{i}@example.com", name=f"#{1001 + i}"
        )[1]
        for i in range(count)
    ]


def _rows(emails: list[EmailLog]) -> list[tuple[str, int]]:
    by_id = dict(EmailLog.objects.values_list("pk", "status"))
    attempts = dict(EmailLog.objects.values_list("pk", "attempts"))
    return [(by_id[email.pk], attempts[email.pk]) for email in emails]


def test_25_emails_go_out_in_a_batch_of_20_over_one_connection_then_5(smtp_settings, shop_a):
    emails = _emails_queued(shop_a, 25)
    addresses = [email.to for email in emails]

    assert BATCH_SIZE == 20
    assert emails_send_ready() == 20

    # The oldest 20, in order, over one SMTP connection.
    assert [m["To"] for m in smtp_settings.messages] == addresses[:20]
    assert smtp_settings.message_connections == [1] * 20
    assert smtp_settings.connections == 1
    assert _rows(emails) == [(EmailStatus.SENT, 1)] * 20 + [(EmailStatus.QUEUED, 0)] * 5

    assert emails_send_ready() == 5
    assert emails_send_ready() == 0

    # Every message exactly once; the second batch had its own connection, and a round with
    # nothing to send opened none.
    assert [m["To"] for m in smtp_settings.messages] == addresses
    assert smtp_settings.message_connections == [1] * 20 + [2] * 5
    assert smtp_settings.connections == 2
    assert _rows(emails) == [(EmailStatus.SENT, 1)] * 25
    assert emails_waiting() == []


def test_an_address_refused_for_good_fails_only_its_email(smtp_settings, shop_a):
    emails = _emails_queued(shop_a, 5)
    refused = emails[2]
    smtp_settings.refuse_with(550, to=refused.to)

    assert emails_send_ready() == 5

    refused.refresh_from_db()
    assert (refused.status, refused.attempts, refused.next_attempt_at) == (
        EmailStatus.FAILED,
        1,
        None,
    )
    assert refused.last_error == (
        "The mail server refused the address buyer2@example.com: 550 5.1.1 Mailbox unavailable"
    )
    assert [m["To"] for m in smtp_settings.messages] == [
        email.to for email in emails if email != refused
    ]
    assert _rows(emails) == [
        (EmailStatus.SENT, 1),
        (EmailStatus.SENT, 1),
        (EmailStatus.FAILED, 1),
        (EmailStatus.SENT, 1),
        (EmailStatus.SENT, 1),
    ]
    # After the refusal the connection was opened again for the rest of the batch.
    assert smtp_settings.message_connections == [1, 1, 2, 2]
    assert emails_waiting() == []


@pytest.mark.parametrize(
    ("code", "reply"),
    [
        # The mailbox is busy: the connection would still be usable.
        (450, "450 4.2.1 Mailbox temporarily unavailable"),
        # The server is closing the connection: smtplib drops it, so the rest of the batch
        # reaches the server only if Imprint connects again.
        (421, "421 4.3.2 Service not available, closing transmission channel"),
    ],
)
def test_a_temporary_failure_mid_batch_is_retried_later_and_the_rest_goes_out(
    smtp_settings, shop_a, code, reply
):
    emails = _emails_queued(shop_a, 5)
    deferred = emails[2]
    smtp_settings.refuse_with(code, to=deferred.to)

    assert emails_send_ready() == 5

    deferred.refresh_from_db()
    assert (deferred.status, deferred.attempts) == (EmailStatus.QUEUED, 1)
    assert deferred.last_error == (
        f"The mail server is temporarily refusing mail for buyer2@example.com: {reply}"
    )
    assert deferred.next_attempt_at is not None
    assert deferred.next_attempt_at > deferred.claimed_at
    assert emails_waiting() == [deferred]
    assert [m["To"] for m in smtp_settings.messages] == [
        email.to for email in emails if email != deferred
    ]
    assert smtp_settings.message_connections == [1, 1, 2, 2]

    # Its retry comes once it is due, and sends it once.
    smtp_settings.accept()
    with time_machine.travel(deferred.next_attempt_at, tick=False):
        assert emails_send_ready() == 1
    assert emails_send_ready() == 0

    deferred.refresh_from_db()
    assert (deferred.status, deferred.attempts, deferred.last_error) == (EmailStatus.SENT, 2, "")
    assert sorted(m["To"] for m in smtp_settings.messages) == [email.to for email in emails]
    assert (
        _rows(emails)
        == [(EmailStatus.SENT, 1)] * 2 + [(EmailStatus.SENT, 2)] + [(EmailStatus.SENT, 1)] * 2
    )


def test_an_email_due_later_is_claimed_only_once_it_is_due(smtp_settings, shop_a):
    due_now, due_later = _emails_queued(shop_a, 2)
    due_at = timezone.now() + dt.timedelta(minutes=5)
    EmailLog.objects.filter(pk=due_later.pk).update(next_attempt_at=due_at)

    with time_machine.travel(due_at - dt.timedelta(seconds=1), tick=False):
        assert emails_send_ready() == 1
        assert emails_send_ready() == 0

    due_later.refresh_from_db()
    assert [m["To"] for m in smtp_settings.messages] == [due_now.to]
    assert (due_later.status, due_later.attempts, due_later.next_attempt_at) == (
        EmailStatus.QUEUED,
        0,
        due_at,
    )

    with time_machine.travel(due_at, tick=False):
        assert emails_send_ready() == 1

    due_later.refresh_from_db()
    assert [m["To"] for m in smtp_settings.messages] == [due_now.to, due_later.to]
    assert (due_later.status, due_later.attempts, due_later.next_attempt_at) == (
        EmailStatus.SENT,
        1,
        None,
    )


@pytest.mark.django_db(transaction=True)
def test_concurrent_claims_never_take_the_same_email(shop_a):
    order = OrderFactory(shop=shop_a)
    EmailLog.objects.bulk_create(
        EmailLog(shop=shop_a, order=order, kind=EmailKind.RESEND, to=f"buyer{i}@example.com")
        for i in range(CLAIM_EMAILS)
    )
    queued = set(EmailLog.objects.values_list("pk", flat=True))

    def claim_until_empty(_: int) -> list[int]:
        mine: list[int] = []
        while batch := emails_claim(limit=20):
            mine.extend(email.pk for email in batch)
        return mine

    claimed = at_once(claim_until_empty, CLAIM_THREADS, timeout=THREAD_BOUND_SECONDS)

    everything = [pk for mine in claimed for pk in mine]
    assert len(queued) == CLAIM_EMAILS
    assert len(everything) == len(set(everything)) == CLAIM_EMAILS
    assert set(everything) == queued
    # Each row was claimed once: a second claim would have counted a second attempt.
    assert set(EmailLog.objects.values_list("status", "attempts")) == {(EmailStatus.SENDING, 1)}


def test_legacy_send_job_sends_its_email_once_and_a_second_run_does_nothing(smtp_settings, shop_a):
    _order, email = order_delivered(shop_a)
    # An older version queued a job per email; two of them for one email (a job and its retry).
    first = email_send_task.enqueue(email_id=email.pk)
    second = email_send_task.enqueue(email_id=email.pk)
    assert set(DBTaskResult.objects.values_list("task_path", flat=True)) == {
        "imprint.emails.tasks.email_send_task"
    }
    # The worker's path for one job, without draining the email queue first (which would send
    # the email before the job could).
    assert job_run_one() is True

    email.refresh_from_db()
    assert [m["To"] for m in smtp_settings.messages] == ["jon@example.com"]
    assert (email.status, email.attempts) == (EmailStatus.SENT, 1)
    sent = (email.sent_at, email.message_id)

    assert job_run_one() is True
    assert job_run_one() is False

    email.refresh_from_db()
    assert len(smtp_settings.messages) == 1
    assert (email.status, email.attempts, email.sent_at, email.message_id) == (
        EmailStatus.SENT,
        1,
        *sent,
    )
    assert [DBTaskResult.objects.get(pk=job.id).status for job in (first, second)] == [
        TaskResultStatus.SUCCESSFUL
    ] * 2
    assert tasks_run_ready() == 0


def test_a_link_restricted_while_the_batch_is_sent_is_not_in_a_later_email(
    smtp_settings, shop_a, monkeypatch
):
    first, second = _emails_queued(shop_a, 2)
    render = services.delivery_email_render

    def render_then_merchant_restricts(*, order, grants):  # type: ignore[no-untyped-def]
        rendered = render(order=order, grants=grants)
        if order.pk == first.order_id:
            # The store restricts the second order's files while the first email is on its way.
            grants_restrict(order=Order.objects.get(pk=second.order_id), actor="merchant")
        return rendered

    monkeypatch.setattr(services, "delivery_email_render", render_then_merchant_restricts)

    assert emails_send_ready() == 2

    assert [m["To"] for m in smtp_settings.messages] == [first.to]
    assert _rows([first, second]) == [(EmailStatus.SENT, 1), (EmailStatus.CANCELLED, 1)]
