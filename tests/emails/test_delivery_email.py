"""The delivery email as the customer receives it, through a real SMTP server."""

from __future__ import annotations

import re

import pytest

from imprint.delivery.models import DownloadGrant
from imprint.delivery.tokens import grant_token_parse, grant_token_valid
from imprint.emails.models import EmailLog, EmailStatus
from imprint.emails.services import email_send, emails_send_ready
from imprint.shops.models import Shop
from tests.emails.helpers import grant_urls, html_links, html_of, order_delivered, text_of

pytestmark = pytest.mark.django_db


def test_delivery_email_has_subject_sender_reply_to_and_headers(smtp_settings, shop_a):
    _order, email = order_delivered(shop_a)

    email_send(email_id=email.pk)

    [message] = smtp_settings.messages
    email.refresh_from_db()
    assert message["Subject"] == "Your downloads from Shop A (order #1001)"
    assert message["From"].addresses[0].display_name == "Shop A"
    assert message["From"].addresses[0].addr_spec == "downloads@imprint.example"
    assert message["To"] == "jon@example.com"
    assert message["Reply-To"] == "owner@shop-a.example"
    assert message["Auto-Submitted"] == "auto-generated"
    assert message["Message-ID"] == email.message_id
    assert re.fullmatch(r"<[^@<>]+@imprint\.example>", email.message_id)
    assert smtp_settings.envelopes == [("downloads@imprint.example", ["jon@example.com"])]
    assert email.subject == "Your downloads from Shop A (order #1001)"


def test_delivery_email_text_part_is_written_text_listing_every_file(smtp_settings, shop_a):
    order, email = order_delivered(shop_a)
    bonus_url, guide_url = grant_urls(order)

    email_send(email_id=email.pk)

    [message] = smtp_settings.messages
    assert text_of(message) == (
        "Hello Jon,\n"
        "\n"
        "Thank you for your order #1001 from Shop A. Your files are ready.\n"
        "\n"
        "1. bonus.zip (1.1 KB)\n"
        f"   Link: {bonus_url}\n"
        "   Expires: 31 December 2026, 12:00 UTC\n"
        "   Downloads allowed: 5 downloads\n"
        "\n"
        "2. guide.pdf (1.1 KB)\n"
        f"   Link: {guide_url}\n"
        "   Expires: 31 December 2026, 12:00 UTC\n"
        "   Downloads allowed: 5 downloads\n"
        "\n"
        "Each link opens a page for that file with a Download button. Opening the page\n"
        "does not use up a download; only the button does.\n"
        "\n"
        "Questions? Reply to this email or write to owner@shop-a.example.\n"
        "\n"
        "Shop A\n"
        "\n"
    )


def test_delivery_email_links_carry_valid_tokens_of_each_grant(smtp_settings, shop_a):
    order, email = order_delivered(shop_a)

    email_send(email_id=email.pk)

    [message] = smtp_settings.messages
    links = [url for url in html_links(message) if url.startswith("https://imprint.example/d/")]
    # Each file has its button and its copyable link.
    assert sorted(set(links)) == sorted(grant_urls(order))
    assert len(links) == 4
    grants = {grant.pk: grant for grant in DownloadGrant.objects.filter(order=order)}
    for url in set(links):
        token = url.removeprefix("https://imprint.example/d/")
        grant_id = grant_token_parse(token)
        assert grant_id in grants
        assert grant_token_valid(token, grant_id=grant_id, generation=grants[grant_id].generation)
        assert url in text_of(message)


def test_delivery_email_html_has_css_inlined_and_a_button_per_file(smtp_settings, shop_a):
    order, email = order_delivered(shop_a)
    bonus_url, guide_url = grant_urls(order)

    email_send(email_id=email.pk)

    html = html_of(smtp_settings.messages[0])
    buttons = re.findall(r'<a class="button"[^>]*>', html)
    assert len(buttons) == 2
    for button, url in zip(buttons, [bonus_url, guide_url], strict=True):
        assert f'href="{url}"' in button
        assert "background-color: #1a1a1a" in button
        assert "color: #ffffff" in button
    assert 'style="margin: 0;padding: 0;background-color: #f1f1f1;' in html
    # Only the responsive @media rule stays in a <style> block: clients that drop <style> lose
    # nothing else.
    assert re.findall(r"<style>(.*?)</style>", html, re.DOTALL) == [
        "@media only screen and (max-width: 620px) {\n"
        "    .header, .content, .footer { padding-left: 16px !important; padding-right: 16px !important; }\n"
        "  } "
    ]
    assert "Hello Jon," in html
    assert "Expires: 31 December 2026, 12:00 UTC" in html
    assert "Downloads allowed: 5 downloads" in html
    assert html.count('role="presentation"') == 6
    assert 'href="mailto:owner@shop-a.example"' in html


def test_unlimited_grants_say_never_expires_and_unlimited(smtp_settings, db):
    shop = Shop.objects.create(
        domain="unlimited.myshopify.com",
        name="Unlimited Shop",
        download_expiry_days=None,
        download_max=None,
    )
    order, email = order_delivered(shop, files=["song.mp3"])

    email_send(email_id=email.pk)

    [message] = smtp_settings.messages
    [url] = grant_urls(order)
    text = text_of(message)
    assert (
        f"1. song.mp3 (1.1 KB)\n   Link: {url}\n   Expires: Never expires\n   Downloads allowed: Unlimited\n"
        in text
    )
    assert "Expires: Never expires<br>Downloads allowed: Unlimited" in html_of(message)


def test_one_download_allowed_is_singular(smtp_settings, db):
    shop = Shop.objects.create(
        domain="single.myshopify.com", name="Single", download_max=1, email="s@single.example"
    )
    _order, email = order_delivered(shop, files=["a.pdf"])

    email_send(email_id=email.pk)

    assert "   Downloads allowed: 1 download\n" in text_of(smtp_settings.messages[0])


def test_greeting_falls_back_to_hello_without_first_name(smtp_settings, shop_a):
    _order, email = order_delivered(shop_a, first_name="  ")

    email_send(email_id=email.pk)

    message = smtp_settings.messages[0]
    assert text_of(message).startswith("Hello,\n\nThank you for your order #1001 from Shop A.")
    assert '<p style="margin: 0 0 16px 0;">Hello,</p>' in html_of(message)


def test_shop_without_email_has_no_reply_to_and_says_how_to_reach_it(smtp_settings, db):
    shop = Shop.objects.create(domain="quiet.myshopify.com", name="Quiet Shop", email="")
    _order, email = order_delivered(shop, files=["a.pdf"])

    email_send(email_id=email.pk)

    message = smtp_settings.messages[0]
    assert message["Reply-To"] is None
    assert "Questions about your order? Contact Quiet Shop, where you bought it.\n" in text_of(
        message
    )


def test_non_ascii_and_quoted_shop_names_are_encoded_in_from_and_escaped_in_html(smtp_settings, db):
    shop = Shop.objects.create(
        domain="cafe.myshopify.com", name='Café "Ünïcode" <&>', email="c@cafe.example"
    )
    _order, email = order_delivered(shop, files=["a.pdf"])

    email_send(email_id=email.pk)

    message = smtp_settings.messages[0]
    assert message["From"].addresses[0].display_name == 'Café "Ünïcode" <&>'
    assert message["From"].addresses[0].addr_spec == "downloads@imprint.example"
    # Django folds an encoded Subject onto the next line ("Subject: \n =?utf-8?b?...?="), which
    # the parser returns with one leading space; mail clients drop it.
    assert message["Subject"].lstrip(" ") == 'Your downloads from Café "Ünïcode" <&> (order #1001)'
    html = html_of(message)
    # css_inline serializes as HTML5 does: quotes in text need no escaping, < & > do.
    assert (
        '<td class="header" style="padding: 24px 32px 8px 32px;font-size: 20px;font-weight: bold;color: #1a1a1a;">Café "Ünïcode" &lt;&amp;&gt;</td>'
        in html
    )
    assert "<&>" not in html
    # The plain-text part is not HTML: nothing escaped.
    assert 'from Café "Ünïcode" <&>. Your files are ready.' in text_of(message)


def test_restricted_grant_of_a_partly_refunded_order_is_left_out(smtp_settings, shop_a):
    order, email = order_delivered(shop_a)
    bonus_url, guide_url = grant_urls(order)
    DownloadGrant.objects.filter(order=order, filename="bonus.zip").update(restriction="refunded")

    email_send(email_id=email.pk)

    text = text_of(smtp_settings.messages[0])
    assert guide_url in text
    assert bonus_url not in text
    assert "bonus.zip" not in text
    assert EmailLog.objects.get(pk=email.pk).status == EmailStatus.SENT


def test_each_message_has_its_own_random_boundary_between_its_two_parts(smtp_settings, shop_a):
    for index in range(2):
        order_delivered(shop_a, email=f"buyer{index}@example.com", name=f"#{2001 + index}")
    assert emails_send_ready() == 2

    boundaries = []
    for message in smtp_settings.messages:
        boundary = message.get_boundary()
        assert re.fullmatch(r"=_imprint_[0-9a-f]{32}", boundary)
        assert message.get_content_type() == "multipart/alternative"
        assert [part.get_content_type() for part in message.iter_parts()] == [
            "text/plain",
            "text/html",
        ]
        assert boundary not in text_of(message) + html_of(message)
        boundaries.append(boundary)
    assert boundaries[0] != boundaries[1]
