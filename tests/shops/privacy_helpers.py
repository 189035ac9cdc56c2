"""The customer of Shopify's published privacy samples (john@example.com, orders 299938,
280263, 220458) with everything Imprint can hold about them, and a snapshot of the database."""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass
from typing import Any

from django.apps import apps
from django.utils import timezone

from imprint.delivery.models import DownloadEvent, DownloadGrant
from imprint.emails.models import EmailLog, MailboxMessage
from imprint.orders.models import Order, OrderActivity
from imprint.shopify.models import DeliveryStatus, WebhookDelivery
from imprint.shops.models import Shop
from tests.factories import LineItemFactory, OrderFactory
from tests.shopify.helpers import sample
from tests.web.conftest import order_with_files

SAMPLE_EMAIL = "john@example.com"
SAMPLE_ORDER_ID = 299938


def privacy_sample(name: str, shop: Shop) -> dict[str, Any]:
    """A published privacy payload for `shop` (the samples say `{shop}.myshopify.com`)."""
    text = json.dumps(sample(name)).replace("{shop}.myshopify.com", shop.domain)
    return json.loads(text)


@dataclass
class CustomerData:
    by_email: Order  # the customer's order, found by its address (in another case)
    by_id: Order  # an order Shopify names by id, under an older address
    other: Order  # another customer's order in the same store


def customer_data(shop: Shop, *, prefix: str = "") -> CustomerData:
    now = timezone.now()
    by_email = order_with_files(
        shop,
        files=(f"{prefix}guide.pdf",),
        email="John@Example.com",
        customer_first_name="Johnathan",
        customer_last_name="Smithers",
        shopify_created_at=now - dt.timedelta(days=3),
    )
    by_id = OrderFactory(
        shop=shop,
        shopify_id=SAMPLE_ORDER_ID,
        email="john.old@example.net",
        customer_first_name="Johnathan",
        customer_last_name="Smithers",
        shopify_created_at=now - dt.timedelta(days=2),
    )
    LineItemFactory(order=by_id, title="Poster pack")
    other = order_with_files(
        shop,
        files=(f"{prefix}other.pdf",),
        email="ann@example.org",
        customer_first_name="Ann",
        customer_last_name="Other",
        shopify_created_at=now - dt.timedelta(days=1),
    )
    for order, ip, agent in (
        (by_email, "203.0.113.7", "Firefox/133"),
        (other, "198.51.100.9", "Safari/18"),
    ):
        grant = DownloadGrant.objects.get(order=order)
        DownloadEvent.objects.create(
            grant=grant, ip=ip, user_agent=agent, range_start=0, range_end=99, bytes_charged=100
        )
        EmailLog.objects.create(
            shop=shop,
            order=order,
            kind="delivery",
            to=order.email.lower(),
            subject=f"Your files, {order.customer_first_name}",
            status="sent",
            sent_at=now,
        )
        OrderActivity.objects.create(
            order=order,
            actor="Store staff",
            action="email_resent",
            detail=f"Resend of the delivery email to {order.email.lower()} queued.",
        )
        MailboxMessage.objects.create(
            sender="shop@example.com",
            recipients=order.email.lower(),
            subject="Your files",
            raw="...",
        )
        WebhookDelivery.objects.create(
            webhook_id=f"{prefix}order-{order.pk}",
            topic="orders/paid",
            shop_domain=shop.domain,
            shop=shop,
            body=json.dumps({"id": order.shopify_id, "email": order.email}),
            status=DeliveryStatus.PROCESSED,
        )
    return CustomerData(by_email=by_email, by_id=by_id, other=other)


def db_snapshot() -> dict[str, list[dict[str, Any]]]:
    """Every row of every model, to assert that nothing changed."""
    return {
        model._meta.label: list(model.objects.order_by("pk").values())
        for model in apps.get_models()
    }
