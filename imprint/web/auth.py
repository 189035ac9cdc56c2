"""Who is signed in to the merchant pages: the store (`request.shop`) and a label for the log.

Every `/app/` view is wrapped in `shop_required`, which asks each authenticator in
`AUTHENTICATORS` in turn and sets `request.shop` and `request.actor` from the first that knows
the store. Today there is one: the server session set by a one-time sign-in link
(`imprint login-link`). Shopify's embedded sign-in adds another (an App Bridge session token in
the `Authorization` header) by appending a function of the same shape; nothing else changes.

Sign-in links are `django.core.signing` values (shop id, a random nonce) with their own salt and
a 10 minute lifetime. A link works once: its nonce is recorded in `LoginNonce`, whose unique
constraint decides a race between two clicks.
"""

from __future__ import annotations

import datetime as dt
import functools
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, cast

from django.conf import settings
from django.core import signing
from django.db import IntegrityError, transaction
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import reverse
from django.utils import timezone

from imprint.shops.models import Shop
from imprint.web.models import LoginNonce

LOGIN_SALT = "imprint.web.login-link"
LOGIN_MAX_AGE_SECONDS = 10 * 60  # long enough to copy a link from a terminal, short if it leaks
SESSION_SHOP_KEY = "imprint_shop_id"
SESSION_LABEL_KEY = "imprint_actor_label"
STAFF_ACTOR = "Store staff"


class LoginLinkInvalid(ValueError):
    """A sign-in link that is forged, expired, already used, or for a store no longer installed."""


@dataclass(frozen=True)
class ShopAuth:
    """What an authenticator found: the store, and who acts for it (shown in the activity log)."""

    shop: Shop
    actor: str


Authenticator = Callable[[HttpRequest], ShopAuth | None]


class ShopRequest(HttpRequest):
    """The request a `shop_required` view receives (for type checkers)."""

    shop: Shop
    actor: str


def login_link_create(*, shop: Shop, label: str = "sign-in link") -> str:
    """A one-time URL that signs in to `shop`'s admin pages for the next 10 minutes."""
    value = {"s": shop.pk, "n": secrets.token_urlsafe(24), "l": label[:60]}
    token = signing.dumps(value, salt=LOGIN_SALT, compress=False)
    return settings.PUBLIC_URL + reverse("web:login", args=[token])


def login_link_redeem(*, token: str, now: dt.datetime | None = None) -> tuple[Shop, str]:
    """The store a sign-in link is for, and its label; marks the link used."""
    try:
        value = signing.loads(token, salt=LOGIN_SALT, max_age=LOGIN_MAX_AGE_SECONDS)
    except signing.SignatureExpired:
        raise LoginLinkInvalid(
            "This sign-in link has expired: links work for 10 minutes."
        ) from None
    except signing.BadSignature:
        raise LoginLinkInvalid("This sign-in link is not valid.") from None
    if not isinstance(value, dict) or not isinstance(value.get("s"), int):
        raise LoginLinkInvalid("This sign-in link is not valid.")
    shop = Shop.objects.filter(pk=value["s"], uninstalled_at__isnull=True).first()
    if shop is None:
        raise LoginLinkInvalid("The store of this sign-in link does not use Imprint any more.")
    try:
        with transaction.atomic():
            LoginNonce.objects.create(
                nonce=str(value.get("n", ""))[:64], shop=shop, used_at=now or timezone.now()
            )
    except IntegrityError:
        raise LoginLinkInvalid("This sign-in link has been used already.") from None
    return shop, str(value.get("l") or "sign-in link")


def login_nonces_prune(*, now: dt.datetime | None = None) -> int:
    """Forget used nonces older than a link can live: their links are expired anyway."""
    cutoff = (now or timezone.now()) - dt.timedelta(seconds=LOGIN_MAX_AGE_SECONDS * 2)
    deleted, _ = LoginNonce.objects.filter(used_at__lt=cutoff).delete()
    return deleted


def session_sign_in(request: HttpRequest, *, shop: Shop, label: str) -> None:
    # A new session key on sign-in: a session id planted before it cannot be ridden after it.
    request.session.cycle_key()
    request.session[SESSION_SHOP_KEY] = shop.pk
    request.session[SESSION_LABEL_KEY] = label


def session_sign_out(request: HttpRequest) -> None:
    request.session.flush()


def session_authenticate(request: HttpRequest) -> ShopAuth | None:
    """The store of this browser's session, set by a sign-in link."""
    shop_id = request.session.get(SESSION_SHOP_KEY)
    if not isinstance(shop_id, int):
        return None
    shop = Shop.objects.filter(pk=shop_id, uninstalled_at__isnull=True).first()
    if shop is None:
        return None
    label = request.session.get(SESSION_LABEL_KEY) or "sign-in link"
    return ShopAuth(shop=shop, actor=f"{STAFF_ACTOR} ({label})")


# Asked in order; the first that recognises the request wins. Shopify's embedded sign-in
# (session tokens) is added here.
AUTHENTICATORS: list[Authenticator] = [session_authenticate]

# The embedded admin's session token comes first: it names the store of this very request, where a
# sign-in cookie may be left over from another store. (Imported here, after ShopAuth exists:
# imprint.web.embedded imports this module lazily.)
from imprint.web.embedded import session_token_authenticate  # noqa: E402

AUTHENTICATORS.insert(0, session_token_authenticate)


def shop_authenticate(request: HttpRequest) -> ShopAuth | None:
    for authenticator in AUTHENTICATORS:
        found = authenticator(request)
        if found is not None:
            return found
    return None


def shop_required(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    """Sets `request.shop` and `request.actor`, or answers 403 with how to sign in."""

    @functools.wraps(view)
    def wrapped(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        found = shop_authenticate(request)
        if found is None:
            return render(request, "web/signin_required.html", status=403)
        shop_request = cast(ShopRequest, request)
        shop_request.shop = found.shop
        shop_request.actor = found.actor
        return view(shop_request, *args, **kwargs)

    return wrapped
