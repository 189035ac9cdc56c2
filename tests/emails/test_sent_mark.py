"""Marking an email sent: its row, its activity line and its order's status change together, and
only while the email is still this worker's (SENDING). PostgreSQL does it in one statement,
SQLite in one transaction; the outcome is the same."""

from __future__ import annotations

import pytest

from imprint.emails import services
from imprint.emails.models import EmailLog, EmailStatus
from imprint.orders.models import DeliveryStatus, Order, OrderActivity
from tests.emails.helpers import order_delivered

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(
    ("before", "after"),
    [
        (DeliveryStatus.PENDING, DeliveryStatus.PROCESSED),
        (DeliveryStatus.FAILED, DeliveryStatus.PROCESSED),
        (DeliveryStatus.PROCESSED, DeliveryStatus.PROCESSED),
        (DeliveryStatus.RESTRICTED, DeliveryStatus.RESTRICTED),
        (DeliveryStatus.NO_DIGITAL, DeliveryStatus.NO_DIGITAL),
    ],
)
def test_a_sending_email_is_marked_sent_with_its_activity_and_order_status(
    shop_a, before, after
) -> None:
    order, email = order_delivered(shop_a)
    EmailLog.objects.filter(pk=email.pk).update(status=EmailStatus.SENDING, last_error="old")
    Order.objects.filter(pk=order.pk).update(delivery_status=before)
    activity_before = OrderActivity.objects.filter(order=order).count()

    services._sent(email, subject="Your downloads ✓", message_id="<m@x>", detail="Sent to jon.")

    email.refresh_from_db()
    order.refresh_from_db()
    assert (email.status, email.subject, email.message_id, email.last_error) == (
        EmailStatus.SENT,
        "Your downloads ✓",
        "<m@x>",
        "",
    )
    assert email.sent_at is not None
    assert order.delivery_status == after
    added = OrderActivity.objects.filter(order=order).order_by("-id")[0]
    assert OrderActivity.objects.filter(order=order).count() == activity_before + 1
    assert (added.actor, added.action, added.detail) == ("Imprint", "email_sent", "Sent to jon.")
    assert added.at is not None


@pytest.mark.parametrize("status", [EmailStatus.QUEUED, EmailStatus.SENT, EmailStatus.FAILED])
def test_an_email_no_longer_sending_is_left_as_it_is(shop_a, status) -> None:
    order, email = order_delivered(shop_a)
    EmailLog.objects.filter(pk=email.pk).update(status=status, subject="kept")
    Order.objects.filter(pk=order.pk).update(delivery_status=DeliveryStatus.PENDING)
    activity_before = OrderActivity.objects.filter(order=order).count()

    services._sent(email, subject="changed", message_id="<m@x>", detail="Sent.")

    email.refresh_from_db()
    order.refresh_from_db()
    assert (email.status, email.subject, email.message_id) == (status, "kept", "")
    assert order.delivery_status == DeliveryStatus.PENDING
    assert OrderActivity.objects.filter(order=order).count() == activity_before
