"""An order's delivery status, kept in a column so the Orders page can filter on it cheaply."""

from __future__ import annotations

from django.db.models import Count, Q

from imprint.delivery.models import DownloadGrant, Restriction
from imprint.emails.models import EmailLog, EmailStatus
from imprint.lib.sql import sql_update
from imprint.orders.models import DeliveryStatus, Order


def order_delivery_status(order: Order) -> str:
    if not order.has_digital_items:
        return DeliveryStatus.NO_DIGITAL
    grants = DownloadGrant.objects.filter(order=order).aggregate(
        total=Count("id"), active=Count("id", filter=Q(restriction=Restriction.NONE))
    )
    if grants["total"] and not grants["active"]:
        return DeliveryStatus.RESTRICTED
    # Any email with the links that went out (the delivery, or a resend after a failure) means
    # the customer has them; otherwise the newest attempt tells whether it failed.
    statuses = list(
        EmailLog.objects.filter(order=order)
        .order_by("-created_at", "-id")
        .values_list("status", flat=True)
    )
    if EmailStatus.SENT in statuses:
        return DeliveryStatus.PROCESSED
    if statuses and statuses[0] == EmailStatus.FAILED:
        return DeliveryStatus.FAILED
    return DeliveryStatus.PENDING


def order_delivery_status_refresh(*, order: Order) -> str:
    status = order_delivery_status(order)
    if status != order.delivery_status:
        Order.objects.filter(pk=order.pk).update(delivery_status=status)
        order.delivery_status = status
    return status


# A sent email makes an order in one of these statuses processed (order_delivery_status_sent).
SENT_MAKES_PROCESSED = (DeliveryStatus.PENDING, DeliveryStatus.FAILED)


def order_delivery_status_sent(*, order_id: int) -> None:
    """An email with the order's links has just been sent: what `order_delivery_status_refresh`
    would conclude, in one UPDATE. A sent email makes a pending or failed order processed; an
    order without digital items or with every link restricted keeps its status, which does not
    depend on emails (and an email is only sent while a link is active)."""
    sql_update(
        Order,
        where={"id": order_id, "delivery_status": SENT_MAKES_PROCESSED},
        values={"delivery_status": DeliveryStatus.PROCESSED},
    )
