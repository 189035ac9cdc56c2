"""The devstore's side of Shopify app authorization: the OAuth authorize page, the access token
endpoint (authorization code, token exchange, refresh, and the migration of a non-expiring token),
expiring tokens, revocation on uninstall, and the App Bridge session tokens of its admin frame.

Shopify's facts, as the devstore follows them:

- A session token is an HS256 JWT signed with the app's secret: `iss` https://{shop}/admin, `dest`
  https://{shop}, `aud` the client id, `sub` the staff user, `exp` one minute after `iat`, `nbf`,
  `jti`, `sid`.
- `POST /admin/oauth/access_token` takes a form or a JSON body with `client_id`, `client_secret`
  and `grant_type`: `authorization_code` (`code`), `urn:ietf:params:oauth:grant-type:token-exchange`
  (`subject_token` a session token, or with `subject_token_type`
  `urn:shopify:params:oauth:token-type:offline-access-token` an old non-expiring offline token to
  migrate), or `refresh_token` (`refresh_token`). `expiring=1` asks for an expiring offline token:
  access 1 hour, refresh 90 days; a refresh token works once.
- Uninstalling revokes every token of the shop.

The shop is not in the path: Imprint reaches the devstore through IMPRINT_SHOPIFY_ADMIN_ORIGIN, so
the grant says which shop is meant (the code, the session token's `dest`, the refresh token).
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import uuid
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any
from urllib.parse import urlencode, urlsplit

import jwt

from devstore.store import Invalid

if TYPE_CHECKING:
    from devstore.models import Shop
    from devstore.store import DevStore

ACCESS_TOKEN_SECONDS = 3600
REFRESH_TOKEN_SECONDS = 90 * 24 * 3600
CODE_SECONDS = 600  # an authorization code is exchanged at once; ten minutes is generous
SESSION_TOKEN_SECONDS = 60
SKEW_SECONDS = 10  # the clock skew Shopify allows on session tokens
DEFAULT_CLIENT_ID = "devstore-client-id"
DEFAULT_SCOPES = "read_orders,read_products"
GRANT_CODE = "authorization_code"
GRANT_EXCHANGE = "urn:ietf:params:oauth:grant-type:token-exchange"
GRANT_REFRESH = "refresh_token"
SUBJECT_ID_TOKEN = "urn:ietf:params:oauth:token-type:id_token"
SUBJECT_OFFLINE_TOKEN = "urn:shopify:params:oauth:token-type:offline-access-token"


class OAuthError(Exception):
    """A refused token request: `error` is Shopify's code (invalid_request, invalid_client,
    invalid_grant, invalid_subject_token)."""

    def __init__(self, error: str, description: str) -> None:
        super().__init__(description)
        self.error = error
        self.description = description


@dataclass
class Issued:
    """An access token the token endpoint issued."""

    shop: str
    expires_at: float | None  # None: never expires
    revoked: bool = False


@dataclass
class Refresh:
    shop: str
    expires_at: float
    used: bool = False


@dataclass
class Code:
    shop: str
    expires_at: float
    used: bool = False


@dataclass
class OAuth:
    """Grants of one devstore. Every method runs under the store's lock."""

    store: DevStore
    client_id: str = DEFAULT_CLIENT_ID
    scopes: str = DEFAULT_SCOPES
    app_url: str = "http://127.0.0.1:8000/app/"  # what the admin frame loads
    issued: dict[str, Issued] = field(default_factory=dict)
    refresh_tokens: dict[str, Refresh] = field(default_factory=dict)
    codes: dict[str, Code] = field(default_factory=dict)
    # Every grant answered, for tests: grant type, shop, expiring (never the tokens themselves).
    log: list[dict[str, Any]] = field(default_factory=list)

    # --- session tokens -------------------------------------------------------------------------

    def session_token(self, *, shop: str, sub: str = "1", lifetime: float | None = None) -> str:
        """A fresh App Bridge session token for `shop`, on the store's clock."""
        with self.store.lock:
            record = self.store.shop(shop)
            now = int(self.store.clock.now())
            claims = {
                "iss": f"https://{record.domain}/admin",
                "dest": f"https://{record.domain}",
                "aud": self.client_id,
                "sub": sub,
                "exp": now + int(lifetime if lifetime is not None else SESSION_TOKEN_SECONDS),
                "nbf": now,
                "iat": now,
                "jti": str(uuid.uuid4()),
                "sid": hashlib.sha256(f"{record.domain}:{sub}".encode()).hexdigest()[:32],
            }
            return jwt.encode(claims, record.app_secret, algorithm="HS256")

    def frame_url(self, *, shop: str) -> str:
        """The URL the admin frame loads: the app with Shopify's launch parameters."""
        with self.store.lock:
            record = self.store.shop(shop)
            host = _b64(f"{record.domain}/admin")
            query = urlencode(
                {
                    "embedded": "1",
                    "host": host,
                    "id_token": self.session_token(shop=record.domain),
                    "shop": record.domain,
                    "timestamp": str(int(self.store.clock.now())),
                }
            )
            separator = "&" if "?" in self.app_url else "?"
            return f"{self.app_url}{separator}{query}"

    # --- the authorize page ---------------------------------------------------------------------

    def authorize(self, *, shop: str, query: dict[str, str]) -> str:
        """Approve at once (the merchant always says yes here): where to send the browser back."""
        with self.store.lock:
            record = self.store.shop(shop)
            if query.get("client_id") != self.client_id:
                raise Invalid("unknown client_id")
            redirect_uri = query.get("redirect_uri", "")
            if urlsplit(redirect_uri).scheme not in ("http", "https"):
                raise Invalid("redirect_uri must be an http(s) URL")
            code = secrets.token_hex(16)
            now = self.store.clock.now()
            self.codes[code] = Code(shop=record.domain, expires_at=now + CODE_SECONDS)
            params = {
                "code": code,
                "host": _b64(f"{record.domain}/admin"),
                "shop": record.domain,
                "state": query.get("state", ""),
                "timestamp": str(int(now)),
            }
            message = "&".join(f"{k}={v}" for k, v in sorted(params.items()))
            params["hmac"] = hmac.new(
                record.app_secret.encode(), message.encode(), hashlib.sha256
            ).hexdigest()
            separator = "&" if "?" in redirect_uri else "?"
            return f"{redirect_uri}{separator}{urlencode(params)}"

    # --- the token endpoint ---------------------------------------------------------------------

    def token(self, body: dict[str, Any]) -> dict[str, Any]:
        """Answer `POST /admin/oauth/access_token`; raises OAuthError."""
        grant = str(body.get("grant_type") or GRANT_CODE)
        expiring = str(body.get("expiring", "0")) in ("1", "true", "True")
        with self.store.lock:
            if grant == GRANT_CODE:
                record = self._code_take(str(body.get("code", "")))
            elif grant == GRANT_EXCHANGE:
                subject_type = str(body.get("subject_token_type", SUBJECT_ID_TOKEN))
                subject = str(body.get("subject_token", ""))
                if subject_type == SUBJECT_OFFLINE_TOKEN:
                    record = self._migrate(subject, body)
                    expiring = True  # the point of the migration
                elif subject_type == SUBJECT_ID_TOKEN:
                    record = self._session_shop(subject)
                else:
                    raise OAuthError(
                        "invalid_request", f"unknown subject_token_type {subject_type}"
                    )
            elif grant == GRANT_REFRESH:
                record = self._refresh_take(str(body.get("refresh_token", "")))
                expiring = True
            else:
                raise OAuthError("unsupported_grant_type", f"unknown grant_type {grant}")
            self._client_check(record, body)
            self.log.append({"grant_type": grant, "shop": record.domain, "expiring": expiring})
            return self._issue(record, expiring=expiring)

    def _client_check(self, record: Shop, body: dict[str, Any]) -> None:
        if body.get("client_id") != self.client_id or not hmac.compare_digest(
            str(body.get("client_secret", "")).encode(), record.app_secret.encode()
        ):
            raise OAuthError("invalid_client", "Client credentials are invalid")

    def _code_take(self, code: str) -> Shop:
        found = self.codes.get(code)
        if found is None or found.used or found.expires_at <= self.store.clock.now():
            raise OAuthError("invalid_grant", "The authorization code is invalid or was used")
        found.used = True  # a code works once
        return self.store.shop(found.shop)

    def _session_shop(self, token: str) -> Shop:
        try:
            unverified = jwt.decode(token, options={"verify_signature": False})
            domain = urlsplit(str(unverified.get("dest", ""))).hostname or ""
            record = self.store.shop(domain)
            claims = jwt.decode(
                token,
                record.app_secret,
                algorithms=["HS256"],
                audience=self.client_id,
                # Times are checked below on the store's clock, which tests move.
                options={
                    "require": ["exp", "nbf", "iat", "dest", "aud"],
                    "verify_exp": False,
                    "verify_nbf": False,
                    "verify_iat": False,
                },
            )
        except Exception:
            raise OAuthError("invalid_subject_token", "The session token is invalid") from None
        now = self.store.clock.now()
        if not float(claims["nbf"]) - SKEW_SECONDS <= now <= float(claims["exp"]) + SKEW_SECONDS:
            raise OAuthError("invalid_subject_token", "The session token has expired")
        return record

    def _migrate(self, token: str, body: dict[str, Any]) -> Shop:
        record = self.store.shop_for_token(token)
        if record is None or not self.token_valid(token, record):
            raise OAuthError("invalid_subject_token", "The offline token is invalid")
        issued = self.issued.get(token)
        if issued is not None and issued.expires_at is not None:
            raise OAuthError("invalid_subject_token", "The offline token expires already")
        self._client_check(record, body)
        # The old token stops working once its expiring successor is issued.
        self.issued[token] = Issued(shop=record.domain, expires_at=None, revoked=True)
        return record

    def _refresh_take(self, token: str) -> Shop:
        found = self.refresh_tokens.get(token)
        if found is None or found.used or found.expires_at <= self.store.clock.now():
            raise OAuthError("invalid_grant", "The refresh token is invalid, expired or used")
        record = self.store.shop(found.shop)
        if not record.installed:
            raise OAuthError("invalid_grant", "The app is not installed")
        found.used = True  # single use: the answer carries the next one
        return record

    def _issue(self, record: Shop, *, expiring: bool) -> dict[str, Any]:
        now = self.store.clock.now()
        access = "shpat_" + secrets.token_hex(16)
        self.store.shop_install(shop=record.domain, access_token=access)
        answer: dict[str, Any] = {"access_token": access, "scope": self.scopes}
        if expiring:
            refresh = "shprt_" + secrets.token_hex(16)
            self.issued[access] = Issued(shop=record.domain, expires_at=now + ACCESS_TOKEN_SECONDS)
            self.refresh_tokens[refresh] = Refresh(
                shop=record.domain, expires_at=now + REFRESH_TOKEN_SECONDS
            )
            answer.update(
                expires_in=ACCESS_TOKEN_SECONDS,
                refresh_token=refresh,
                refresh_token_expires_in=REFRESH_TOKEN_SECONDS,
            )
        else:
            self.issued[access] = Issued(shop=record.domain, expires_at=None)
        return answer

    # --- checks and revocation ------------------------------------------------------------------

    def token_valid(self, token: str, record: Shop) -> bool:
        """Whether the Admin API takes `token` for `record` now: an issued token until it expires
        or is revoked; any other token only while it is the shop's current one."""
        with self.store.lock:
            if not record.token_valid:
                return False
            issued = self.issued.get(token)
            if issued is None:
                return token == record.access_token
            if issued.revoked or issued.shop != record.domain:
                return False
            return issued.expires_at is None or self.store.clock.now() < issued.expires_at

    def shop_revoke(self, domain: str) -> None:
        """Uninstall: every access and refresh token of the shop stops working."""
        with self.store.lock:
            for issued in self.issued.values():
                if issued.shop == domain:
                    issued.revoked = True
            for refresh in self.refresh_tokens.values():
                if refresh.shop == domain:
                    refresh.used = True
            record = self.store.shops.get(domain)
            if record is not None and record.access_token not in self.issued:
                self.issued[record.access_token] = Issued(
                    shop=domain, expires_at=None, revoked=True
                )


def _b64(text: str) -> str:
    import base64

    return base64.urlsafe_b64encode(text.encode()).decode().rstrip("=")
