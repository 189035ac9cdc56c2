"""An order's delivery status is kept in a column; the two shortcuts that set it without reading
the order's grants and emails back must agree with the full computation in every state."""

from __future__ import annotations

import itertools

import pytest

from imprint.delivery.models import DownloadGrant, Restriction
from imprint.emails.models import EmailKind, EmailLog, EmailStatus
from imprint.orders.models import Order
from imprint.orders.services import order_ingest
from imprint.orders.status import (
    order_delivery_status,
    order_delivery_status_refresh,
    order_delivery_status_sent,
)
from tests.factories import DigitalFileFactory, LineItemFactory, OrderFactory
from tests.orders.test_ingest import attach, order_data

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(
    ("changes", "with_files"),
    [
        ({}, True),  # paid, delivered
        ({}, False),  # paid, nothing digital
        ({"financial_status": "pending"}, True),  # not paid yet: no links
        ({"cancelled_at": "2026-12-01T10:06:00Z"}, True),  # paid, then cancelled
        ({"financial_status": "refunded"}, True),
        ({"financial_status": "voided"}, True),
        ({"financial_status": "partially_refunded"}, True),
    ],
)
def test_a_new_orders_status_is_what_its_grants_and_emails_say(shop_a, changes, with_files):
    if with_files:
        attach(shop_a)

    result = order_ingest(shop=shop_a, data=order_data(**changes), source="test")

    order = Order.objects.get(pk=result.order_id)
    assert order.delivery_status == order_delivery_status(order)


GRANTS = ["none", "active", "some restricted", "all restricted"]
EARLIER_EMAILS = [[], [EmailStatus.FAILED], [EmailStatus.SENT], [EmailStatus.QUEUED]]


@pytest.mark.parametrize(
    ("digital", "grants", "earlier"),
    list(itertools.product([True, False], GRANTS, EARLIER_EMAILS)),
)
def test_marking_an_email_sent_agrees_with_the_full_computation(shop_a, digital, grants, earlier):
    order = OrderFactory(shop=shop_a, has_digital_items=digital)
    line = LineItemFactory(order=order)
    restrictions = {
        "none": [],
        "active": [Restriction.NONE, Restriction.NONE],
        "some restricted": [Restriction.NONE, Restriction.REFUNDED],
        "all restricted": [Restriction.MERCHANT, Restriction.REFUNDED],
    }[grants]
    for index, restriction in enumerate(restrictions):
        DownloadGrant.objects.create(
            shop=shop_a,
            order=order,
            line_item=line,
            file=DigitalFileFactory(shop=shop_a, name=f"file{index}.pdf"),
            filename=f"file{index}.pdf",
            file_size=10,
            restriction=restriction,
        )
    for status in earlier:
        EmailLog.objects.create(
            shop=shop_a, order=order, kind=EmailKind.RESEND, to="a@example.com", status=status
        )
    order_delivery_status_refresh(order=order)  # the column as every earlier change left it
    EmailLog.objects.create(
        shop=shop_a, order=order, kind=EmailKind.RESEND, to="a@example.com", status="sent"
    )

    order_delivery_status_sent(order_id=order.pk)

    order.refresh_from_db()
    assert order.delivery_status == order_delivery_status(order)
