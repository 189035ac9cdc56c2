"""Order ingest: the one way Shopify's orders enter Imprint, from webhooks and from the sync."""

from __future__ import annotations

import logging
from dataclasses import dataclass

from django.db import IntegrityError, transaction
from django.db.models import F
from django.utils import timezone

from imprint.delivery.models import Restriction
from imprint.delivery.services import attachments_for_lines, grants_issue
from imprint.emails.services import email_delivery_queue
from imprint.orders.data import OrderData, RefundData
from imprint.orders.models import (
    DeliveryStatus,
    FinancialStatus,
    LineItem,
    Order,
    OrderActivity,
    Refund,
)
from imprint.orders.status import order_delivery_status_refresh
from imprint.shops.models import Shop

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class IngestResult:
    order_id: int
    created: bool  # first time Imprint saw this order
    stale: bool  # the data was older than what Imprint had: the order's fields were kept
    delivered: bool  # this call issued the grants and queued the delivery email


def _order_fields(data: OrderData) -> dict[str, object]:
    status = (
        data.financial_status
        if data.financial_status in FinancialStatus.values
        else FinancialStatus.PENDING
    )
    return {
        "name": data.name[:64],
        "email": data.email[:254],
        "customer_first_name": data.first_name[:255],
        "customer_last_name": data.last_name[:255],
        "financial_status": status,
        "cancelled_at": data.cancelled_at,
        "test": data.test,
        "shopify_created_at": data.created_at,
        "shopify_updated_at": data.updated_at,
    }


def _order_lock_or_create(shop: Shop, data: OrderData) -> tuple[Order, bool]:
    """The order row, locked for this transaction; created from `data` when new."""
    existing = (
        Order.objects.select_for_update().filter(shop=shop, shopify_id=data.shopify_id).first()
    )
    if existing is not None:
        return existing, False
    try:
        with (
            transaction.atomic()
        ):  # a savepoint: losing the insert race must not end our transaction
            return Order.objects.create(
                shop=shop, shopify_id=data.shopify_id, **_order_fields(data)
            ), True
    except IntegrityError:
        # Another worker inserted it first; its transaction has committed, so the row is there.
        return Order.objects.select_for_update().get(shop=shop, shopify_id=data.shopify_id), False


def _refunds_record(order: Order, refunds: tuple[RefundData, ...]) -> bool:
    """Count refunds not seen before into their lines. True when any line changed."""
    changed = False
    for refund in refunds:
        try:
            with transaction.atomic():
                Refund.objects.create(order=order, shopify_id=refund.shopify_id)
        except IntegrityError:
            continue  # this refund was counted already
        for line_id, quantity in refund.lines:
            line = LineItem.objects.filter(order=order, shopify_id=line_id).first()
            if line is not None and quantity > 0:
                line.refunded_quantity = min(line.quantity, line.refunded_quantity + quantity)
                line.save(update_fields=["refunded_quantity"])
                changed = True
    return changed


def _restrictions_apply(order: Order, lines: list[LineItem] | None = None) -> bool:
    """Refunds and cancellations stop links automatically; a merchant's own restriction stays.

    `lines`, when the caller has just read them, lets an order with nothing to restrict (not
    cancelled or refunded, no line refunded in full: most orders) skip the UPDATE. False when
    it was skipped: no link changed."""
    cancelled_or_refunded = order.cancelled_at is not None or order.financial_status in (
        FinancialStatus.REFUNDED,
        FinancialStatus.VOIDED,
    )
    if (
        lines is not None
        and not cancelled_or_refunded
        and not any(line.refunded_quantity >= line.quantity for line in lines)
    ):
        return False
    active = order.grants.filter(restriction=Restriction.NONE)
    if order.cancelled_at is not None:
        active.update(restriction=Restriction.CANCELLED)
    elif order.financial_status in (FinancialStatus.REFUNDED, FinancialStatus.VOIDED):
        active.update(restriction=Restriction.REFUNDED)
    else:
        # A line refunded in full loses its files; a partly refunded one keeps them.
        refunded_lines = order.line_items.filter(refunded_quantity__gte=F("quantity")).values("pk")
        active.filter(line_item__in=refunded_lines).update(restriction=Restriction.REFUNDED)
    return True


def order_ingest(*, shop: Shop, data: OrderData, source: str) -> IngestResult:
    """Record or update an order and deliver it once it is paid. Safe to call any number of
    times, concurrently, with data in any order: the unique constraints on orders, grants and the
    delivery email turn every repeat into a no-op, and older data never overwrites newer."""
    with transaction.atomic():
        order, created = _order_lock_or_create(shop, data)
        stale = not created and data.updated_at < order.shopify_updated_at
        if not created and not stale:
            for field, value in _order_fields(data).items():
                setattr(order, field, value)
        LineItem.objects.bulk_create(
            [
                LineItem(
                    order=order,
                    shopify_id=line.shopify_id,
                    product_id=line.product_id,
                    variant_id=line.variant_id,
                    title=line.title[:500],
                    variant_title=line.variant_title[:500],
                    quantity=max(line.quantity, 1),
                )
                for line in data.line_items
            ],
            ignore_conflicts=True,  # lines already recorded stay as they are
        )
        _refunds_record(order, data.refunds)
        lines = list(order.line_items.all())
        attachments = attachments_for_lines(shop_id=shop.pk, lines=lines)
        order.has_digital_items = bool(attachments)

        delivered = False
        if order.has_digital_items and order.is_deliverable and order.delivered_at is None:
            grants_issue(order=order, lines=lines, attachments=attachments)
            order.delivered_at = timezone.now()
            email_delivery_queue(order=order)
            delivered = True
        restricted = _restrictions_apply(order, lines)
        # A new order with nothing restricted has all its links active and no email sent yet:
        # its status is known without reading them back.
        status_known = created and not restricted
        if status_known:
            order.delivery_status = (
                DeliveryStatus.PENDING if order.has_digital_items else DeliveryStatus.NO_DIGITAL
            )
        if created:
            # Only what the insert could not know yet.
            order.save(update_fields=["has_digital_items", "delivered_at", "delivery_status"])
        else:
            order.save()
        activity = []
        if created:
            activity.append(
                OrderActivity(
                    order=order,
                    actor="Shopify",
                    action="received",
                    detail=f"Order received ({source}).",
                )
            )
        if delivered:
            activity.append(
                OrderActivity(
                    order=order,
                    actor="Imprint",
                    action="delivered",
                    detail="Download links created and the delivery email queued.",
                )
            )
        OrderActivity.objects.bulk_create(activity)
        if not status_known:
            order_delivery_status_refresh(order=order)
    logger.info(
        "order ingested shop=%s order=%s created=%s stale=%s delivered=%s",
        shop.domain,
        data.shopify_id,
        created,
        stale,
        delivered,
    )
    return IngestResult(order_id=order.pk, created=created, stale=stale, delivered=delivered)


def refund_apply(*, shop: Shop, data: RefundData) -> bool:
    """Restrict the refunded lines of a known order. False when the order is unknown: its
    refunds then arrive inside the order's own payload when it is ingested."""
    with transaction.atomic():
        order = (
            Order.objects.select_for_update().filter(shop=shop, shopify_id=data.order_id).first()
        )
        if order is None:
            return False
        if _refunds_record(order, (data,)):
            OrderActivity.objects.create(
                order=order,
                actor="Shopify",
                action="refund",
                detail="Refund received: refunded files restricted.",
            )
        _restrictions_apply(order)
        order_delivery_status_refresh(order=order)
    return True
