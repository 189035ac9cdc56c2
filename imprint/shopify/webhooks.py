"""Webhook intake: verify, record, enqueue; and the job that processes a recorded delivery."""

from __future__ import annotations

import datetime as dt
import json
import logging
import re
from dataclasses import dataclass
from functools import lru_cache

from django.conf import settings
from django.db import IntegrityError, InterfaceError, OperationalError, transaction
from django.utils import timezone
from django.utils.dateparse import parse_datetime
from shopify_app import verify_webhook_req
from shopify_app.types import AppConfig, RequestInput

from imprint.jobs.retry import backoff_seconds
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
    delivery_id: int | None  # None: a duplicate of a delivery already recorded
    status: str


@lru_cache(maxsize=4)
def _app_config(secret: str, previous: str) -> AppConfig:
    return {
        "client_id": settings.SHOPIFY_API_KEY or "imprint",
        "client_secret": secret,
        "old_client_secret": previous or None,
    }


def webhook_verify(*, headers: dict[str, str], body: bytes) -> None:
    """Raise WebhookRejected unless `body` carries a valid signature from Shopify."""
    if not settings.SHOPIFY_API_SECRET:
        logger.error(
            "webhook refused: SHOPIFY_API_SECRET is not set, so no signature can be checked"
        )
        raise WebhookRejected(401, "Signature cannot be verified")
    if not any(name.lower() == "x-shopify-hmac-sha256" for name in headers):
        raise WebhookRejected(401, "Missing X-Shopify-Hmac-Sha256")
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        raise WebhookRejected(400, "Body is not UTF-8") from None
    config = _app_config(settings.SHOPIFY_API_SECRET, settings.SHOPIFY_API_SECRET_PREVIOUS)
    request: RequestInput = {
        "method": "POST",
        "headers": headers,
        "url": "/webhooks/shopify",
        "body": text,
    }
    result = verify_webhook_req(request, config)
    if not result.ok:
        raise WebhookRejected(401, "Invalid signature")


def webhook_receive(*, headers: dict[str, str], body: bytes) -> Received:
    """Record one verified delivery and enqueue its processing in the same transaction.

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
    if not SHOP_DOMAIN.match(domain) or len(webhook_id) > 255 or len(topic) > 100:
        raise WebhookRejected(
            400, "Malformed X-Shopify-Shop-Domain, X-Shopify-Topic or X-Shopify-Webhook-Id"
        )
    try:
        payload = json.loads(body)
    except ValueError:
        raise WebhookRejected(400, "Body is not valid JSON") from None
    if not isinstance(payload, dict):
        raise WebhookRejected(400, "Body is not a JSON object")

    shop = Shop.objects.filter(domain=domain).only("id").first()
    if shop is None:
        status, outcome = DeliveryStatus.IGNORED, "Unknown shop"
    elif topic not in HANDLED_TOPICS:
        status, outcome = DeliveryStatus.IGNORED, f"Topic {topic} is not handled"
    else:
        status, outcome = DeliveryStatus.RECEIVED, ""
    triggered = (
        parse_datetime(lower.get("x-shopify-triggered-at", ""))
        if lower.get("x-shopify-triggered-at")
        else None
    )

    from imprint.shopify.tasks import webhook_process_task

    try:
        with transaction.atomic():
            delivery = WebhookDelivery.objects.create(
                webhook_id=webhook_id,
                event_id=lower.get("x-shopify-event-id", "")[:255],
                topic=topic,
                shop_domain=domain,
                shop=shop,
                api_version=lower.get("x-shopify-api-version", "")[:32],
                triggered_at=triggered if triggered and triggered.tzinfo else None,
                body=body.decode("utf-8"),
                status=status,
                outcome=outcome,
            )
            if status == DeliveryStatus.RECEIVED:
                webhook_process_task.enqueue(delivery_id=delivery.pk)
    except IntegrityError:
        # Shopify retried a delivery we already recorded: answer 200 so it stops.
        return Received(delivery_id=None, status="duplicate")
    return Received(delivery_id=delivery.pk, status=status)


def _finish(delivery: WebhookDelivery, status: str, outcome: str) -> None:
    WebhookDelivery.objects.filter(pk=delivery.pk).update(
        status=status, outcome=outcome[:2000], processed_at=timezone.now()
    )


def webhook_process(*, delivery_id: int, attempt: int = 1) -> str:
    """Apply one recorded delivery. Safe to run twice: ingest is idempotent.

    An unusable payload is marked failed at once, since retrying cannot help. Anything else that
    goes wrong (a database briefly unavailable or locked, or a bug) is retried with backoff, so a
    fix deployed meanwhile still delivers; after the last attempt the delivery is marked failed,
    visibly, and the scheduled sync remains the safety net for its order.
    """
    try:
        return _webhook_apply(delivery_id)
    except Exception as error:
        transient = isinstance(error, OperationalError | InterfaceError)
        logger.log(
            logging.WARNING if transient else logging.ERROR,
            "webhook %s: attempt %s failed",
            delivery_id,
            attempt,
            exc_info=not transient,
        )
        if attempt >= settings.JOB_MAX_ATTEMPTS:
            reason = "the database was unavailable" if transient else "an internal error"
            WebhookDelivery.objects.filter(pk=delivery_id).update(
                status=DeliveryStatus.FAILED,
                outcome=f"Gave up after {attempt} attempts: {reason} (see the server log).",
                processed_at=timezone.now(),
            )
            return "failed"
        from imprint.shopify.tasks import webhook_process_task

        delay = dt.timedelta(seconds=backoff_seconds(attempt))
        webhook_process_task.using(run_after=timezone.now() + delay).enqueue(
            delivery_id=delivery_id, attempt=attempt + 1
        )
        return "retrying"


def _webhook_apply(delivery_id: int) -> str:
    delivery = WebhookDelivery.objects.select_related("shop").filter(pk=delivery_id).first()
    if delivery is None or delivery.shop is None:
        return "missing"
    shop = delivery.shop
    topic = delivery.topic
    if not delivery.body:
        return "erased"  # a privacy request erased the body after this delivery was applied
    try:
        payload = json.loads(delivery.body)
        if topic in ORDER_TOPICS:
            result = order_ingest(
                shop=shop, data=order_from_payload(payload), source=f"webhook {topic}"
            )
            if result.stale:
                outcome = "Older than what Imprint has: order fields kept"
            elif result.delivered:
                outcome = "Delivered"
            else:
                outcome = "Recorded"
        elif topic == "refunds/create":
            known = refund_apply(shop=shop, data=refund_from_payload(payload))
            outcome = (
                "Refund applied" if known else "Order not known yet: its refunds arrive with it"
            )
        elif topic == "app/uninstalled":
            # Shopify has revoked the token already: forget it; the data stays until shop/redact.
            changed = shop_uninstall(shop=shop)
            outcome = "Shop marked uninstalled" if changed else "Shop was uninstalled already"
        elif topic == "app/scopes_update":
            current = payload.get("current")
            if not isinstance(current, list) or not all(isinstance(s, str) for s in current):
                raise PayloadError("current is not a list of scopes")
            shop_scopes_set(shop=shop, scopes=current)
            outcome = f"Scopes recorded: {scopes_normalize(current)}"
        elif topic in PRIVACY_TOPICS:
            outcome = _privacy_apply(delivery, shop, payload)
        else:
            outcome = f"Topic {topic} is not handled"
    except (PayloadError, PrivacyPayloadInvalid) as error:
        logger.warning(
            "webhook %s (%s) has an unusable payload: %s", delivery.webhook_id, topic, error
        )
        _finish(delivery, DeliveryStatus.FAILED, f"Unusable payload: {error}")
        return "failed"
    _finish(delivery, DeliveryStatus.PROCESSED, outcome)
    return "processed"


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
