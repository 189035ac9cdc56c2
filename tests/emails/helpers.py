"""Orders with files, and running the queued work the way a worker would."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Sequence
from email.message import EmailMessage

from django.utils import timezone

from imprint.delivery.models import DownloadGrant
from imprint.delivery.services import grant_link_token, grants_issue
from imprint.emails.models import EmailLog, EmailStatus
from imprint.emails.services import email_delivery_queue
from imprint.orders.models import Order
from imprint.shops.models import Shop
from tests.factories import AttachmentFactory, DigitalFileFactory, LineItemFactory, OrderFactory
from tests.shopify.helpers import run_queued

# When the grants of the orders below are issued: their expiry dates in the emails follow from it.
ISSUED_AT = dt.datetime(2026, 12, 1, 12, 0, tzinfo=dt.UTC)


def order_delivered(
    shop: Shop,
    *,
    files: Sequence[str] = ("guide.pdf", "bonus.zip"),
    email: str = "jon@example.com",
    first_name: str = "Jon",
    name: str = "#1001",
) -> tuple[Order, EmailLog]:
    """A paid order with one line carrying `files`, its grants issued at ISSUED_AT and its
    delivery email queued, as order ingest leaves it."""
    order = OrderFactory(
        shop=shop, name=name, email=email, customer_first_name=first_name, has_digital_items=True
    )
    line = LineItemFactory(order=order, title="Snowboard Guide")
    for filename in files:
        AttachmentFactory(
            shop=shop, product_id=line.product_id, file=DigitalFileFactory(shop=shop, name=filename)
        )
    grants_issue(order=order, now=ISSUED_AT)
    Order.objects.filter(pk=order.pk).update(delivered_at=ISSUED_AT)
    queued = email_delivery_queue(order=order)
    assert queued is not None
    return order, queued


def grant_urls(order: Order) -> list[str]:
    grants = DownloadGrant.objects.filter(order=order).order_by("line_item_id", "id")
    return [f"https://imprint.example/d/{grant_link_token(grant)}" for grant in grants]


def tasks_run_ready() -> int:
    """Run every ready delivery, email and job like a worker, until none is ready. Returns how
    many ran."""
    return run_queued()


def emails_waiting() -> list[EmailLog]:
    """Emails queued for a later attempt (a retry waiting for its back-off) or due now."""
    return list(EmailLog.objects.filter(status=EmailStatus.QUEUED).order_by("id"))


def later(seconds: float = 7200) -> dt.datetime:
    return timezone.now() + dt.timedelta(seconds=seconds)


_HREF = re.compile(r'href="([^"]+)"')


def html_links(message: EmailMessage) -> list[str]:
    html_part = message.get_body(("html",))
    assert html_part is not None
    return _HREF.findall(html_part.get_content())


def text_of(message: EmailMessage) -> str:
    part = message.get_body(("plain",))
    assert part is not None
    content = part.get_content()
    assert isinstance(content, str)
    return content.replace("\r\n", "\n")  # SMTP's line endings, as the client shows them


def html_of(message: EmailMessage) -> str:
    part = message.get_body(("html",))
    assert part is not None
    content = part.get_content()
    assert isinstance(content, str)
    return content.replace("\r\n", "\n")  # SMTP's line endings, as the client shows them
