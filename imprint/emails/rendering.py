"""The delivery email as text: subject, written plain-text body and inlined HTML body.

Only builds strings from templates; sending is services.py's job.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import re
from dataclasses import dataclass
from functools import cache, lru_cache

import css_inline
from django.conf import settings
from django.template.defaultfilters import filesizeformat
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import dateformat
from django.utils.translation import get_language

from imprint.delivery.models import DownloadGrant
from imprint.delivery.services import grant_link_token
from imprint.orders.models import Order
from imprint.shops.models import DEFAULT_ACCENT_COLOR, Shop

# Remote stylesheets stay off: a template must never make the worker fetch a URL at send time.
_INLINER = css_inline.CSSInliner(load_remote_stylesheets=False, keep_at_rules=True)
_WHITESPACE = re.compile(r"\s+")
_PLACEHOLDER = re.compile(r"\{(first_name|order_name|shop_name)\}")
_SPACE_BEFORE_PUNCTUATION = re.compile(r"[ \t]+([,.!?;:])")


@dataclass(frozen=True)
class FileLink:
    """One file as the email lists it."""

    name: str
    url: str
    size: str
    expires: str
    downloads: str


@dataclass(frozen=True)
class RenderedEmail:
    subject: str
    text: str
    html: str


_SLOT = "SLOT"  # stands for the token while the route is reversed


@cache
def _download_page_path() -> tuple[str, str]:
    """The download page's path around its token, reversed once: the worker fills in a link
    for every file of every email, and `reverse` would resolve the same route each time."""
    before, _, after = reverse("download-page", args=[_SLOT]).partition(_SLOT)
    return before, after


def grant_link_url(grant: DownloadGrant) -> str:
    """The customer's page for one file: PUBLIC_URL + /d/<token>."""
    before, after = _download_page_path()
    return f"{settings.PUBLIC_URL}{before}{grant_link_token(grant)}{after}"


def _expiry_text(expires_at: dt.datetime | None) -> str:
    # An order's links mostly share one expiry: each is formatted once per language.
    return _expiry_text_in(expires_at, get_language())


@lru_cache(maxsize=64)
def _expiry_text_in(expires_at: dt.datetime | None, language: str | None) -> str:
    if expires_at is None:
        return "Never expires"
    # Shown in UTC with the zone spelled out: the store's own time zone is not known here.
    utc = expires_at.astimezone(dt.UTC)
    return f"{dateformat.format(utc, 'j F Y, H:i')} UTC"


def _downloads_text(max_downloads: int | None) -> str:
    if max_downloads is None:
        return "Unlimited"
    return f"{max_downloads} download{'' if max_downloads == 1 else 's'}"


def file_links(grants: list[DownloadGrant]) -> list[FileLink]:
    return [
        FileLink(
            name=grant.filename,
            url=grant_link_url(grant),
            # filesizeformat separates with a non-breaking space; plain text reads better without.
            size=filesizeformat(grant.file_size).replace("\xa0", " "),
            expires=_expiry_text(grant.expires_at),
            downloads=_downloads_text(grant.max_downloads),
        )
        for grant in grants
    ]


@dataclass(frozen=True)
class EmailBranding:
    """The store's look and words for its emails. Blank texts mean Imprint's own."""

    sender_name: str
    reply_to: str
    accent_color: str
    logo_url: str
    subject: str
    greeting: str
    footer: str


def email_branding(shop: Shop) -> EmailBranding:
    logo_url = ""
    if shop.email_logo:
        logo_url = settings.PUBLIC_URL + reverse(
            "email-logo", args=[shop.pk, logo_version(shop.email_logo)]
        )
    return EmailBranding(
        sender_name=shop.email_sender_name or shop.name,
        reply_to=shop.email_reply_to or shop.email,
        accent_color=shop.email_accent_color or DEFAULT_ACCENT_COLOR,
        logo_url=logo_url,
        subject=shop.email_subject,
        greeting=shop.email_greeting,
        footer=shop.email_footer,
    )


def logo_version(stored_name: str) -> str:
    """A short, unguessable part of the logo's URL that changes with the logo, so mail clients
    that cache images show a new logo, and the URL does not reveal where the logo is stored."""
    return hashlib.sha256(f"{settings.SECRET_KEY}:{stored_name}".encode()).hexdigest()[:24]


def placeholders_fill(text: str, values: dict[str, str]) -> str:
    """{first_name}, {order_name} and {shop_name} replaced; a missing first name leaves no
    stray space before punctuation ("Hello {first_name}," becomes "Hello,")."""
    filled = _PLACEHOLDER.sub(lambda m: values.get(m.group(1), m.group(0)), text)
    return _SPACE_BEFORE_PUNCTUATION.sub(r"\1", filled).strip()


def email_render(
    *,
    shop_name: str,
    reply_to: str,
    first_name: str,
    order_name: str,
    files: list[FileLink],
    branding: EmailBranding,
) -> RenderedEmail:
    """The delivery email from its parts; the preview on the Email page renders through here too."""
    values = {"first_name": first_name, "order_name": order_name, "shop_name": shop_name}
    context = {
        "shop_name": shop_name,
        "shop_email": reply_to,
        "first_name": first_name,
        "order_name": order_name,
        "files": files,
        "accent_color": branding.accent_color,
        "logo_url": branding.logo_url,
        "greeting": placeholders_fill(branding.greeting, values),
        "footer": placeholders_fill(branding.footer, values),
    }
    if branding.subject:
        subject = placeholders_fill(branding.subject, values)
    else:
        subject = render_to_string("emails/delivery/subject.txt", context)
    # One line, whatever the shop or order name holds: a newline in a header is an injection.
    subject = _WHITESPACE.sub(" ", subject).strip()
    text = render_to_string("emails/delivery/body.txt", context)
    html = _INLINER.inline(render_to_string("emails/delivery/body.html", context))
    return RenderedEmail(subject=subject, text=text, html=html)


def delivery_email_render(*, order: Order, grants: list[DownloadGrant]) -> RenderedEmail:
    """The delivery email for `order` listing `grants` (the links sent are the same every time:
    tokens derive from the grant id and generation)."""
    shop = order.shop
    branding = email_branding(shop)
    return email_render(
        shop_name=shop.name,
        reply_to=branding.reply_to,
        first_name=order.customer_first_name.strip(),
        order_name=order.name,
        files=file_links(grants),
        branding=branding,
    )
