"""Shopify's embedded sign-in: every `/app/` request inside the Shopify admin carries an App Bridge
session token (an ID token: HS256 JWT signed with the app's secret, a minute long), in the
`Authorization: Bearer` header of htmx requests or the `id_token` query parameter of a document
load. Nothing depends on a cookie set inside the iframe, so the pages work in browsers that block
third-party cookies: each request is authenticated by its own token.

`EmbeddedMiddleware` verifies the token before any view (and before CSRF checks: a bearer token is
not sent by the browser on its own, so a request carrying a valid one cannot be a cross-site
forgery) and sets the framing headers on the way out. `session_token_authenticate`, in
`imprint.web.auth.AUTHENTICATORS`, turns the verified token into the store, installing it by token
exchange the first time (Shopify-managed install).

Verification is shopify_app's `verify_app_home_req` (signature under the current or previous
secret, `exp`/`nbf`/`iat` with Shopify's 10 s skew, `aud` the client id); on top of it the token
must carry `exp`, `nbf`, `iat`, its `dest` must be a store domain that `iss` agrees with, and a
`shop` query parameter, when present, must name that store.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from django.conf import settings
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from shopify_app import verify_app_home_req

from imprint.shopify.oauth import app_config
from imprint.shops.services import SHOP_DOMAIN

if TYPE_CHECKING:
    from imprint.web.auth import ShopAuth

logger = logging.getLogger(__name__)

PATCH_ID_TOKEN_PATH = "/auth/patch-id-token"  # noqa: S105 (a path)
REQUIRED_CLAIMS = ("exp", "nbf", "iat", "iss", "dest", "aud", "sub")
SHOPIFY_ADMIN = "https://admin.shopify.com"
RETRY_HEADER = "X-Shopify-Retry-Invalid-Session-Request"


@dataclass(frozen=True)
class SessionToken:
    """A verified session token: the store it is for and the staff user (`sub`)."""

    shop_domain: str
    user: str
    claims: dict[str, Any]
    raw: str

    def __repr__(self) -> str:  # never the token
        return f"SessionToken({self.shop_domain!r}, user={self.user!r})"


class SessionTokenInvalid(ValueError):
    """A session token that is forged, expired, not yet valid, for another app or another
    store, or missing a claim."""


def _request_input(request: HttpRequest) -> dict[str, Any]:
    headers = {}
    if "Authorization" in request.headers:
        headers["Authorization"] = request.headers["Authorization"]
    return {
        "method": request.method or "GET",
        "headers": headers,
        "url": request.build_absolute_uri(),
        "body": "",
    }


def session_token_verify(request: HttpRequest) -> SessionToken:
    """The session token of `request` (bearer header, else `id_token` param), verified."""
    result = verify_app_home_req(
        _request_input(request),  # type: ignore[arg-type]
        app_config(),
        PATCH_ID_TOKEN_PATH,
    )
    if not result.ok or result.id_token is None:
        raise SessionTokenInvalid(result.log.code)
    claims = dict(result.id_token.claims or {})
    missing = [name for name in REQUIRED_CLAIMS if name not in claims]
    if missing:
        raise SessionTokenInvalid(f"missing claims: {', '.join(missing)}")
    dest = urlsplit(str(claims["dest"]))
    domain = (dest.hostname or "").lower()
    if dest.scheme != "https" or not SHOP_DOMAIN.fullmatch(domain):
        raise SessionTokenInvalid("dest is not a store")
    if str(claims["iss"]).rstrip("/") != f"https://{domain}/admin":
        raise SessionTokenInvalid("iss and dest disagree")
    named = request.GET.get("shop")
    if named is not None and named.strip().lower() != domain:
        raise SessionTokenInvalid("the token is for another store")
    return SessionToken(
        shop_domain=domain, user=str(claims["sub"]), claims=claims, raw=result.id_token.token
    )


def _bearer(request: HttpRequest) -> bool:
    return request.headers.get("Authorization", "").startswith("Bearer ")


def _patch_id_token_redirect(request: HttpRequest) -> HttpResponse:
    """To the bounce page, where App Bridge fetches a fresh token and reloads the document."""
    result = verify_app_home_req(
        {
            "method": "GET",
            "headers": {},
            "url": request.build_absolute_uri(),
            "body": "",
        },
        app_config(),
        PATCH_ID_TOKEN_PATH,
    )
    location = result.response.headers.get("Location", PATCH_ID_TOKEN_PATH)
    # Same origin only: keep the path and query, drop the scheme and host it was built with.
    parts = urlsplit(location)
    return HttpResponseRedirect(parts.path + ("?" + parts.query if parts.query else ""))


def frame_ancestors(shop_domain: str) -> str:
    sources = [f"https://{shop_domain}", SHOPIFY_ADMIN]
    if settings.SHOPIFY_ADMIN_ORIGIN:
        sources.append(settings.SHOPIFY_ADMIN_ORIGIN.rstrip("/"))  # the devstore's admin frame
    return "frame-ancestors " + " ".join(sources)


class EmbeddedMiddleware:
    """Verifies the session token of `/app/` requests and sets the framing headers.

    Embedded pages (a verified token) may be framed by the store's admin and admin.shopify.com
    only; every other response by nobody (`frame-ancestors 'none'` and X-Frame-Options DENY).
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        request.session_token = None  # type: ignore[attr-defined]
        request.embedded = False  # type: ignore[attr-defined]
        response = self._authenticate(request) or self.get_response(request)
        return self._frame_headers(request, response)

    def _authenticate(self, request: HttpRequest) -> HttpResponse | None:
        if not request.path.startswith("/app/"):
            return None
        bearer = _bearer(request)
        if not bearer and not request.GET.get("id_token"):
            if request.GET.get("embedded") == "1" and request.GET.get("shop"):
                return _patch_id_token_redirect(request)  # embedded, but no token yet
            return None  # not embedded: a sign-in link's session, or nothing
        try:
            token = session_token_verify(request)
        except SessionTokenInvalid as error:
            logger.info("session token refused: %s", error)
            if bearer:
                # App Bridge fetches a new token and retries once on this header.
                response = HttpResponse("Unauthorized", status=401, content_type="text/plain")
                response[RETRY_HEADER] = "1"
                return response
            return _patch_id_token_redirect(request)
        request.session_token = token  # type: ignore[attr-defined]
        request.embedded = True  # type: ignore[attr-defined]
        request.shopify_api_key = settings.SHOPIFY_API_KEY  # type: ignore[attr-defined]
        if bearer:
            request._dont_enforce_csrf_checks = True  # type: ignore[attr-defined]
        return None

    def _frame_headers(self, request: HttpRequest, response: HttpResponse) -> HttpResponse:
        token: SessionToken | None = getattr(request, "session_token", None)
        if token is not None:
            response["Content-Security-Policy"] = frame_ancestors(token.shop_domain)
            if "X-Frame-Options" in response:
                del response["X-Frame-Options"]
            return response
        csp = response.get("Content-Security-Policy", "")
        if "frame-ancestors" in csp:
            return response  # a page that set its own (the patch-id-token page)
        response["Content-Security-Policy"] = (
            f"{csp.rstrip('; ')}; frame-ancestors 'none'" if csp else "frame-ancestors 'none'"
        )
        response["X-Frame-Options"] = "DENY"
        return response


def session_token_authenticate(request: HttpRequest) -> ShopAuth | None:
    """The store of the request's verified session token, installed by token exchange when
    Imprint does not have it yet or has no usable token for it."""
    from imprint.shopify.oauth import (
        OAuthError,
        session_token_exchange,
        shop_install,
        shop_needs_install,
    )
    from imprint.shops.models import Shop
    from imprint.web.auth import STAFF_ACTOR, ShopAuth

    token: SessionToken | None = getattr(request, "session_token", None)
    if token is None:
        return None
    shop = Shop.objects.filter(domain=token.shop_domain).first()
    if shop_needs_install(shop=shop):
        try:
            grant = session_token_exchange(token=token.raw, claims=token.claims)
        except OAuthError as error:
            logger.warning("install of %s by token exchange failed: %s", token.shop_domain, error)
            return None
        shop = shop_install(shop_domain=token.shop_domain, grant=grant)
    if shop is None:
        return None
    return ShopAuth(shop=shop, actor=f"{STAFF_ACTOR} (Shopify user {token.user})")
