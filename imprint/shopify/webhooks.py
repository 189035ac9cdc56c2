"""Webhook intake: verify and record; and the workers' processing of recorded deliveries."""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import hmac
import json
import logging
import re
from collections.abc import Sequence
from contextlib import nullcontext
from dataclasses import dataclass
from functools import cache
from typing import Any

import orjson
import psycopg
from django.conf import settings
from django.db import (
    DataError,
    IntegrityError,
    InterfaceError,
    OperationalError,
    connection,
    transaction,
)
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from imprint.jobs.retry import backoff_seconds
from imprint.jobs.rows import rows_claim
from imprint.lib.group_commit import GroupCommit
from imprint.lib.sql import sql_row
from imprint.orders.data import OrderData, RefundData
from imprint.orders.services import order_ingest, refund_apply
from imprint.shopify.models import DeliveryStatus, WebhookDelivery
from imprint.shopify.payloads import PayloadError, order_from_payload, refund_from_payload
from imprint.shops.models import Shop
from imprint.shops.privacy import (
    PrivacyPayloadInvalid,
    customer_redact_handle,
    data_request_handle,
    shop_erase,
)
from imprint.shops.services import scopes_normalize, shop_scopes_set, shop_uninstall

logger = logging.getLogger(__name__)

SHOP_DOMAIN = re.compile(r"^[a-zA-Z0-9][a-zA-Z0-9-]*\.myshopify\.com$")

ORDER_TOPICS = frozenset({"orders/create", "orders/updated", "orders/paid", "orders/cancelled"})
# Shopify's mandatory privacy topics (`compliance_topics` in shopify.app.toml).
PRIVACY_TOPICS = frozenset({"customers/data_request", "customers/redact", "shop/redact"})
HANDLED_TOPICS = (
    ORDER_TOPICS | PRIVACY_TOPICS | {"refunds/create", "app/uninstalled", "app/scopes_update"}
)


class WebhookRejected(Exception):
    """The request is not a usable Shopify webhook; nothing was recorded."""

    def __init__(self, status: int, reason: str) -> None:
        super().__init__(reason)
        self.status = status
        self.reason = reason


@dataclass(frozen=True)
class Received:
    status: str  # the delivery's status, or "duplicate" for a delivery recorded already


def _signature_valid(received: str, body: bytes) -> bool:
    """Shopify's webhook signature: base64 of HMAC-SHA256 of the raw body under the app's
    secret, the current one or the previous one during a rotation.

    Computed here rather than by shopify_app's `verify_webhook_req`, which gives the same
    answers (`tests/shopify/test_webhook_intake.py` checks both on the same requests) but parses
    and re-serializes the whole body to redact a log line Imprint never uses: 80 % of its cost,
    on the one request Imprint must answer fastest (see docs/ARCHITECTURE.md).
    """
    try:
        signature = received.encode("ascii")
    except UnicodeEncodeError:
        return False
    for secret in (settings.SHOPIFY_API_SECRET, settings.SHOPIFY_API_SECRET_PREVIOUS):
        if secret:
            digest = hmac.new(secret.encode("utf-8"), body, hashlib.sha256).digest()
            if hmac.compare_digest(signature, base64.b64encode(digest)):
                return True
    return False


def webhook_verify(*, headers: dict[str, str], body: bytes) -> None:
    """Raise WebhookRejected unless `body` carries a valid signature from Shopify."""
    if not settings.SHOPIFY_API_SECRET:
        logger.error(
            "webhook refused: SHOPIFY_API_SECRET is not set, so no signature can be checked"
        )
        raise WebhookRejected(401, "Signature cannot be verified")
    received = next(
        (value for name, value in headers.items() if name.lower() == "x-shopify-hmac-sha256"), ""
    )
    if not received:
        raise WebhookRejected(401, "Missing X-Shopify-Hmac-Sha256")
    try:
        body.decode("utf-8")
    except UnicodeDecodeError:
        raise WebhookRejected(400, "Body is not UTF-8") from None
    if not _signature_valid(received, body):
        raise WebhookRejected(401, "Invalid signature")


_DELIVERY_FIELDS = [
    field for field in WebhookDelivery._meta.concrete_fields if not field.primary_key
]
# Columns whose value the INSERT itself decides from whether the store is known.
_DECIDED_BY_STORE = ("shop", "status", "outcome")
_UNKNOWN_STORE = {"status": DeliveryStatus.IGNORED, "outcome": "Unknown shop"}
DUPLICATE = "duplicate"  # what intake answers for a delivery recorded already


@cache
def _insert_sql(vendor: str, rows: int) -> str:
    """One INSERT of `rows` WebhookDeliveries that looks each store up itself: a single
    statement, so a single round trip to PostgreSQL, written once per database vendor and
    number of rows from the models' own table and column names.

    Each row's store id, and the status and outcome that depend on whether the store is known,
    are subqueries by domain (the unique index answers each). A delivery recorded already is
    skipped, not an error (`ON CONFLICT ... DO NOTHING`, on both databases), so one Shopify retry
    cannot fail the others in the statement; RETURNING names the rows written."""
    quote = connection.ops.quote_name
    shop = Shop._meta
    store = (
        f"(SELECT {quote(shop.pk.column)} FROM {quote(shop.db_table)} "  # noqa: S608 (names from the model)
        f"WHERE {quote(shop.get_field('domain').column)} = %s)"
    )
    decided = f"CASE WHEN {store} IS NULL THEN %s ELSE %s END"
    placeholders = ", ".join(
        store if field.name == "shop" else decided if field.name in _DECIDED_BY_STORE else "%s"
        for field in _DELIVERY_FIELDS
    )
    delivery = WebhookDelivery._meta
    webhook_id = quote(delivery.get_field("webhook_id").column)
    return (
        f"INSERT INTO {quote(delivery.db_table)} "  # noqa: S608 (names from the model)
        f"({', '.join(quote(field.column) for field in _DELIVERY_FIELDS)}) "
        f"VALUES {', '.join([f'({placeholders})'] * rows)} "
        f"ON CONFLICT ({webhook_id}) DO NOTHING "
        f"RETURNING {webhook_id}, {quote(delivery.get_field('status').column)}"
    )


def _deliveries_insert(deliveries: Sequence[dict[str, Any]]) -> list[str]:
    """INSERT WebhookDeliveries in one statement and return each one's status, or DUPLICATE.

    Every column is as `sql_row` fills it from the delivery's values (status and outcome from
    `_UNKNOWN_STORE` when no store has its domain). Written out because the ORM's `create` costs several times the INSERT itself on the
    request Imprint must answer fastest. On SQLite the statement runs in a transaction, whose
    BEGIN IMMEDIATE waits for the write lock in small steps (imprint.lib.sqlite) where an
    implicit one would sleep in SQLite's long ones; on PostgreSQL one statement is atomic by
    itself, and BEGIN and COMMIT would only add two round trips.
    """
    params: list[Any] = []
    for values in deliveries:
        domain = values["shop_domain"]
        for field, value in zip(_DELIVERY_FIELDS, sql_row(WebhookDelivery, values), strict=True):
            if field.name == "shop":
                params.append(domain)
            elif field.name in _DECIDED_BY_STORE:
                params += [domain, _UNKNOWN_STORE[field.name], value]
            else:
                params.append(value)
    sql = _insert_sql(connection.vendor, len(deliveries))
    atomic = transaction.atomic(savepoint=False) if connection.vendor == "sqlite" else nullcontext()
    with atomic:
        written = dict(_execute(sql, params))
    statuses = []
    for values in deliveries:
        # A Shopify retry of a delivery in the same statement: the first one is written.
        statuses.append(str(written.pop(values["webhook_id"], DUPLICATE)))
    return statuses


def _execute(sql: str, params: list[Any]) -> list[tuple[Any, ...]]:
    if connection.vendor != "postgresql":
        with connection.cursor() as cursor:
            cursor.execute(sql, params)
            return cursor.fetchall()
    # PostgreSQL: the values travel apart from the statement (server-side binding), so the body
    # is neither escaped into the SQL nor parsed back out of it. Without Django's cursor there
    # is no health check before it either, which would be a round trip of its own: a connection
    # the server has closed fails the INSERT instead, which is tried once more on a connection
    # that works. (With psycopg's pool, whose idle connections died with the same server, the
    # pool checks them all first: a round trip each, only after such a failure.) Should the
    # first try have been committed after all, the second finds its rows and answers them as
    # duplicates, which Shopify takes as delivered just the same.
    for attempt in (1, 2):
        connection.ensure_connection()
        try:
            with connection.wrap_database_errors, psycopg.Cursor(connection.connection) as cursor:
                cursor.execute(sql, params)
                return cursor.fetchall()
        except (InterfaceError, OperationalError):
            if attempt == 2 or connection.in_atomic_block:
                raise
            connection.close()
            pool = getattr(connection, "pool", None)
            if pool is not None:
                pool.check()
    raise AssertionError("unreachable")


def _deliveries_record(deliveries: Sequence[dict[str, Any]]) -> list[str | Exception]:
    """`_deliveries_insert` for a group: should the one statement fail on what one delivery
    holds (a value the database refuses), each is written on its own, so only that one's
    request fails and the others of the group are recorded."""
    try:
        return list(_deliveries_insert(deliveries))
    except (DataError, IntegrityError):
        if len(deliveries) == 1:
            raise
    results: list[str | Exception] = []
    for delivery in deliveries:
        try:
            results.append(_deliveries_insert([delivery])[0])
        except (DataError, IntegrityError) as error:
            results.append(error)
    return results


# The web process's threads commit their deliveries together (see imprint.lib.group_commit).
_intake: GroupCommit[dict[str, Any], str] = GroupCommit(_deliveries_record, limit=50)


def _triggered_at(header: str) -> dt.datetime | None:
    """X-Shopify-Triggered-At as an aware UTC time, or None when absent or unusable: it is
    informative only, and it is not covered by the signature, so nothing about it may keep a
    delivery (or the others committed with it) from being recorded."""
    try:
        parsed = parse_datetime(header) if header else None
        return parsed.astimezone(dt.UTC) if parsed and parsed.tzinfo else None
    except (ValueError, OverflowError):  # a 13th month; a year 9999 pushed past it by its offset
        return None


def webhook_receive(*, headers: dict[str, str], body: bytes) -> Received:
    """Record one verified delivery: a RECEIVED row is the job a worker claims. Its INSERT is
    committed, with those of other threads receiving at the same moment, before this returns.

    The caller has verified the signature. Raises WebhookRejected for missing headers or a body
    that is not a JSON object; records unknown shops and topics as ignored.
    """
    lower = {name.lower(): value.strip() for name, value in headers.items()}
    topic = lower.get("x-shopify-topic", "")
    domain = lower.get("x-shopify-shop-domain", "").lower()
    webhook_id = lower.get("x-shopify-webhook-id", "")
    missing = [
        name
        for name, value in (
            ("X-Shopify-Topic", topic),
            ("X-Shopify-Shop-Domain", domain),
            ("X-Shopify-Webhook-Id", webhook_id),
        )
        if not value
    ]
    if missing:
        raise WebhookRejected(400, f"Missing header: {', '.join(missing)}")
    if (
        not SHOP_DOMAIN.match(domain)
        or len(domain) > 255
        or len(webhook_id) > 255
        or len(topic) > 100
    ):
        raise WebhookRejected(
            400, "Malformed X-Shopify-Shop-Domain, X-Shopify-Topic or X-Shopify-Webhook-Id"
        )
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        raise WebhookRejected(400, "Body is not UTF-8") from None
    try:
        payload = orjson.loads(body)
    except orjson.JSONDecodeError:
        try:
            # From the text, not the bytes: given bytes, json would also take UTF-16 and UTF-32,
            # whose NUL bytes PostgreSQL cannot store in a text column.
            payload = json.loads(text)
        except ValueError:
            raise WebhookRejected(400, "Body is not valid JSON") from None
    if not isinstance(payload, dict):
        raise WebhookRejected(400, "Body is not a JSON object")

    if topic in HANDLED_TOPICS:
        status, outcome = DeliveryStatus.RECEIVED, ""
    else:
        status, outcome = DeliveryStatus.IGNORED, f"Topic {topic} is not handled"
    triggered = _triggered_at(lower.get("x-shopify-triggered-at", ""))

    delivery: dict[str, Any] = {
        "webhook_id": webhook_id,
        "event_id": lower.get("x-shopify-event-id", "")[:255],
        "topic": topic,
        "shop_domain": domain,
        "api_version": lower.get("x-shopify-api-version", "")[:32],
        "triggered_at": triggered,
        "received_at": timezone.now(),
        "body": text,
        "status": status,
        "outcome": outcome,
    }
    if connection.in_atomic_block:
        # Inside a caller's transaction the row must be part of it, and no other thread's.
        (recorded,) = _deliveries_insert([delivery])
    else:
        recorded = _intake.submit(delivery)
    return Received(status=recorded)


# --- Processing: the delivery row is the job ----------------------------------------------------

BATCH_SIZE = 10  # deliveries a worker claims at once; each is still applied in its own transaction


def webhooks_claim(
    *, limit: int = BATCH_SIZE, ids: list[int] | None = None
) -> list[WebhookDelivery]:
    """Claim up to `limit` ready deliveries for this worker alone (see `rows_claim`): RECEIVED
    and due, or PROCESSING by a worker whose lease ran out."""
    claimed = rows_claim(
        WebhookDelivery,
        waiting=DeliveryStatus.RECEIVED,
        claimed=DeliveryStatus.PROCESSING,
        limit=limit,
        ids=ids,
    )
    return list(claimed.select_related("shop"))


def webhooks_process_ready(*, limit: int = BATCH_SIZE, ids: list[int] | None = None) -> int:
    """Claim ready deliveries and apply each; returns how many were claimed."""
    deliveries = webhooks_claim(limit=limit, ids=ids)
    for delivery in deliveries:
        webhook_process(delivery)
    return len(deliveries)


def _finish(delivery: WebhookDelivery, status: str, outcome: str) -> None:
    # In a transaction even alone: on SQLite that takes the write lock through BEGIN IMMEDIATE,
    # waiting in small steps (imprint.lib.sqlite) rather than SQLite's own long sleeps. Inside
    # the delivery's own transaction it simply joins it.
    with transaction.atomic(savepoint=False):
        WebhookDelivery.objects.filter(pk=delivery.pk).update(
            status=status, outcome=outcome[:2000], processed_at=timezone.now()
        )


def webhook_process(delivery: WebhookDelivery) -> str:
    """Apply one claimed delivery. Safe to run twice: ingest is idempotent.

    An unusable payload is marked failed at once, since retrying cannot help. Anything else that
    goes wrong (a database briefly unavailable or locked, or a bug) is retried with backoff, so a
    fix deployed meanwhile still delivers; after the last attempt the delivery is marked failed,
    visibly, and the scheduled sync remains the safety net for its order.
    """
    attempt = delivery.attempts
    if attempt > settings.JOB_MAX_ATTEMPTS:
        # Only a worker killed while applying it gets here (every failure it could report is
        # counted below): stop a delivery that kills its worker from looping forever.
        _finish(
            delivery,
            DeliveryStatus.FAILED,
            f"Gave up after {attempt - 1} attempts: the worker stopped each time.",
        )
        return "failed"
    try:
        return _webhook_apply(delivery)
    except Exception as error:
        transient = isinstance(error, OperationalError | InterfaceError)
        logger.log(
            logging.WARNING if transient else logging.ERROR,
            "webhook %s: attempt %s failed",
            delivery.pk,
            attempt,
            exc_info=not transient,
        )
        reason = "the database was unavailable" if transient else "an internal error"
        if attempt >= settings.JOB_MAX_ATTEMPTS:
            _finish(
                delivery,
                DeliveryStatus.FAILED,
                f"Gave up after {attempt} attempts: {reason} (see the server log).",
            )
            return "failed"
        with transaction.atomic():
            WebhookDelivery.objects.filter(pk=delivery.pk).update(
                status=DeliveryStatus.RECEIVED,
                next_attempt_at=timezone.now() + dt.timedelta(seconds=backoff_seconds(attempt)),
                outcome=f"Attempt {attempt} failed: {reason}; it will be retried.",
            )
        return "retrying"


def _webhook_apply(delivery: WebhookDelivery) -> str:
    shop = delivery.shop
    topic = delivery.topic
    if shop is None or not delivery.body:
        # A privacy request erased the store or this body after the delivery was claimed.
        _finish(delivery, DeliveryStatus.IGNORED, "Erased by a privacy request before processing")
        return "erased"
    try:
        # Parsed and checked before the transaction: on SQLite a transaction holds the one
        # write lock from its first statement, so nothing slow belongs inside it.
        payload = json.loads(delivery.body)
        order = order_from_payload(payload) if topic in ORDER_TOPICS else None
        refund = refund_from_payload(payload) if topic == "refunds/create" else None
        # One transaction: the delivery is marked processed exactly when what it did commits.
        with transaction.atomic():
            outcome = _writes_apply(delivery, shop, payload, order, refund)
            _finish(delivery, DeliveryStatus.PROCESSED, outcome)
    except (PayloadError, PrivacyPayloadInvalid) as error:
        logger.warning(
            "webhook %s (%s) has an unusable payload: %s", delivery.webhook_id, topic, error
        )
        _finish(delivery, DeliveryStatus.FAILED, f"Unusable payload: {error}")
        return "failed"
    return "processed"


def _writes_apply(
    delivery: WebhookDelivery,
    shop: Shop,
    payload: dict[str, Any],
    order: OrderData | None,
    refund: RefundData | None,
) -> str:
    """What the delivery changes, inside its transaction; returns the outcome to record."""
    topic = delivery.topic
    if order is not None:
        result = order_ingest(shop=shop, data=order, source=f"webhook {topic}")
        if result.stale:
            return "Older than what Imprint has: order fields kept"
        return "Delivered" if result.delivered else "Recorded"
    if refund is not None:
        known = refund_apply(shop=shop, data=refund)
        return "Refund applied" if known else "Order not known yet: its refunds arrive with it"
    if topic == "app/uninstalled":
        # Shopify has revoked the token already: forget it; the data stays until shop/redact.
        changed = shop_uninstall(shop=shop)
        return "Shop marked uninstalled" if changed else "Shop was uninstalled already"
    if topic == "app/scopes_update":
        current = payload.get("current")
        if not isinstance(current, list) or not all(isinstance(s, str) for s in current):
            raise PayloadError("current is not a list of scopes")
        shop_scopes_set(shop=shop, scopes=current)
        return f"Scopes recorded: {scopes_normalize(current)}"
    if topic in PRIVACY_TOPICS:
        return _privacy_apply(delivery, shop, payload)
    return f"Topic {topic} is not handled"


def _privacy_apply(delivery: WebhookDelivery, shop: Shop, payload: dict[str, object]) -> str:
    topic = delivery.topic
    if topic == "customers/data_request":
        request = data_request_handle(shop=shop, webhook_id=delivery.webhook_id, payload=payload)
        return f"Data request {request.pk}: report ready in the admin's Privacy page"
    if topic == "customers/redact":
        request = customer_redact_handle(shop=shop, webhook_id=delivery.webhook_id, payload=payload)
        orders = (request.report or {}).get("orders_erased", 0)
        return f"Customer erased from {orders} order(s) (privacy request {request.pk})"
    # shop/redact: this delivery survives, without its body and store, as the erasure's record.
    erased = shop_erase(shop=shop, keep_delivery_id=delivery.pk)
    return f"Store {shop.domain} erased: {erased.rows} rows and {erased.files} files deleted"
