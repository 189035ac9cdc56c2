"""The local mailbox pages: what Imprint "sent" while no mail server is configured.

Only while the mailbox is the configured backend, and only to a visitor on this machine: the
messages hold live download links. It is not opened to signed-in merchants: it holds every
store's messages, and a merchant must never see another store's customers.
"""

from __future__ import annotations

import ipaddress
from email import message_from_string, policy

from django.conf import settings
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, render
from django.views.decorators.http import require_GET

from imprint.emails.models import MailboxMessage
from imprint.lib.urls import MAILBOX_BACKEND

PAGE_SIZE = 50
# A proxy on this machine makes every visitor arrive from 127.0.0.1; these headers are the sign
# of one, so a request carrying any of them is not trusted as local.
_PROXY_HEADERS = ("HTTP_X_FORWARDED_FOR", "HTTP_FORWARDED", "HTTP_X_REAL_IP")


def _is_loopback(address: str) -> bool:
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return ip.is_loopback


def _mailbox_allowed(request: HttpRequest) -> None:
    """404 (not 403: nothing here is anyone else's business) unless the mailbox is in use and
    the visitor is on this machine."""
    if settings.EMAIL_BACKEND != MAILBOX_BACKEND:
        raise Http404("The local mailbox is not the configured mail backend.")
    if any(header in request.META for header in _PROXY_HEADERS):
        raise Http404("The local mailbox is only shown to a visitor on this machine.")
    if not _is_loopback(request.META.get("REMOTE_ADDR", "")):
        raise Http404("The local mailbox is only shown to a visitor on this machine.")


@require_GET
def mailbox(request: HttpRequest) -> HttpResponse:
    _mailbox_allowed(request)
    page = Paginator(MailboxMessage.objects.order_by("-created_at", "-id"), PAGE_SIZE).get_page(
        request.GET.get("page")
    )
    return render(request, "emails/mailbox/list.html", {"page": page})


@require_GET
def mailbox_message(request: HttpRequest, message_id: int) -> HttpResponse:
    _mailbox_allowed(request)
    message = get_object_or_404(MailboxMessage, pk=message_id)
    parsed = message_from_string(message.raw, policy=policy.default)
    headers = [(name, str(value)) for name, value in parsed.items()]
    return render(request, "emails/mailbox/message.html", {"message": message, "headers": headers})
