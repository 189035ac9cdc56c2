"""The authorization-code install: query HMAC, shop validation, the state cookie."""

from __future__ import annotations

from urllib.parse import parse_qsl, urlencode, urlsplit

import pytest
from django.test import Client

from imprint.shopify.install_views import STATE_COOKIE
from imprint.shopify.oauth import query_hmac_message, query_hmac_valid
from imprint.shops.models import Shop
from tests.shopify.helpers import SECRET, sample

VECTORS = sample("hmac_test_vectors")["oauth_query_hmac"]
API_KEY = "imprint-test-client-id"


@pytest.fixture(autouse=True)
def _app(settings) -> None:
    settings.SHOPIFY_API_KEY = API_KEY
    settings.SHOPIFY_SCOPES = "read_orders,read_products"
    settings.SHOPIFY_ADMIN_ORIGIN = ""
    settings.PUBLIC_URL = "https://imprint.example"


def test_the_published_oauth_query_hmac_verifies() -> None:
    vector = VECTORS[0]
    params = parse_qsl(vector["query_before"])

    assert query_hmac_message(params) == vector["message"]
    assert query_hmac_valid(params=params, secrets=[vector["secret"]]) is True


@pytest.mark.parametrize("vector", [v for v in VECTORS if isinstance(v.get("params"), dict)][:1])
def test_the_python_library_vector_verifies(vector: dict) -> None:
    params = [(k, str(v)) for k, v in vector["params"].items()] + [("hmac", vector["hmac"])]

    assert query_hmac_message(params) == vector["message"]
    assert query_hmac_valid(params=params, secrets=[vector["secret"]]) is True


def test_separators_in_values_are_escaped_before_signing() -> None:
    vector = next(v for v in VECTORS if v.get("params") == {"a": "1&b=2", "c=3&d": "4"})

    assert query_hmac_message(list(vector["params"].items())) == vector["message"]


def test_a_tampered_query_fails_the_hmac() -> None:
    params = parse_qsl(VECTORS[0]["query_before"])
    tampered = [(k, "evil-shop.myshopify.com" if k == "shop" else v) for k, v in params]

    assert query_hmac_valid(params=tampered, secrets=["hush"]) is False
    assert query_hmac_valid(params=params, secrets=["not-hush"]) is False
    assert query_hmac_valid(params=[p for p in params if p[0] != "hmac"], secrets=["hush"]) is False


def test_install_sends_the_merchant_to_the_grant_screen_with_a_state_cookie(
    client: Client, db
) -> None:
    response = client.get("/auth/install?shop=Shop-A.myshopify.com")

    assert response.status_code == 302
    location = urlsplit(response["Location"])
    assert (location.scheme, location.netloc, location.path) == (
        "https",
        "shop-a.myshopify.com",
        "/admin/oauth/authorize",
    )
    query = dict(parse_qsl(location.query))
    assert query["client_id"] == API_KEY
    assert query["scope"] == "read_orders,read_products"
    assert query["redirect_uri"] == "https://imprint.example/auth/callback"
    assert len(query["state"]) >= 32
    cookie = response.cookies[STATE_COOKIE]
    assert cookie["httponly"] is True
    assert cookie["samesite"] == "Lax"
    assert cookie.value.startswith(f"shop-a.myshopify.com|{query['state']}:")  # and signed
    assert Shop.objects.count() == 0


def test_install_goes_to_the_devstore_when_the_admin_origin_is_set(
    client: Client, db, settings
) -> None:
    settings.SHOPIFY_ADMIN_ORIGIN = "http://127.0.0.1:8100"

    response = client.get("/auth/install?shop=shop-a.myshopify.com")

    assert response["Location"].startswith("http://127.0.0.1:8100/admin/oauth/authorize?")
    assert dict(parse_qsl(urlsplit(response["Location"]).query))["shop"] == "shop-a.myshopify.com"


@pytest.mark.parametrize(
    "shop",
    [
        "",
        "evil.example.com",
        "-shop.myshopify.com",
        "shop.myshopify.com.evil.com",
        "a_b.myshopify.com",
    ],
)
def test_install_refuses_a_shop_that_is_not_a_store_domain(client: Client, db, shop: str) -> None:
    response = client.get("/auth/install?" + urlencode({"shop": shop}))

    assert response.status_code == 400
    assert response.cookies[STATE_COOKIE].value == ""  # no state for a refused install


def _started(client: Client, shop: str = "shop-a.myshopify.com") -> str:
    response = client.get(f"/auth/install?shop={shop}")
    return dict(parse_qsl(urlsplit(response["Location"]).query))["state"]


def _signed(params: dict[str, str], secret: str = SECRET) -> str:
    import hashlib
    import hmac

    message = "&".join(f"{k}={v}" for k, v in sorted(params.items()))
    digest = hmac.new(secret.encode(), message.encode(), hashlib.sha256).hexdigest()
    return urlencode({**params, "hmac": digest})


def _callback_params(state: str, shop: str = "shop-a.myshopify.com") -> dict[str, str]:
    return {"code": "abc123", "shop": shop, "state": state, "timestamp": "1796378400"}


def test_a_callback_with_a_bad_hmac_is_refused_and_stores_nothing(client: Client, db) -> None:
    state = _started(client)

    response = client.get("/auth/callback?" + _signed(_callback_params(state), secret="wrong"))

    assert response.status_code == 400
    assert "not signed by Shopify" in response.content.decode()
    assert Shop.objects.count() == 0


def test_a_callback_with_another_state_is_refused_and_stores_nothing(client: Client, db) -> None:
    _started(client)

    response = client.get("/auth/callback?" + _signed(_callback_params("forged-state")))

    assert response.status_code == 400
    assert "not started here" in response.content.decode()
    assert Shop.objects.count() == 0


def test_a_callback_without_the_state_cookie_is_refused(client: Client, db) -> None:
    state = _started(client)
    other_browser = Client()

    response = other_browser.get("/auth/callback?" + _signed(_callback_params(state)))

    assert response.status_code == 400
    assert Shop.objects.count() == 0


def test_a_callback_for_another_store_than_the_install_is_refused(client: Client, db) -> None:
    state = _started(client, "shop-a.myshopify.com")

    response = client.get(
        "/auth/callback?" + _signed(_callback_params(state, shop="shop-b.myshopify.com"))
    )

    assert response.status_code == 400
    assert "another store" in response.content.decode()
    assert Shop.objects.count() == 0


def test_a_callback_with_a_shop_that_is_not_a_store_is_refused(client: Client, db) -> None:
    state = _started(client)

    response = client.get(
        "/auth/callback?" + _signed(_callback_params(state, shop="evil.example.com"))
    )

    assert response.status_code == 400
    assert Shop.objects.count() == 0
