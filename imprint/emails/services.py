"""Emails: queue them in the caller's transaction, send them in batches, resend them."""

from __future__ import annotations

import datetime as dt
import logging
import re
import secrets
import smtplib
from dataclasses import dataclass
from email.utils import formataddr, parseaddr
from functools import cache
from typing import Any
from urllib.parse import quote

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.mail import EmailMultiAlternatives, get_connection, make_msgid
from django.core.mail.backends.base import BaseEmailBackend
from django.core.validators import validate_email
from django.db import IntegrityError, models, transaction
from django.db import connection as database
from django.utils import timezone

from imprint.delivery.models import DownloadGrant, Restriction
from imprint.emails.models import EmailKind, EmailLog, EmailStatus
from imprint.emails.rendering import RenderedEmail, delivery_email_render, email_branding
from imprint.jobs.retry import backoff_seconds
from imprint.jobs.rows import rows_claim
from imprint.lib.sql import sql_field, sql_insert, sql_select, sql_update, sql_values
from imprint.orders.models import DeliveryStatus, Order, OrderActivity
from imprint.orders.status import (
    SENT_MAKES_PROCESSED,
    order_delivery_status_refresh,
    order_delivery_status_sent,
)

logger = logging.getLogger(__name__)

ACTOR = "Imprint"
MAX_ERROR_CHARS = 2000  # what the order page shows; a server's multi-line essay is cut here
NO_ADDRESS_ERROR = (
    "The order has no email address. Open the order and resend to a corrected address."
)


class EmailAddressInvalid(ValueError):
    """The address to send to is empty or not an email address."""


class NothingToResend(ValueError):
    """The order has no download link that an email could carry."""


def email_delivery_queue(*, order: Order) -> EmailLog | None:
    """Create the order's one delivery email, QUEUED, in the caller's transaction: the row is the
    job a worker claims once the transaction commits.

    None when the order has its delivery email already (the unique constraint decides).
    """
    try:
        with transaction.atomic():
            email = EmailLog.objects.create(
                shop=order.shop, order=order, kind=EmailKind.DELIVERY, to=order.email
            )
    except IntegrityError:
        return None
    return email


def email_resend(*, order: Order, to: str | None = None, actor: str) -> EmailLog:
    """Send the order's links again, to `to` or the order's address. The links are the same ones:
    tokens derive from the grant id and generation, so nothing is regenerated."""
    address = (order.email if to is None else to).strip()
    if not address:
        raise EmailAddressInvalid("The order has no email address. Enter the address to send to.")
    if not _address_valid(address):
        raise EmailAddressInvalid(f"“{address}” is not a valid email address.")
    grants = DownloadGrant.objects.filter(order=order)
    if not grants.exists():
        raise NothingToResend("This order has no download links to send.")
    if not grants.filter(restriction=Restriction.NONE).exists():
        raise NothingToResend(
            "Every download link of this order is restricted. Restore access before resending."
        )
    with transaction.atomic():
        email = EmailLog.objects.create(
            shop_id=order.shop_id, order=order, kind=EmailKind.RESEND, to=address
        )
        OrderActivity.objects.create(
            order=order,
            actor=actor,
            action="email_resend",
            detail=f"Resend of the delivery email to {address} queued.",
        )
        order_delivery_status_refresh(order=order)
    return email


# --- Sending ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class SendFailure:
    message: str  # for the merchant: what happened and, when it is ours to fix, what to check
    permanent: bool  # retrying cannot help


_URL_CREDENTIALS = re.compile(r"(?P<scheme>[a-z][a-z0-9+.-]*://)[^/@\s:]*:[^/@\s]*@", re.IGNORECASE)


def _sanitize(text: str) -> str:
    """An error as it may be stored and shown: never the mail server's password."""
    password = settings.EMAIL_HOST_PASSWORD
    if password:
        for form in {password, quote(password, safe="")}:
            text = text.replace(form, "********")
    text = _URL_CREDENTIALS.sub(r"\g<scheme>********@", text)
    return text[:MAX_ERROR_CHARS]


def _reply_text(code: int, reply: bytes | str) -> str:
    text = reply.decode("utf-8", "replace") if isinstance(reply, bytes) else str(reply)
    return f"{code} {' '.join(text.split())}".strip()


def _server() -> str:
    return f"{settings.EMAIL_HOST}:{settings.EMAIL_PORT}"


def _classify(exc: Exception, *, to: str) -> SendFailure:
    """What a failed send means. 5xx answers and configuration mistakes are permanent; 4xx
    answers and network trouble are transient. smtplib's errors are OSErrors too, so the SMTP
    ones are matched first."""
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        answers = list(exc.recipients.values())
        reply = "; ".join(_reply_text(code, text) for code, text in answers)
        if answers and all(code >= 500 for code, _ in answers):
            return SendFailure(f"The mail server refused the address {to}: {reply}", permanent=True)
        return SendFailure(
            f"The mail server is temporarily refusing mail for {to}: {reply}", permanent=False
        )
    if isinstance(exc, smtplib.SMTPConnectError):
        return SendFailure(
            f"The mail server at {_server()} refused the connection: {_reply_text(exc.smtp_code, exc.smtp_error)}",
            permanent=False,
        )
    if isinstance(exc, smtplib.SMTPResponseException):
        reply = _reply_text(exc.smtp_code, exc.smtp_error)
        temporary = 400 <= exc.smtp_code < 500
        if isinstance(exc, smtplib.SMTPAuthenticationError):
            # A wrong user name or password does not fix itself; only a 4xx ("try later") does.
            return SendFailure(
                f"The mail server rejected Imprint's login: {reply}. "
                "Check the user name and password in IMPRINT_EMAIL_URL.",
                permanent=not temporary,
            )
        if isinstance(exc, smtplib.SMTPSenderRefused):
            what = f"The mail server refused the sender address {exc.sender}: {reply}"
            if not temporary:
                what += ". Check IMPRINT_FROM_EMAIL."
            return SendFailure(what, permanent=not temporary)
        if temporary:
            return SendFailure(
                f"The mail server is temporarily refusing mail: {reply}", permanent=False
            )
        return SendFailure(f"The mail server rejected the message: {reply}", permanent=True)
    if isinstance(exc, smtplib.SMTPNotSupportedError):
        return SendFailure(
            f"The mail server at {_server()} does not support what Imprint's settings ask for ({exc}). "
            "Check TLS and login in IMPRINT_EMAIL_URL.",
            permanent=True,
        )
    if isinstance(exc, smtplib.SMTPServerDisconnected):
        return SendFailure(
            f"The mail server at {_server()} closed the connection unexpectedly ({exc}).",
            permanent=False,
        )
    if isinstance(exc, smtplib.SMTPException):
        return SendFailure(
            f"The mail server at {_server()} answered unexpectedly: {exc}", permanent=False
        )
    if isinstance(exc, TimeoutError):
        return SendFailure(
            f"The mail server at {_server()} did not answer within {settings.EMAIL_TIMEOUT} seconds.",
            permanent=False,
        )
    if isinstance(exc, ConnectionRefusedError):
        return SendFailure(
            f"Could not connect to the mail server at {_server()}: connection refused.",
            permanent=False,
        )
    if isinstance(exc, OSError):
        return SendFailure(
            f"Could not reach the mail server at {_server()}: {exc}", permanent=False
        )
    # Not a mail problem (a template or code error): retried like a transient one, so a bug that
    # is fixed and deployed still delivers, and bounded like every retry.
    # The merchant sees this text on the order page: the exception goes to the server log only.
    logger.error("email to %s could not be built or sent", to, exc_info=exc)
    return SendFailure(
        "Imprint could not send this email because of an internal error (recorded in the server "
        "log). It will try again.",
        permanent=False,
    )


def _from_address(shop_name: str) -> str:
    """DEFAULT_FROM_EMAIL's address with the store's name shown as the sender."""
    _, address = parseaddr(settings.DEFAULT_FROM_EMAIL)
    return formataddr((shop_name, address or settings.DEFAULT_FROM_EMAIL))


class _DeliveryMessage(EmailMultiAlternatives):
    """The delivery email's MIME message, with its multipart boundary chosen here: left to the
    standard library, a boundary is drawn and then searched for in the whole rendered message
    with a freshly compiled pattern, a third of the time it takes to write the message out. 128
    random bits, drawn per message, cannot occur in it by chance nor be known to anyone who
    writes part of its text (a customer's name, a store's footer)."""

    def message(self) -> Any:
        message = super().message()
        message.set_boundary(f"=_imprint_{secrets.token_hex(16)}")
        return message


def _message_build(
    email: EmailLog, rendered: RenderedEmail, connection: BaseEmailBackend
) -> EmailMultiAlternatives:
    shop = email.order.shop
    branding = email_branding(shop)
    from_email = _from_address(branding.sender_name)
    domain = parseaddr(from_email)[1].rpartition("@")[2] or "localhost"
    message = _DeliveryMessage(
        subject=rendered.subject,
        body=rendered.text,
        from_email=from_email,
        to=[email.to],
        reply_to=[branding.reply_to] if branding.reply_to else None,
        headers={
            # Our own id, so the log row can name the message the mail server accepted. The
            # domain is the sender's: Django's default would look up this machine's DNS name.
            "Message-ID": make_msgid(domain=domain),
            # RFC 3834: out-of-office and other auto-responders should not answer.
            "Auto-Submitted": "auto-generated",
        },
        connection=connection,
    )
    message.attach_alternative(rendered.html, "text/html")
    return message


def _address_valid(address: str) -> bool:
    # 254 characters: the longest address SMTP can carry, and what EmailLog.to holds.
    if len(address) > 254:
        return False
    try:
        validate_email(address)
    except ValidationError:
        return False
    return True


def _address_problem(address: str) -> str | None:
    if not address.strip():
        return NO_ADDRESS_ERROR
    if not _address_valid(address):
        return (
            f"The order's email address “{address}” is not valid. "
            "Open the order and resend to a corrected address."
        )
    return None


def _finish(
    email: EmailLog, *, status: str, activity: tuple[str, str] | None = None, **fields: object
) -> bool:
    """Move a claimed email out of SENDING, with its activity row and the order's status, in one
    short transaction. False when the row is no longer ours (it left SENDING meanwhile)."""
    # Written in SQL (imprint.lib.sql): it runs once per email sent, and the ORM's query
    # building cost more than the three statements and the commit together.
    with transaction.atomic():
        moved = sql_update(
            EmailLog,
            where={"id": email.pk, "status": EmailStatus.SENDING},
            values={"status": status, **fields},
        )
        if moved:
            if activity is not None:
                action, detail = activity
                sql_insert(
                    OrderActivity,
                    {
                        "order_id": email.order_id,
                        "actor": ACTOR,
                        "action": action,
                        "detail": detail,
                    },
                )
            if status == EmailStatus.SENT:
                order_delivery_status_sent(order_id=email.order_id)
            else:
                # Fresh from the database: the copy loaded at claim time may hold an old status.
                order_delivery_status_refresh(
                    order=Order.objects.only("has_digital_items", "delivery_status").get(
                        pk=email.order_id
                    )
                )
    return bool(moved)


def _sent(email: EmailLog, *, subject: str, message_id: str, detail: str) -> None:
    """Mark a claimed email sent, with its activity row and its order's status (see _finish)."""
    if database.vendor != "postgresql":
        _finish(
            email,
            status=EmailStatus.SENT,
            sent_at=timezone.now(),
            subject=subject,
            message_id=message_id,
            last_error="",
            activity=("email_sent", detail),
        )
        return
    # PostgreSQL: the same three writes as one statement, atomic by itself, so one round trip
    # to the server where BEGIN, three statements and COMMIT took five.
    marked = {
        "status": EmailStatus.SENT,
        "sent_at": timezone.now(),
        "subject": subject,
        "message_id": message_id,
        "last_error": "",
    }
    activity = {
        "order_id": email.order_id,
        "actor": ACTOR,
        "action": "email_sent",
        "detail": detail,
        "at": timezone.now(),
    }
    params = [
        *sql_values(EmailLog, marked),
        email.pk,
        EmailStatus.SENDING,
        *sql_values(OrderActivity, activity),
        DeliveryStatus.PROCESSED,
        email.order_id,
        *SENT_MAKES_PROCESSED,
    ]
    with database.cursor() as cursor:
        cursor.execute(_sent_sql(tuple(marked), tuple(activity)), params)


def _cast_type(model: type[models.Model], name: str) -> str:
    """The type to cast a value to for a column: text for characters, since a cast to
    `varchar(n)` would cut a longer value short where an INSERT refuses it."""
    field = sql_field(model, name)
    if isinstance(field, models.CharField | models.TextField):
        return "text"
    return str(field.db_type(database))


@cache
def _sent_sql(marked: tuple[str, ...], activity: tuple[str, ...]) -> str:
    """PostgreSQL's one statement for `_sent`: the email's row moves from SENDING to SENT and,
    only if it did, its activity row is added and its order made processed if it was pending
    or failed (the rule of `order_delivery_status_sent`, tests/orders/test_status.py)."""
    quote = database.ops.quote_name
    log, logged, order = EmailLog._meta, OrderActivity._meta, Order._meta

    def column(meta: Any, name: str) -> str:
        return quote(meta.get_field(name).column)

    casts = ", ".join(f"CAST(%s AS {_cast_type(OrderActivity, name)})" for name in activity)
    return (
        f"WITH moved AS (UPDATE {quote(log.db_table)} "  # noqa: S608 (names from the models)
        f"SET {', '.join(f'{column(log, name)} = %s' for name in marked)} "
        f"WHERE {column(log, 'id')} = %s AND {column(log, 'status')} = %s RETURNING 1), "
        f"logged AS (INSERT INTO {quote(logged.db_table)} "
        f"({', '.join(column(logged, name) for name in activity)}) "
        f"SELECT {casts} WHERE EXISTS (SELECT 1 FROM moved)) "
        f"UPDATE {quote(order.db_table)} SET {column(order, 'delivery_status')} = %s "
        f"WHERE {column(order, 'id')} = %s "
        f"AND {column(order, 'delivery_status')} IN "
        f"({', '.join(['%s'] * len(SENT_MAKES_PROCESSED))}) "
        f"AND EXISTS (SELECT 1 FROM moved)"
    )


def _fail(email: EmailLog, error: str) -> None:
    label = EmailKind(email.kind).label
    _finish(
        email,
        status=EmailStatus.FAILED,
        last_error=error,
        next_attempt_at=None,
        activity=("email_failed", f"{label} email to {email.to or '(no address)'} failed: {error}"),
    )


def _retry_or_fail(email: EmailLog, error: str, *, now: dt.datetime) -> None:
    if email.attempts >= settings.JOB_MAX_ATTEMPTS:
        _fail(email, f"Gave up after {email.attempts} attempts. Last error: {error}")
        return
    # Back in QUEUED with its time: the row is its own job, so nothing else needs queueing.
    run_after = now + dt.timedelta(seconds=backoff_seconds(email.attempts))
    _finish(email, status=EmailStatus.QUEUED, last_error=error, next_attempt_at=run_after)


BATCH_SIZE = 20  # emails a worker claims at once and sends over one SMTP connection


def emails_claim(*, limit: int = BATCH_SIZE, ids: list[int] | None = None) -> list[EmailLog]:
    """Claim up to `limit` ready emails for this worker alone (see `rows_claim`): QUEUED and
    due, or SENDING by a worker whose lease ran out."""
    claimed = rows_claim(
        EmailLog, waiting=EmailStatus.QUEUED, claimed=EmailStatus.SENDING, limit=limit, ids=ids
    )
    return list(claimed.select_related("order__shop"))


class _Connection:
    """One SMTP connection for a batch, opened when the first message is ready and opened
    again after any failure (a refused recipient or a dropped connection leaves its state
    unknown)."""

    def __init__(self) -> None:
        self._backend: BaseEmailBackend | None = None

    def get(self) -> BaseEmailBackend:
        if self._backend is None:
            self._backend = get_connection()
            self._backend.open()
        return self._backend

    def close(self) -> None:
        backend, self._backend = self._backend, None
        if backend is not None:
            try:
                backend.close()
            except Exception:
                logger.warning("closing the mail connection failed", exc_info=True)


def emails_send_ready(*, limit: int = BATCH_SIZE, ids: list[int] | None = None) -> int:
    """Claim ready emails and send them over one SMTP connection; returns how many were claimed.

    Safe to run twice and from concurrent workers: only a QUEUED row that is due (or a SENDING
    one past its lease, from a worker that died) can be claimed. SMTP trouble never raises: each
    row carries its own state, so one bad message never holds up the rest of the batch.
    """
    emails = emails_claim(limit=limit, ids=ids)
    if not emails:
        return 0
    connection = _Connection()
    try:
        for email in emails:
            _email_deliver(email, connection)
    finally:
        connection.close()
    return len(emails)


def email_send(*, email_id: int) -> None:
    """Send one email of the log if it is ready (the batch's path, for a single row)."""
    emails_send_ready(limit=1, ids=[email_id])


def _email_deliver(email: EmailLog, connection: _Connection) -> None:
    """Send one claimed email and record what happened on its row."""
    if email.attempts > settings.JOB_MAX_ATTEMPTS:
        # Only workers killed mid-send get here (every failure they could report is counted
        # below): stop a message that kills its worker from looping forever.
        _fail(
            email,
            f"Gave up after {email.attempts - 1} attempts: the sending worker stopped each time.",
        )
        return

    # The links as they are now, not when the batch was claimed: a slow mail server can make a
    # batch last minutes, and a link restricted meanwhile must not go out.
    grants = sql_select(
        DownloadGrant,
        where={"order_id": email.order_id, "restriction": Restriction.NONE},
        order_by=("line_item_id", "id"),
    )
    if not grants:
        reason = (
            "Not sent: every download link of this order was restricted (refund, cancellation or "
            "the store) before the email went out."
        )
        _finish(
            email,
            status=EmailStatus.CANCELLED,
            last_error=reason,
            activity=(
                "email_cancelled",
                f"{EmailKind(email.kind).label} email to {email.to} not sent: every link is restricted.",
            ),
        )
        return

    problem = _address_problem(email.to)
    if problem is not None:
        _fail(email, problem)
        return

    try:
        rendered = delivery_email_render(order=email.order, grants=grants)
        message = _message_build(email, rendered, connection.get())
        if message.send() != 1:
            raise smtplib.SMTPException("the mail backend did not accept the message")
    except Exception as exc:
        connection.close()
        failure = _classify(exc, to=email.to)
        error = _sanitize(failure.message)
        logger.warning(
            "email %s to order %s failed (attempt %s): %s",
            email.pk,
            email.order_id,
            email.attempts,
            error,
        )
        if failure.permanent:
            _fail(email, error)
        else:
            _retry_or_fail(email, error, now=timezone.now())
        return

    # Its own short transaction, right after the server said yes: a crash before this line can
    # repeat this one email (accepted by ARCHITECTURE); nothing later can.
    _sent(
        email,
        subject=rendered.subject[:500],
        message_id=str(message.extra_headers["Message-ID"])[:255],
        detail=f"{EmailKind(email.kind).label} email sent to {email.to}.",
    )
    logger.info("email %s sent to order %s", email.pk, email.order_id)
