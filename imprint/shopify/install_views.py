"""Installing Imprint outside the embedded admin: Shopify's authorization-code grant, and the page
where App Bridge fetches a fresh session token for a document load that came without one.

`/auth/install?shop=X` sends the browser to the store's grant screen with a random `state`, kept
in a signed, HttpOnly cookie bound to the store; `/auth/callback` accepts the answer only if the
store is a store domain, the query's HMAC is Shopify's, and the state and store are the ones of
the cookie; then it exchanges the code for an offline token. A refused callback stores nothing.
"""

from __future__ import annotations

import hmac
import logging
import secrets

from django.conf import settings
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.urls import reverse
from django.views.decorators.clickjacking import xframe_options_exempt
from django.views.decorators.http import require_GET
from shopify_app import app_home_patch_id_token

from imprint.shopify.oauth import (
    InstallRefused,
    OAuthError,
    admin_origin_for,
    app_config,
    authorize_url,
    callback_shop,
    code_exchange,
    query_hmac_valid,
    shop_install,
)

logger = logging.getLogger(__name__)

STATE_COOKIE = "imprint_oauth_state"
STATE_SALT = "imprint.shopify.oauth-state"
STATE_MAX_AGE_SECONDS = 10 * 60  # the merchant approves in seconds; ten minutes is generous


def _refused(request: HttpRequest, message: str, *, status: int = 400) -> HttpResponse:
    response = HttpResponse(
        f"Imprint could not be installed: {message}. Start again from the Shopify admin.",
        status=status,
        content_type="text/plain; charset=utf-8",
    )
    response.delete_cookie(STATE_COOKIE)
    return response


@require_GET
def install(request: HttpRequest) -> HttpResponse:
    try:
        shop = callback_shop(request.GET.get("shop", ""))
    except InstallRefused as error:
        return _refused(request, str(error))
    state = secrets.token_urlsafe(24)
    redirect_uri = settings.PUBLIC_URL + reverse("shopify-auth-callback")
    response = HttpResponseRedirect(
        authorize_url(shop_domain=shop, state=state, redirect_uri=redirect_uri)
    )
    # Lax is enough: Shopify brings the browser back by a top-level GET.
    response.set_signed_cookie(
        STATE_COOKIE,
        f"{shop}|{state}",
        salt=STATE_SALT,
        max_age=STATE_MAX_AGE_SECONDS,
        httponly=True,
        secure=settings.SESSION_COOKIE_SECURE,
        samesite="Lax",
    )
    return response


@require_GET
def callback(request: HttpRequest) -> HttpResponse:
    params = [(k, v) for k, values in request.GET.lists() for v in values]
    secrets_ = [settings.SHOPIFY_API_SECRET, settings.SHOPIFY_API_SECRET_PREVIOUS]
    try:
        shop = callback_shop(request.GET.get("shop", ""))
        if not query_hmac_valid(params=params, secrets=secrets_):
            raise InstallRefused("the request is not signed by Shopify")
        cookie = request.get_signed_cookie(
            STATE_COOKIE, default=None, salt=STATE_SALT, max_age=STATE_MAX_AGE_SECONDS
        )
        expected_shop, _, expected_state = (cookie or "").partition("|")
        state = request.GET.get("state", "")
        if not cookie or not state or not hmac.compare_digest(expected_state, state):
            raise InstallRefused("the install was not started here, or it took too long")
        if expected_shop != shop:
            raise InstallRefused("the install was started for another store")
        code = request.GET.get("code", "")
        if not code:
            raise InstallRefused("Shopify sent no authorization code")
    except InstallRefused as error:
        logger.warning("install callback refused: %s", error)
        return _refused(request, str(error))
    try:
        grant = code_exchange(shop_domain=shop, code=code)
    except OAuthError as error:
        logger.warning("install of %s failed: %s", shop, error)
        return _refused(request, str(error), status=502)
    shop_install(shop_domain=shop, grant=grant)
    # Into the app, inside the store's admin, where the session token takes over.
    target = f"{admin_origin_for(shop)}/admin/apps/{settings.SHOPIFY_API_KEY}"
    if settings.SHOPIFY_ADMIN_ORIGIN:
        target += f"?shop={shop}"
    response = HttpResponseRedirect(target)
    response.delete_cookie(STATE_COOKIE)
    return response


@require_GET
@xframe_options_exempt
def patch_id_token(request: HttpRequest) -> HttpResponse:
    """App Bridge alone: it obtains a session token and reloads `shopify-reload` with it."""
    try:
        callback_shop(request.GET.get("shop", ""))  # it becomes a frame-ancestors source
    except InstallRefused as error:
        return _refused(request, str(error))
    result = app_home_patch_id_token(
        {"method": "GET", "headers": {}, "url": request.build_absolute_uri(), "body": ""},
        app_config(),
    )
    response = HttpResponse(result.response.body, status=result.response.status)
    for name, value in result.response.headers.items():
        response[name] = value
    if result.ok and settings.SHOPIFY_ADMIN_ORIGIN:
        response["Content-Security-Policy"] = (
            response["Content-Security-Policy"].rstrip("; ")
            + f" {settings.SHOPIFY_ADMIN_ORIGIN.rstrip('/')};"
        )
    return response
