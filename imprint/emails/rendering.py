"""The delivery email as text: subject, written plain-text body and inlined HTML body.

Only builds strings from templates; sending is services.py's job.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass

import css_inline
from django.conf import settings
from django.template.defaultfilters import filesizeformat
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import dateformat

from imprint.delivery.models import DownloadGrant
from imprint.delivery.services import grant_link_token
from imprint.orders.models import Order

# Remote stylesheets stay off: a template must never make the worker fetch a URL at send time.
_INLINER = css_inline.CSSInliner(load_remote_stylesheets=False, keep_at_rules=True)
_WHITESPACE = re.compile(r"\s+")


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


def grant_link_url(grant: DownloadGrant) -> str:
    """The customer's page for one file: PUBLIC_URL + /d/<token>."""
    return settings.PUBLIC_URL + reverse("download-page", args=[grant_link_token(grant)])


def _expiry_text(expires_at: dt.datetime | None) -> str:
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


def delivery_email_render(*, order: Order, grants: list[DownloadGrant]) -> RenderedEmail:
    """The delivery email for `order` listing `grants` (the links sent are the same every time:
    tokens derive from the grant id and generation)."""
    shop = order.shop
    context = {
        "shop_name": shop.name,
        "shop_email": shop.email,
        "first_name": order.customer_first_name.strip(),
        "order_name": order.name,
        "files": file_links(grants),
    }
    # One line, whatever the shop or order name holds: a newline in a header is an injection.
    subject = _WHITESPACE.sub(" ", render_to_string("emails/delivery/subject.txt", context)).strip()
    text = render_to_string("emails/delivery/body.txt", context)
    html = _INLINER.inline(render_to_string("emails/delivery/body.html", context))
    return RenderedEmail(subject=subject, text=text, html=html)
