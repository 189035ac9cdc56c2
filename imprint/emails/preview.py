"""The delivery email with sample content: the Email page's live preview and its test email.

The sample goes through the same `email_render` as a real delivery, so what the merchant sees is
what customers get. Its link points at the store's admin, not at a file: a test email must not
carry a working download link.
"""

from __future__ import annotations

from email.utils import parseaddr

from django.conf import settings
from django.core.mail import EmailMultiAlternatives, get_connection, make_msgid
from django.urls import reverse

from imprint.emails.rendering import (
    EmailBranding,
    FileLink,
    RenderedEmail,
    email_branding,
    email_render,
)
from imprint.emails.services import EmailAddressInvalid, _address_valid, _from_address
from imprint.shops.models import Shop

SAMPLE_FIRST_NAME = "Alex"
SAMPLE_ORDER_NAME = "#1001"


def _sample_files() -> list[FileLink]:
    url = settings.PUBLIC_URL + reverse("web:email")
    return [
        FileLink(
            name="Sample guide.pdf",
            url=url,
            size="2.4 MB",
            expires="Expires 30 days after purchase",
            downloads="5 downloads",
        )
    ]


def email_preview_render(*, shop: Shop, branding: EmailBranding | None = None) -> RenderedEmail:
    """The delivery email of a sample order, with `branding` (unsaved form values) or the
    store's saved branding."""
    branding = branding or email_branding(shop)
    return email_render(
        shop_name=shop.name,
        reply_to=branding.reply_to,
        first_name=SAMPLE_FIRST_NAME,
        order_name=SAMPLE_ORDER_NAME,
        files=_sample_files(),
        branding=branding,
    )


class TestEmailFailed(Exception):
    """The mail server did not take the test email; the message says why, for the merchant."""


def email_test_send(*, shop: Shop, to: str) -> None:
    """Send the sample delivery email, with the store's saved branding, to `to`."""
    to = to.strip()
    if not _address_valid(to):
        raise EmailAddressInvalid(f"“{to}” is not a valid email address.")
    branding = email_branding(shop)
    rendered = email_preview_render(shop=shop, branding=branding)
    from_email = _from_address(branding.sender_name)
    domain = parseaddr(from_email)[1].rpartition("@")[2] or "localhost"
    message = EmailMultiAlternatives(
        subject=f"[Test] {rendered.subject}",
        body=rendered.text,
        from_email=from_email,
        to=[to],
        reply_to=[branding.reply_to] if branding.reply_to else None,
        headers={"Message-ID": make_msgid(domain=domain), "Auto-Submitted": "auto-generated"},
        connection=get_connection(),
    )
    message.attach_alternative(rendered.html, "text/html")
    try:
        message.send()
    except OSError as exc:  # smtplib's errors are OSErrors; the reason is in the server log
        raise TestEmailFailed(
            "The mail server did not accept the test email. Check the mail settings "
            "(IMPRINT_EMAIL_URL) and try again."
        ) from exc
