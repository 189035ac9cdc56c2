"""Emails: queue them with their job in the caller's transaction, send them, resend them."""

from __future__ import annotations

from django.db import IntegrityError, transaction

from imprint.emails.models import EmailKind, EmailLog
from imprint.orders.models import Order


def email_delivery_queue(*, order: Order) -> EmailLog | None:
    """Create the order's one delivery email and enqueue its job, in the caller's transaction.

    None when the order has its delivery email already (the unique constraint decides).
    """
    from imprint.emails.tasks import email_send_task

    try:
        with transaction.atomic():
            email = EmailLog.objects.create(
                shop=order.shop, order=order, kind=EmailKind.DELIVERY, to=order.email
            )
    except IntegrityError:
        return None
    email_send_task.enqueue(email_id=email.pk)
    return email
