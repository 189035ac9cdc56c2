"""Shopify's privacy webhooks: report a customer's data, erase a customer, erase a store.

A customer is matched by the email address on their orders and by the order ids Shopify names
(`orders_requested`, `orders_to_redact`); either is enough, since a customer may have changed
their address or ordered as a guest. Each function is idempotent: it is keyed on the delivery's
`X-Shopify-Webhook-Id`, and erasing what is already erased changes nothing.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import re
from dataclasses import dataclass
from typing import Any

from django.db import transaction
from django.db.models import Q, QuerySet
from django.utils import timezone

from imprint.catalog.models import DigitalFile
from imprint.catalog.storage import storage_delete
from imprint.delivery.models import DownloadEvent, DownloadGrant
from imprint.emails.models import EmailLog, MailboxMessage
from imprint.orders.models import Order, OrderActivity
from imprint.shopify.models import WebhookDelivery
from imprint.shops.models import PrivacyRequest, PrivacyRequestKind, PrivacyRequestStatus, Shop

logger = logging.getLogger(__name__)

ERASED = "[erased]"


class PrivacyPayloadInvalid(ValueError):
    """A privacy webhook without the fields Shopify documents for it."""


@dataclass(frozen=True)
class Customer:
    email: str  # lower case; "" when Shopify sent none
    order_ids: tuple[int, ...]
    customer_id: int | None
    phone: str


def customer_from_payload(payload: dict[str, Any], *, orders_key: str) -> Customer:
    customer = payload.get("customer")
    if not isinstance(customer, dict):
        raise PrivacyPayloadInvalid("customer is missing")
    email = customer.get("email") or ""
    if not isinstance(email, str):
        raise PrivacyPayloadInvalid("customer.email is not a string")
    raw_ids = payload.get(orders_key) or []
    if not isinstance(raw_ids, list) or not all(
        isinstance(i, int) and not isinstance(i, bool) for i in raw_ids
    ):
        raise PrivacyPayloadInvalid(f"{orders_key} is not a list of order ids")
    customer_id = customer.get("id")
    phone = customer.get("phone") or ""
    return Customer(
        email=email.strip().lower(),
        order_ids=tuple(raw_ids),
        customer_id=customer_id if isinstance(customer_id, int) else None,
        phone=phone if isinstance(phone, str) else "",
    )


def customer_orders(*, shop: Shop, customer: Customer) -> QuerySet[Order]:
    """The store's orders of this customer: by email (any case) or by Shopify order id."""
    match = Q(shopify_id__in=customer.order_ids)
    if customer.email:
        match |= Q(email__iexact=customer.email)
    return Order.objects.filter(shop=shop).filter(match).order_by("shopify_created_at", "pk")


def _iso(value: dt.datetime | None) -> str | None:
    return value.isoformat() if value else None


def _order_report(order: Order) -> dict[str, Any]:
    grants = DownloadGrant.objects.filter(order=order).order_by("pk")
    events = DownloadEvent.objects.filter(grant__order=order).order_by("at", "pk")
    events_by_grant: dict[int, list[dict[str, Any]]] = {}
    for event in events:
        events_by_grant.setdefault(event.grant_id, []).append(
            {
                "at": _iso(event.at),
                "ip": event.ip,
                "user_agent": event.user_agent,
                "bytes": event.bytes_charged,
            }
        )
    return {
        "shopify_id": order.shopify_id,
        "name": order.name,
        "email": order.email,
        "first_name": order.customer_first_name,
        "last_name": order.customer_last_name,
        "financial_status": order.financial_status,
        "cancelled_at": _iso(order.cancelled_at),
        "created_at": _iso(order.shopify_created_at),
        "delivery_status": order.delivery_status,
        "delivered_at": _iso(order.delivered_at),
        "line_items": [
            {
                "title": line.title,
                "variant_title": line.variant_title,
                "quantity": line.quantity,
                "refunded_quantity": line.refunded_quantity,
            }
            for line in order.line_items.order_by("pk")
        ],
        "emails": [
            {
                "kind": email.kind,
                "to": email.to,
                "subject": email.subject,
                "status": email.status,
                "sent_at": _iso(email.sent_at),
            }
            for email in EmailLog.objects.filter(order=order).order_by("pk")
        ],
        "downloads": [
            {
                "file": grant.filename,
                "created_at": _iso(grant.created_at),
                "expires_at": _iso(grant.expires_at),
                "max_downloads": grant.max_downloads,
                "bytes_downloaded": grant.bytes_used,
                "restriction": grant.restriction,
                "events": events_by_grant.get(grant.pk, []),
            }
            for grant in grants
        ],
        "activity": [
            {
                "at": _iso(entry.at),
                "actor": entry.actor,
                "action": entry.action,
                "detail": entry.detail,
            }
            for entry in OrderActivity.objects.filter(order=order).order_by("at", "pk")
        ],
    }


def customer_report(*, shop: Shop, customer: Customer, now: dt.datetime) -> dict[str, Any]:
    """Everything Imprint holds about the customer in this store, as JSON-ready data."""
    return {
        "store": shop.domain,
        "generated_at": now.isoformat(),
        "customer": {
            "id": customer.customer_id,
            "email": customer.email,
            "phone": customer.phone,
            "orders_requested": list(customer.order_ids),
        },
        "held_by_imprint": (
            "Orders with their line items, the emails Imprint sent about them, the download "
            "links issued and every download (time, IP address, browser), and the order's "
            "activity log. Imprint holds no phone number, address or payment data."
        ),
        "orders": [_order_report(order) for order in customer_orders(shop=shop, customer=customer)],
    }


def data_request_handle(
    *, shop: Shop, webhook_id: str, payload: dict[str, Any], now: dt.datetime | None = None
) -> PrivacyRequest:
    """customers/data_request: build the report and keep it for the merchant to download."""
    now = now or timezone.now()
    customer = customer_from_payload(payload, orders_key="orders_requested")
    existing = PrivacyRequest.objects.filter(webhook_id=webhook_id).first()
    if existing is not None:
        return existing
    report = customer_report(shop=shop, customer=customer, now=now)
    request = PrivacyRequest.objects.create(
        shop=shop,
        kind=PrivacyRequestKind.DATA_REQUEST,
        status=PrivacyRequestStatus.COMPLETED,
        webhook_id=webhook_id,
        payload=payload,
        report=report,
        completed=now,
    )
    logger.info(
        "privacy data request %s for %s: %s orders reported",
        request.pk,
        shop.domain,
        len(report["orders"]),
    )
    return request


def _scrub(text: str, needles: list[str]) -> str:
    for needle in needles:
        if needle:
            text = re.sub(re.escape(needle), ERASED, text, flags=re.IGNORECASE)
    return text


def _body_names_customer(body: str, *, order_ids: set[int], emails: set[str]) -> bool:
    """Whether a webhook body is about one of these orders or addresses: an order or refund
    (`id`, `order_id`, `email`, `customer.email`) or an earlier privacy request."""
    try:
        payload = json.loads(body)
    except ValueError:
        return False
    if not isinstance(payload, dict):
        return False
    ids = {payload.get("id"), payload.get("order_id")}
    for key in ("orders_requested", "orders_to_redact"):
        listed = payload.get(key)
        if isinstance(listed, list):
            ids.update(i for i in listed if isinstance(i, int))
    if ids & order_ids:
        return True
    customer = payload.get("customer")
    addresses = {str(payload.get("email") or "").lower()}
    if isinstance(customer, dict):
        addresses.add(str(customer.get("email") or "").lower())
    return bool(addresses & emails)


def customer_redact_handle(
    *, shop: Shop, webhook_id: str, payload: dict[str, Any], now: dt.datetime | None = None
) -> PrivacyRequest:
    """customers/redact: erase the customer's personal data; orders, grants, download and email
    counts stay (anonymous), so the store's figures do not change."""
    now = now or timezone.now()
    customer = customer_from_payload(payload, orders_key="orders_to_redact")
    existing = PrivacyRequest.objects.filter(webhook_id=webhook_id).first()
    if existing is not None:
        return existing
    with transaction.atomic():
        orders = list(customer_orders(shop=shop, customer=customer).select_for_update())
        order_pks = [order.pk for order in orders]
        emails = {customer.email} | {order.email.lower() for order in orders if order.email}
        emails.discard("")
        names = sorted(
            {
                name
                for order in orders
                for name in (order.customer_first_name, order.customer_last_name)
                if len(name) > 1  # a one-letter name would scrub every such letter
            },
            key=len,
            reverse=True,
        )
        needles = sorted(emails, key=len, reverse=True) + names
        Order.objects.filter(pk__in=order_pks).update(
            email="", customer_first_name="", customer_last_name=""
        )
        events = DownloadEvent.objects.filter(grant__order_id__in=order_pks)
        events_erased = events.exclude(ip=None, user_agent="").update(ip=None, user_agent="")
        for email_row in EmailLog.objects.filter(order_id__in=order_pks):
            email_row.to = ""
            email_row.subject = _scrub(email_row.subject, needles)
            email_row.last_error = _scrub(email_row.last_error, needles)
            email_row.save(update_fields=["to", "subject", "last_error"])
        for entry in OrderActivity.objects.filter(order_id__in=order_pks):
            scrubbed = _scrub(entry.detail, needles)
            if scrubbed != entry.detail:
                OrderActivity.objects.filter(pk=entry.pk).update(detail=scrubbed)
        bodies_erased = _deliveries_erase(
            shop=shop,
            order_ids={order.shopify_id for order in orders} | set(customer.order_ids),
            emails=emails,
        )
        mailbox_erased = 0
        for email in emails:
            mailbox_erased += MailboxMessage.objects.filter(recipients__icontains=email).delete()[0]
        # Earlier data requests of this customer hold their data too: keep that they happened.
        reports_erased = 0
        for earlier in PrivacyRequest.objects.filter(shop=shop).exclude(report=None):
            if _report_names_customer(earlier, emails=emails, order_ids=set(customer.order_ids)):
                PrivacyRequest.objects.filter(pk=earlier.pk).update(
                    report=None, payload=_ids_only(earlier.payload)
                )
                reports_erased += 1
        request = PrivacyRequest.objects.create(
            shop=shop,
            kind=PrivacyRequestKind.CUSTOMER_REDACT,
            status=PrivacyRequestStatus.COMPLETED,
            webhook_id=webhook_id,
            payload=_ids_only(payload),
            report={
                "orders_erased": len(order_pks),
                "download_events_erased": events_erased,
                "webhook_bodies_erased": bodies_erased,
                "mailbox_messages_deleted": mailbox_erased,
                "data_request_reports_erased": reports_erased,
            },
            completed=now,
        )
    logger.info("privacy redact %s for %s: %s orders erased", request.pk, shop.domain, len(orders))
    return request


def _ids_only(payload: dict[str, Any]) -> dict[str, Any]:
    """A privacy payload without the customer's email and phone: what it was about, by id."""
    customer = payload.get("customer") if isinstance(payload.get("customer"), dict) else {}
    kept: dict[str, Any] = {
        key: payload[key]
        for key in ("shop_id", "orders_requested", "orders_to_redact", "data_request")
        if key in payload
    }
    kept["customer"] = {"id": customer.get("id") if customer else None}
    return kept


def _report_names_customer(
    request: PrivacyRequest, *, emails: set[str], order_ids: set[int]
) -> bool:
    report = request.report or {}
    customer = report.get("customer") or {}
    if str(customer.get("email") or "").lower() in emails:
        return True
    return any(
        order.get("shopify_id") in order_ids or str(order.get("email") or "").lower() in emails
        for order in report.get("orders") or []
    )


def _deliveries_erase(*, shop: Shop, order_ids: set[int], emails: set[str]) -> int:
    """Blank the bodies of the store's deliveries that name the customer (orders, refunds and
    their earlier privacy requests); the rows stay, as the record that they arrived."""
    needles = [str(i) for i in order_ids] + sorted(emails)
    if not needles:
        return 0
    candidates = Q()
    for needle in needles:
        candidates |= Q(body__icontains=needle)
    erased = 0
    deliveries = WebhookDelivery.objects.filter(shop=shop).exclude(body="").filter(candidates)
    for delivery in deliveries.only("pk", "body"):
        if _body_names_customer(delivery.body, order_ids=order_ids, emails=emails):
            WebhookDelivery.objects.filter(pk=delivery.pk).update(body="")
            erased += 1
    return erased


@dataclass(frozen=True)
class ShopErased:
    rows: int
    files: int


def shop_erase(*, shop: Shop, keep_delivery_id: int | None = None) -> ShopErased:
    """shop/redact: every row of the store and its files in storage. The delivery that asked for
    it (`keep_delivery_id`) stays, without its body or its store, as the record of the erasure."""
    from imprint.jobs.models import PeriodicJob
    from imprint.orders.sync import SCHEDULE_PREFIX

    names = list(DigitalFile.objects.filter(shop=shop).values_list("storage_name", flat=True))
    if shop.email_logo:
        names.append(shop.email_logo)
    emails = set(Order.objects.filter(shop=shop).exclude(email="").values_list("email", flat=True))
    with transaction.atomic():
        if keep_delivery_id is not None:
            WebhookDelivery.objects.filter(pk=keep_delivery_id).update(shop=None, body="")
        rows = 0
        # Every delivery that named the store, including those recorded before it was known.
        deliveries = WebhookDelivery.objects.filter(Q(shop=shop) | Q(shop_domain=shop.domain))
        if keep_delivery_id is not None:
            deliveries = deliveries.exclude(pk=keep_delivery_id)
        rows += deliveries.delete()[0]
        # Grants protect their files: orders (and their grants) go first.
        rows += Order.objects.filter(shop=shop).delete()[0]
        rows += Shop.objects.filter(pk=shop.pk).delete()[0]
        # The store's sync schedule is keyed by its domain, not by a foreign key.
        rows += PeriodicJob.objects.filter(name=f"{SCHEDULE_PREFIX}{shop.domain}").delete()[0]
        for email in emails:
            rows += MailboxMessage.objects.filter(recipients__icontains=email).delete()[0]
    files = 0
    # After the commit: a file deleted for a transaction that then rolled back is lost for good.
    for name in names:
        try:
            storage_delete(name)
            files += 1
        except OSError:
            logger.warning("shop %s erased but file %s could not be deleted", shop.domain, name)
    logger.info("shop %s erased: %s rows, %s files", shop.domain, rows, files)
    return ShopErased(rows=rows, files=files)
