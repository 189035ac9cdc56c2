"""Resend Email: the same links, to the order's address or a corrected one."""

from __future__ import annotations

import pytest

from imprint.delivery.models import DownloadGrant, Restriction
from imprint.emails.models import EmailKind, EmailLog, EmailStatus
from imprint.emails.services import EmailAddressInvalid, NothingToResend, email_resend
from imprint.orders.models import OrderActivity
from tests.emails.helpers import (
    emails_waiting,
    grant_urls,
    order_delivered,
    tasks_run_ready,
    text_of,
)
from tests.factories import OrderFactory

pytestmark = pytest.mark.django_db


def _links(message) -> list[str]:
    return [
        line.removeprefix("   Link: ")
        for line in text_of(message).splitlines()
        if line.startswith("   Link: ")
    ]


def test_resend_sends_the_same_links_to_a_corrected_address(smtp_settings, shop_a):
    order, _email = order_delivered(shop_a, email="jon@exmaple.com")
    tasks_run_ready()

    resend = email_resend(order=order, to="jon@example.com", actor="Staff Member")
    tasks_run_ready()

    resend.refresh_from_db()
    first, second = smtp_settings.messages
    assert first["To"] == "jon@exmaple.com"
    assert second["To"] == "jon@example.com"
    assert _links(first) == _links(second) == grant_urls(order)
    assert second["Subject"] == first["Subject"]
    assert (resend.kind, resend.to, resend.status) == (
        EmailKind.RESEND,
        "jon@example.com",
        EmailStatus.SENT,
    )
    assert list(
        OrderActivity.objects.filter(order=order)
        .order_by("id")
        .values_list("actor", "action", "detail")
    ) == [
        ("Imprint", "email_sent", "Delivery email sent to jon@exmaple.com."),
        ("Staff Member", "email_resend", "Resend of the delivery email to jon@example.com queued."),
        ("Imprint", "email_sent", "Resent delivery email sent to jon@example.com."),
    ]


def test_resend_without_address_goes_to_the_orders_email(smtp_settings, shop_a):
    order, _email = order_delivered(shop_a)

    resend = email_resend(order=order, actor="Staff Member")
    tasks_run_ready()

    assert resend.to == "jon@example.com"
    assert [m["To"] for m in smtp_settings.messages] == ["jon@example.com", "jon@example.com"]


@pytest.mark.parametrize(
    ("to", "message"),
    [
        ("not-an-address", "“not-an-address” is not a valid email address."),
        ("jon@", "“jon@” is not a valid email address."),
        ("a" * 250 + "@x.example", f"“{'a' * 250}@x.example” is not a valid email address."),
        ("   ", "The order has no email address. Enter the address to send to."),
    ],
)
def test_resend_rejects_an_invalid_address_and_changes_nothing(shop_a, to, message):
    order, email = order_delivered(shop_a)

    with pytest.raises(EmailAddressInvalid) as raised:
        email_resend(order=order, to=to, actor="Staff Member")

    assert str(raised.value) == message
    assert list(EmailLog.objects.filter(order=order)) == [email]
    assert emails_waiting() == [email]  # only the delivery email is queued to send
    assert not OrderActivity.objects.filter(order=order).exists()


def test_resend_to_an_order_without_email_needs_an_address(shop_a):
    order, _email = order_delivered(shop_a, email="")

    with pytest.raises(
        EmailAddressInvalid,
        match=r"^The order has no email address\. Enter the address to send to\.$",
    ):
        email_resend(order=order, actor="Staff Member")

    assert EmailLog.objects.filter(order=order).count() == 1


def test_resend_of_an_order_without_grants_raises_nothing_to_resend(shop_a):
    order = OrderFactory(shop=shop_a)

    with pytest.raises(NothingToResend, match=r"^This order has no download links to send\.$"):
        email_resend(order=order, actor="Staff Member")

    assert not EmailLog.objects.exists()
    assert not OrderActivity.objects.filter(order=order).exists()


def test_resend_of_a_fully_restricted_order_raises_nothing_to_resend(shop_a):
    order, email = order_delivered(shop_a)
    DownloadGrant.objects.filter(order=order).update(restriction=Restriction.MERCHANT)

    with pytest.raises(
        NothingToResend, match=r"^Every download link of this order is restricted\."
    ):
        email_resend(order=order, actor="Staff Member")

    assert list(EmailLog.objects.filter(order=order)) == [email]
