"""Embedded sign-in: App Bridge session tokens on /app/ requests, and the framing headers."""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Iterator
from typing import Any

import jwt
import pytest
import time_machine
from django.test import Client

from imprint.shops.models import Shop
from imprint.web.auth import login_link_create
from tests.shopify.helpers import SECRET

API_KEY = "imprint-test-client-id"
NOW = dt.datetime(2026, 12, 4, 10, 0, tzinfo=dt.UTC)
APP_BRIDGE = '<script src="https://cdn.shopify.com/shopifycloud/app-bridge.js"></script>'


@pytest.fixture(autouse=True)
def _api_key(settings) -> None:
    settings.SHOPIFY_API_KEY = API_KEY
    settings.SHOPIFY_ADMIN_ORIGIN = ""


@pytest.fixture
def frozen() -> Iterator[None]:
    with time_machine.travel(NOW, tick=False):
        yield


def session_token(
    shop: str,
    *,
    issued: dt.datetime = NOW,
    lifetime: int = 60,
    secret: str = SECRET,
    aud: str = API_KEY,
    dest: str | None = None,
    iss: str | None = None,
    drop: tuple[str, ...] = (),
) -> str:
    """A session token as Shopify's admin mints them."""
    at = int(issued.timestamp())
    claims: dict[str, Any] = {
        "iss": iss or f"https://{shop}/admin",
        "dest": dest or f"https://{shop}",
        "aud": aud,
        "sub": "42",
        "exp": at + lifetime,
        "nbf": at,
        "iat": at,
        "jti": str(uuid.uuid4()),
        "sid": "session-1",
    }
    for name in drop:
        claims.pop(name)
    return jwt.encode(claims, secret, algorithm="HS256")


def bearer(token: str) -> dict[str, str]:
    return {"HTTP_AUTHORIZATION": f"Bearer {token}"}


def assert_refused(response: Any) -> None:
    assert response.status_code == 401
    assert response["X-Shopify-Retry-Invalid-Session-Request"] == "1"
    assert b"Shop A" not in response.content


def test_a_valid_session_token_signs_in_to_its_store(client: Client, shop_a: Shop, frozen) -> None:
    response = client.get("/app/", **bearer(session_token(shop_a.domain)))

    assert response.status_code == 200
    assert response.context["request"].shop == shop_a
    assert response.context["request"].actor == "Store staff (Shopify user 42)"


def test_a_document_load_with_an_id_token_is_embedded_with_app_bridge(
    client: Client, shop_a: Shop, frozen
) -> None:
    token = session_token(shop_a.domain)
    response = client.get(f"/app/?embedded=1&shop={shop_a.domain}&host=abc&id_token={token}")

    assert response.status_code == 200
    html = response.content.decode()
    assert f'<meta name="shopify-api-key" content="{API_KEY}">' in html
    assert APP_BRIDGE in html
    assert html.index(APP_BRIDGE) < html.index("htmx.min.js")  # App Bridge is the first script
    assert "web/embedded.js" in html
    assert 'hx-boost="true"' in html
    assert response["Content-Security-Policy"] == (
        "frame-ancestors https://shop-a.myshopify.com https://admin.shopify.com"
    )
    assert "X-Frame-Options" not in response


def test_embedded_pages_allow_the_devstore_admin_as_a_frame_ancestor(
    client: Client, shop_a: Shop, frozen, settings
) -> None:
    settings.SHOPIFY_ADMIN_ORIGIN = "http://127.0.0.1:8100"

    response = client.get("/app/", **bearer(session_token(shop_a.domain)))

    assert response["Content-Security-Policy"] == (
        "frame-ancestors https://shop-a.myshopify.com https://admin.shopify.com "
        "http://127.0.0.1:8100"
    )


def test_standalone_pages_have_no_app_bridge_and_cannot_be_framed(
    client: Client, shop_a: Shop
) -> None:
    client.get(login_link_create(shop=shop_a).removeprefix("http://127.0.0.1:8000"))

    response = client.get("/app/")

    assert response.status_code == 200
    assert response.context["request"].shop == shop_a
    assert "app-bridge.js" not in response.content.decode()
    assert "shopify-api-key" not in response.content.decode()
    assert response["Content-Security-Policy"] == "frame-ancestors 'none'"
    assert response["X-Frame-Options"] == "DENY"


@pytest.mark.parametrize("path", ["/", "/healthz", "/d/not-a-token", "/app/"])
def test_pages_outside_the_embedded_admin_cannot_be_framed(client: Client, db, path: str) -> None:
    response = client.get(path)

    assert response["Content-Security-Policy"] == "frame-ancestors 'none'"
    assert response["X-Frame-Options"] == "DENY"


def test_an_expired_session_token_is_refused(client: Client, shop_a: Shop, frozen) -> None:
    token = session_token(shop_a.domain, issued=NOW - dt.timedelta(seconds=71))  # expired 11 s ago

    assert_refused(client.get("/app/", **bearer(token)))


def test_a_session_token_expired_within_the_10_second_skew_is_accepted(
    client: Client, shop_a: Shop, frozen
) -> None:
    token = session_token(shop_a.domain, issued=NOW - dt.timedelta(seconds=69))  # expired 9 s ago

    response = client.get("/app/", **bearer(token))

    assert response.status_code == 200
    assert response.context["request"].shop == shop_a


def test_a_session_token_not_yet_valid_beyond_the_skew_is_refused(
    client: Client, shop_a: Shop, frozen
) -> None:
    token = session_token(shop_a.domain, issued=NOW + dt.timedelta(seconds=11))

    assert_refused(client.get("/app/", **bearer(token)))


def test_a_session_token_not_yet_valid_within_the_skew_is_accepted(
    client: Client, shop_a: Shop, frozen
) -> None:
    token = session_token(shop_a.domain, issued=NOW + dt.timedelta(seconds=9))

    response = client.get("/app/", **bearer(token))

    assert response.status_code == 200
    assert response.context["request"].shop == shop_a


def test_a_session_token_for_another_app_is_refused(client: Client, shop_a: Shop, frozen) -> None:
    token = session_token(shop_a.domain, aud="another-app")

    assert_refused(client.get("/app/", **bearer(token)))


def test_a_session_token_with_a_wrong_signature_is_refused(
    client: Client, shop_a: Shop, frozen
) -> None:
    token = session_token(shop_a.domain, secret="not-the-app-secret-but-as-long-as-one")

    assert_refused(client.get("/app/", **bearer(token)))


def test_a_session_token_signed_with_the_previous_secret_is_accepted_during_rotation(
    client: Client, shop_a: Shop, frozen, settings
) -> None:
    settings.SHOPIFY_API_SECRET = "the-new-secret-after-rotation-32-bytes"
    settings.SHOPIFY_API_SECRET_PREVIOUS = SECRET

    response = client.get("/app/", **bearer(session_token(shop_a.domain)))

    assert response.status_code == 200


def test_a_session_token_whose_dest_is_another_store_is_refused(
    client: Client, shop_a: Shop, shop_b: Shop, frozen
) -> None:
    # Issued by shop A's admin but naming shop B as the destination.
    token = session_token(shop_a.domain, dest=f"https://{shop_b.domain}")

    assert_refused(client.get("/app/", **bearer(token)))


def test_a_session_token_for_another_store_than_the_shop_parameter_is_refused(
    client: Client, shop_a: Shop, shop_b: Shop, frozen
) -> None:
    token = session_token(shop_b.domain)

    assert_refused(client.get(f"/app/?shop={shop_a.domain}", **bearer(token)))


def test_a_session_token_of_store_b_shows_only_store_b(
    client: Client, shop_a: Shop, shop_b: Shop, frozen
) -> None:
    response = client.get("/app/", **bearer(session_token(shop_b.domain)))

    assert response.status_code == 200
    assert response.context["request"].shop == shop_b
    assert "Shop A" not in response.content.decode()


@pytest.mark.parametrize("claim", ["exp", "nbf", "iat", "dest", "iss", "sub"])
def test_a_session_token_missing_a_claim_is_refused(
    client: Client, shop_a: Shop, frozen, claim: str
) -> None:
    assert_refused(client.get("/app/", **bearer(session_token(shop_a.domain, drop=(claim,)))))


def test_a_session_token_whose_dest_is_not_a_store_is_refused(client: Client, db, frozen) -> None:
    token = session_token("evil.example.com")

    assert_refused(client.get("/app/", **bearer(token)))
    assert Shop.objects.count() == 0


def test_a_document_load_with_a_stale_id_token_bounces_to_fetch_a_new_one(
    client: Client, shop_a: Shop, frozen
) -> None:
    token = session_token(shop_a.domain, issued=NOW - dt.timedelta(minutes=5))

    response = client.get(f"/app/files?embedded=1&shop={shop_a.domain}&id_token={token}")

    assert response.status_code == 302
    assert response["Location"] == (
        f"/auth/patch-id-token?embedded=1&shop={shop_a.domain}"
        "&shopify-reload=%2Fapp%2Ffiles%3Fembedded%3D1%26shop%3Dshop-a.myshopify.com"
    )
    assert token not in response["Location"]


def test_an_embedded_load_without_an_id_token_bounces_to_fetch_one(
    client: Client, shop_a: Shop
) -> None:
    response = client.get(f"/app/?embedded=1&shop={shop_a.domain}")

    assert response.status_code == 302
    assert response["Location"].startswith("/auth/patch-id-token?embedded=1&shop=shop-a.")


def test_the_patch_id_token_page_loads_app_bridge_framed_by_the_store_only(
    client: Client, db
) -> None:
    response = client.get("/auth/patch-id-token?shop=shop-a.myshopify.com&shopify-reload=%2Fapp%2F")

    assert response.status_code == 200
    assert response.content.decode() == (
        f'<script data-api-key="{API_KEY}" '
        'src="https://cdn.shopify.com/shopifycloud/app-bridge.js"></script>'
    )
    assert response["Content-Security-Policy"] == (
        "frame-ancestors https://shop-a.myshopify.com https://admin.shopify.com;"
    )
    assert "X-Frame-Options" not in response


def test_the_patch_id_token_page_refuses_a_shop_that_is_not_a_store(client: Client, db) -> None:
    response = client.get("/auth/patch-id-token?shop=evil.example.com&shopify-reload=%2Fapp%2F")

    assert response.status_code == 400
    assert response["Content-Security-Policy"] == "frame-ancestors 'none'"


def test_a_bearer_request_needs_no_csrf_cookie(client: Client, shop_a: Shop, frozen) -> None:
    # Inside the admin's iframe the CSRF cookie may be blocked; the bearer token is the proof.
    csrf_client = Client(enforce_csrf_checks=True)

    response = csrf_client.post(
        "/app/settings/downloads",
        {"expiry_days": "7", "max_downloads": "3", "filename_mode": "original"},
        **bearer(session_token(shop_a.domain)),
    )

    assert response.status_code in (200, 302)
    shop_a.refresh_from_db()
    assert shop_a.download_expiry_days == 7


def test_a_cookie_session_post_still_needs_the_csrf_token(client: Client, shop_a: Shop) -> None:
    csrf_client = Client(enforce_csrf_checks=True)
    csrf_client.get(login_link_create(shop=shop_a).removeprefix("http://127.0.0.1:8000"))

    response = csrf_client.post(
        "/app/settings/downloads",
        {"expiry_days": "7", "max_downloads": "3", "filename_mode": "original"},
    )

    assert response.status_code == 403
    shop_a.refresh_from_db()
    assert shop_a.download_expiry_days == 30
