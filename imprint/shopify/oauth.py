"""Getting and keeping a store's offline access token: installation (token exchange of a session
token, or the authorization-code grant), expiring tokens refreshed before they expire and on a
401, and the one-time migration of an old non-expiring token.

Token exchange and refresh go through `shopify_app` (Shopify's package); the authorization-code
exchange and the migration are not in it, so they are plain POSTs to the same endpoint. Every call
uses `http_client_new` from the Admin client, so IMPRINT_SHOPIFY_ADMIN_ORIGIN (the devstore) and our
timeouts apply. Tokens are stored only through `shop_token_set` (encrypted) and never logged: the
errors below say what failed, never with what.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import logging
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode, urlsplit

import httpx
from django.conf import settings
from django.db import transaction
from django.utils import timezone
from shopify_app import AppConfig, IdTokenDetails, refresh_access_token, token_exchange

from imprint.shopify.admin import AdminClient, Clock, ShopifyAuthError, http_client_new
from imprint.shops.models import Shop
from imprint.shops.services import (
    ShopInvalid,
    shop_domain_clean,
    shop_refresh_token_get,
    shop_token_get,
    shop_token_set,
)

logger = logging.getLogger(__name__)

# Refresh an expiring token this long before it expires: a sync that starts with four minutes
# left could outlive it, and a refresh costs one request.
REFRESH_MARGIN = dt.timedelta(minutes=5)
OFFLINE_TOKEN_TYPE = "urn:shopify:params:oauth:token-type:offline-access-token"  # noqa: S105
TOKEN_EXCHANGE_GRANT = "urn:ietf:params:oauth:grant-type:token-exchange"  # noqa: S105


class OAuthError(Exception):
    """Getting a token from Shopify failed; the message is safe to show and log."""


class InstallRefused(OAuthError):
    """An install callback that is forged, stale, for another shop, or with a bad state."""


class TokenRequestFailed(OAuthError):
    """Shopify's token endpoint refused or could not be reached."""


class TokenRefreshFailed(ShopifyAuthError):
    """The store's token expired and could not be refreshed: only opening the app again (token
    exchange) or reinstalling helps. A ShopifyAuthError, so syncs handle it like a 401."""


@dataclass(frozen=True)
class TokenGrant:
    """What the token endpoint gave. `expires_at` None: a token that never expires."""

    access_token: str
    scopes: str
    expires_at: dt.datetime | None = None
    refresh_token: str | None = None
    refresh_expires_at: dt.datetime | None = None

    def __repr__(self) -> str:  # never the tokens
        return f"TokenGrant(scopes={self.scopes!r}, expires_at={self.expires_at!r})"


def app_config() -> AppConfig:
    config: AppConfig = {
        "client_id": settings.SHOPIFY_API_KEY,
        "client_secret": settings.SHOPIFY_API_SECRET,
        "old_client_secret": settings.SHOPIFY_API_SECRET_PREVIOUS or None,
    }
    return config


def token_http_client() -> httpx.Client:
    return http_client_new(origin=settings.SHOPIFY_ADMIN_ORIGIN)


def admin_origin_for(shop_domain: str) -> str:
    """Where the store's admin is: https://{shop}, or the devstore in development."""
    return settings.SHOPIFY_ADMIN_ORIGIN.rstrip("/") or f"https://{shop_domain}"


# --- the authorization-code grant ----------------------------------------------------------------


def _hmac_escape(text: str, *, key: bool) -> str:
    # Shopify's own libraries escape these so that a value cannot fake a separator.
    text = text.replace("%", "%25").replace("&", "%26")
    return text.replace("=", "%3D") if key else text


def query_hmac_message(params: Iterable[tuple[str, str]]) -> str:
    """The string Shopify signs: the params without `hmac` and `signature`, sorted by key."""
    pairs = sorted(
        (_hmac_escape(k, key=True), _hmac_escape(v, key=False))
        for k, v in params
        if k not in ("hmac", "signature")
    )
    return "&".join(f"{k}={v}" for k, v in pairs)


def query_hmac_valid(*, params: Iterable[tuple[str, str]], secrets: Iterable[str]) -> bool:
    """Whether the query's `hmac` is the hex HMAC-SHA256 of the other params under a secret."""
    params = list(params)
    given = next((v for k, v in params if k == "hmac"), "")
    if not given:
        return False
    message = query_hmac_message(params).encode()
    return any(
        hmac.compare_digest(hmac.new(s.encode(), message, hashlib.sha256).hexdigest(), given)
        for s in secrets
        if s
    )


def authorize_url(*, shop_domain: str, state: str, redirect_uri: str) -> str:
    """Shopify's grant screen for `shop_domain`, coming back to `redirect_uri` with `state`."""
    params = {
        "client_id": settings.SHOPIFY_API_KEY,
        "scope": settings.SHOPIFY_SCOPES,
        "redirect_uri": redirect_uri,
        "state": state,
    }
    if settings.SHOPIFY_ADMIN_ORIGIN:
        params["shop"] = shop_domain  # the devstore's origin does not name the shop
    return f"{admin_origin_for(shop_domain)}/admin/oauth/authorize?{urlencode(params)}"


def _grant_from_answer(answer: dict[str, Any], *, now: dt.datetime) -> TokenGrant:
    token = answer.get("access_token")
    if not isinstance(token, str) or not token:
        raise TokenRequestFailed("Shopify's answer has no access token")
    expires_in = answer.get("expires_in")
    refresh = answer.get("refresh_token")
    refresh_in = answer.get("refresh_token_expires_in")
    return TokenGrant(
        access_token=token,
        scopes=str(answer.get("scope") or ""),
        expires_at=now + dt.timedelta(seconds=int(expires_in)) if expires_in else None,
        refresh_token=refresh if isinstance(refresh, str) and refresh else None,
        refresh_expires_at=now + dt.timedelta(seconds=int(refresh_in)) if refresh_in else None,
    )


def _token_post(*, shop_domain: str, body: dict[str, Any]) -> TokenGrant:
    now = timezone.now()
    url = f"https://{shop_domain}/admin/oauth/access_token"
    try:
        with token_http_client() as client:
            response = client.post(url, json=body, headers={"Accept": "application/json"})
    except httpx.HTTPError as error:
        raise TokenRequestFailed(f"Shopify could not be reached ({type(error).__name__})") from None
    try:
        answer = response.json()
    except ValueError:
        answer = {}
    if response.status_code != 200 or not isinstance(answer, dict):
        code = answer.get("error", "") if isinstance(answer, dict) else ""
        raise TokenRequestFailed(
            f"Shopify refused the token request (HTTP {response.status_code} {code})".strip()
        )
    return _grant_from_answer(answer, now=now)


def code_exchange(*, shop_domain: str, code: str) -> TokenGrant:
    """The offline token for an authorization code (expiring, as Shopify requires of public
    apps from 2027)."""
    return _token_post(
        shop_domain=shop_domain,
        body={
            "client_id": settings.SHOPIFY_API_KEY,
            "client_secret": settings.SHOPIFY_API_SECRET,
            "code": code,
            "expiring": 1,
        },
    )


# --- token exchange (embedded install) ----------------------------------------------------------


def _iso_parse(value: str | None) -> dt.datetime | None:
    if not value:
        return None
    return dt.datetime.fromisoformat(value.replace("Z", "+00:00"))


def session_token_exchange(*, token: str, claims: dict[str, Any]) -> TokenGrant:
    """An expiring offline token for the store of a verified session token."""
    details = IdTokenDetails(exchangeable=True, token=token, claims=claims)
    with token_http_client() as client:
        result = token_exchange(
            "offline", app_config(), id_token=details, expiring=True, http_client=client
        )
    if not result.ok or result.access_token is None:
        raise TokenRequestFailed(f"token exchange failed ({result.log.code})")
    issued = result.access_token
    return TokenGrant(
        access_token=issued.token,
        scopes=issued.scope or "",
        expires_at=_iso_parse(issued.expires),
        refresh_token=issued.refresh_token or None,
        refresh_expires_at=_iso_parse(issued.refresh_token_expires),
    )


def shop_install(*, shop_domain: str, grant: TokenGrant) -> Shop:
    """Record a new or returning store with its token: a reinstall keeps the store's data."""
    domain = shop_domain_clean(shop_domain)
    with transaction.atomic():
        shop, created = Shop.objects.get_or_create(
            domain=domain, defaults={"name": domain.removesuffix(".myshopify.com"), "email": ""}
        )
        _grant_store(shop=shop, grant=grant)
    logger.info("shop %s %s", domain, "installed" if created else "token renewed")
    return shop


def _grant_store(*, shop: Shop, grant: TokenGrant) -> None:
    shop_token_set(
        shop=shop,
        access_token=grant.access_token,
        expires_at=grant.expires_at,
        refresh_token=grant.refresh_token,
        refresh_expires_at=grant.refresh_expires_at,
        scopes=grant.scopes or None,
    )


def shop_needs_install(*, shop: Shop | None, now: dt.datetime | None = None) -> bool:
    """Whether a session token for this store must be exchanged for a new offline token: the
    store is new, uninstalled, has no token, or its token expired beyond refreshing."""
    if shop is None or shop.uninstalled_at is not None or not shop.has_token:
        return True
    now = now or timezone.now()
    expired = shop.access_token_expires_at is not None and shop.access_token_expires_at <= now
    refreshable = shop.refresh_token_expires_at is not None and shop.refresh_token_expires_at > now
    return expired and not refreshable


# --- refresh -------------------------------------------------------------------------------------


def shop_token_refresh(*, shop: Shop, stale_token: str | None = None) -> str:
    """Refresh the store's expiring token and store the new pair; the new access token.

    The row is locked while refreshing: a refresh token works once, so two workers must not
    both spend it. A worker that finds the token changed since it read it (`stale_token`, or
    an expiry no longer close) uses the new one instead of refreshing again."""
    now = timezone.now()
    with transaction.atomic():
        locked = Shop.objects.select_for_update().get(pk=shop.pk)
        current = shop_token_get(shop=locked)
        if stale_token is not None and current and current != stale_token:
            _copy_token_fields(locked, shop)
            return current
        if stale_token is None and not _expiring_soon(locked, now=now):
            _copy_token_fields(locked, shop)
            return current
        refresh = shop_refresh_token_get(shop=locked)
        if not refresh:
            raise TokenRefreshFailed("the store's access token cannot be refreshed")
        access: dict[str, Any] = {
            "shop": locked.domain.removesuffix(".myshopify.com"),
            "access_mode": "offline",
            "refresh_token": refresh,
            "expires": "",  # we decide when to refresh, not shopify_app's 60 s margin
            "refresh_token_expires": (
                locked.refresh_token_expires_at.strftime("%Y-%m-%dT%H:%M:%SZ")
                if locked.refresh_token_expires_at
                else ""
            ),
        }
        with token_http_client() as client:
            result = refresh_access_token(access, app_config(), http_client=client)
        if not result.ok or result.access_token is None:
            raise TokenRefreshFailed(f"the access token could not be refreshed ({result.log.code})")
        issued = result.access_token
        grant = TokenGrant(
            access_token=issued.token,
            scopes=issued.scope or "",
            expires_at=_iso_parse(issued.expires),
            refresh_token=issued.refresh_token or None,
            refresh_expires_at=_iso_parse(issued.refresh_token_expires),
        )
        _grant_store(shop=locked, grant=grant)
        _copy_token_fields(locked, shop)
    logger.info("shop %s access token refreshed", shop.domain)
    return grant.access_token


def _copy_token_fields(source: Shop, target: Shop) -> None:
    for name in (
        "access_token_encrypted",
        "access_token_expires_at",
        "refresh_token_encrypted",
        "refresh_token_expires_at",
        "scopes",
        "uninstalled_at",
    ):
        setattr(target, name, getattr(source, name))


def _expiring_soon(shop: Shop, *, now: dt.datetime) -> bool:
    expires = shop.access_token_expires_at
    return expires is not None and expires - now < REFRESH_MARGIN


def shop_access_token(*, shop: Shop, now: dt.datetime | None = None) -> str:
    """The store's access token, refreshed first when it expires within five minutes."""
    if _expiring_soon(shop, now=now or timezone.now()):
        return shop_token_refresh(shop=shop)
    return shop_token_get(shop=shop)


def admin_client_for(*, shop: Shop, clock: Clock | None = None) -> AdminClient:
    """An Admin client for the store with a fresh token, which refreshes once on a 401."""

    def on_unauthorized(stale: str) -> str | None:
        if shop.access_token_expires_at is None:
            return None  # a non-expiring token that is refused was revoked: nothing to refresh
        try:
            return shop_token_refresh(shop=shop, stale_token=stale)
        except TokenRefreshFailed as error:
            logger.warning("shop %s: %s", shop.domain, error)
            return None

    return AdminClient(
        domain=shop.domain,
        access_token=shop_access_token(shop=shop),
        clock=clock,
        on_unauthorized=on_unauthorized,
    )


# --- migrating a non-expiring token --------------------------------------------------------------


def shop_token_migrate(*, shop: Shop) -> bool:
    """Swap the store's old non-expiring offline token for an expiring one (Shopify's migration:
    token exchange with the old token as `subject_token`). False if it expires already; the old
    token stops working once the new one is stored."""
    if shop.access_token_expires_at is not None:
        return False
    old = shop_token_get(shop=shop)
    if not old:
        raise ShopInvalid(f"{shop.domain} has no access token to migrate")
    grant = _token_post(
        shop_domain=shop.domain,
        body={
            "client_id": settings.SHOPIFY_API_KEY,
            "client_secret": settings.SHOPIFY_API_SECRET,
            "grant_type": TOKEN_EXCHANGE_GRANT,
            "subject_token": old,
            "subject_token_type": OFFLINE_TOKEN_TYPE,
            "requested_token_type": OFFLINE_TOKEN_TYPE,
            "expiring": 1,
        },
    )
    if grant.expires_at is None or grant.refresh_token is None:
        raise TokenRequestFailed("Shopify answered the migration with a non-expiring token")
    _grant_store(shop=shop, grant=grant)
    logger.info("shop %s access token migrated to an expiring token", shop.domain)
    return True


def callback_shop(query_shop: str) -> str:
    """The shop named by a callback, validated (InstallRefused otherwise)."""
    try:
        return shop_domain_clean(query_shop)
    except ShopInvalid:
        raise InstallRefused("the shop is not a Shopify store domain") from None


def redirect_uri_valid(uri: str) -> bool:
    return urlsplit(uri).scheme in ("http", "https")
