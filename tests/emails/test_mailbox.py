"""The local mailbox: the default backend stores messages; the pages show them only locally."""

from __future__ import annotations

import html

import pytest

from imprint.emails.models import EmailStatus, MailboxMessage
from imprint.emails.services import email_send
from imprint.lib.urls import MAILBOX_BACKEND
from tests.emails.helpers import grant_urls, order_delivered

pytestmark = pytest.mark.django_db


@pytest.fixture
def mailbox_settings(settings):
    settings.EMAIL_BACKEND = MAILBOX_BACKEND
    return settings


@pytest.fixture
def stored(mailbox_settings, shop_a) -> MailboxMessage:
    _order, email = order_delivered(shop_a)
    email_send(email_id=email.pk)
    email.refresh_from_db()
    assert email.status == EmailStatus.SENT
    return MailboxMessage.objects.get()


def test_mailbox_backend_stores_the_sent_message(stored, shop_a):
    order = shop_a.orders.get()
    bonus_url, guide_url = grant_urls(order)
    assert stored.sender == "Shop A <downloads@imprint.example>"
    assert stored.recipients == "jon@example.com"
    assert stored.subject == "Your downloads from Shop A (order #1001)"
    assert stored.text.startswith("Hello Jon,\n\nThank you for your order #1001 from Shop A.")
    assert f"   Link: {bonus_url}\n" in stored.text
    assert f'href="{guide_url}"' in stored.html
    assert "Auto-Submitted: auto-generated\n" in stored.raw
    assert f"Message-ID: {order.emails.get().message_id}\n" in stored.raw
    assert "Reply-To: owner@shop-a.example\n" in stored.raw


def test_mailbox_list_shows_messages_to_a_loopback_visitor(stored, client):
    response = client.get("/dev/mailbox", REMOTE_ADDR="127.0.0.1")

    assert response.status_code == 200
    page = response.content.decode()
    assert (
        f'<a href="/dev/mailbox/{stored.pk}">Your downloads from Shop A (order #1001)</a>' in page
    )
    assert "jon@example.com" in page


def test_mailbox_message_shows_headers_text_and_sandboxed_html(stored, client):
    response = client.get(f"/dev/mailbox/{stored.pk}", REMOTE_ADDR="::1")

    assert response.status_code == 200
    page = response.content.decode()
    assert "<dt>Subject</dt><dd>Your downloads from Shop A (order #1001)</dd>" in page
    assert "<dt>Reply-To</dt><dd>owner@shop-a.example</dd>" in page
    assert (
        '<iframe title="HTML part of the email" sandbox="" referrerpolicy="no-referrer" srcdoc="'
        in page
    )
    # The HTML travels escaped inside the attribute, so it cannot break out of the iframe.
    assert f'srcdoc="{html.escape(stored.html, quote=True)}"' in page
    assert "<script" not in page


def test_mailbox_lists_newest_first_fifty_a_page(mailbox_settings, client):
    MailboxMessage.objects.bulk_create(
        [
            MailboxMessage(
                sender="a@x.example", recipients="b@x.example", subject=f"Message {n}", raw=""
            )
            for n in range(51)
        ]
    )

    first = client.get("/dev/mailbox").content.decode()
    second = client.get("/dev/mailbox?page=2").content.decode()

    assert first.count('<a href="/dev/mailbox/') == 50
    assert second.count('<a href="/dev/mailbox/') == 1
    newest, oldest = (
        MailboxMessage.objects.order_by("-id")[0],
        MailboxMessage.objects.order_by("id")[0],
    )
    assert f'<a href="/dev/mailbox/{newest.pk}">Message 50</a>' in first
    assert f'<a href="/dev/mailbox/{oldest.pk}">Message 0</a>' in second
    assert "Page 1 of 2" in first


@pytest.mark.parametrize(
    "remote_addr", ["203.0.113.5", "10.0.0.2", "::ffff:192.0.2.1", "2001:db8::1", ""]
)
def test_mailbox_is_404_to_a_visitor_from_elsewhere(stored, client, remote_addr):
    assert client.get("/dev/mailbox", REMOTE_ADDR=remote_addr).status_code == 404
    assert client.get(f"/dev/mailbox/{stored.pk}", REMOTE_ADDR=remote_addr).status_code == 404


@pytest.mark.parametrize("header", ["HTTP_X_FORWARDED_FOR", "HTTP_FORWARDED", "HTTP_X_REAL_IP"])
def test_mailbox_is_404_through_a_proxy_even_from_loopback(stored, client, header):
    extra = {header: "127.0.0.1", "REMOTE_ADDR": "127.0.0.1"}
    assert client.get("/dev/mailbox", **extra).status_code == 404
    assert client.get(f"/dev/mailbox/{stored.pk}", **extra).status_code == 404


def test_mailbox_is_404_when_smtp_is_the_backend(stored, client, settings):
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"

    assert client.get("/dev/mailbox", REMOTE_ADDR="127.0.0.1").status_code == 404
    assert client.get(f"/dev/mailbox/{stored.pk}", REMOTE_ADDR="127.0.0.1").status_code == 404


def test_mailbox_message_unknown_id_is_404(mailbox_settings, client):
    assert client.get("/dev/mailbox/999999", REMOTE_ADDR="127.0.0.1").status_code == 404


def test_mailbox_ipv4_mapped_loopback_is_local(stored, client):
    assert client.get("/dev/mailbox", REMOTE_ADDR="::ffff:127.0.0.1").status_code == 200
