"""The devstore's OAuth side: authorize page, token endpoint (form and JSON), expiring tokens,
single-use refresh tokens, revocation on uninstall, and session tokens."""

from __future__ import annotations

import hashlib
import hmac
from urllib.parse import parse_qsl, urlsplit

import httpx
import jwt
import pytest

from devstore.clock import FakeClock
from devstore.models import Shop
from devstore.oauth import DEFAULT_CLIENT_ID
from devstore.server import DevStoreServer
from devstore.store import DevStore
from tests.devstore_fixtures import DEVSTORE_DOMAIN, DEVSTORE_TOKEN
from tests.shopify.helpers import SECRET

QUERY = {"query": "{ shop { name } }"}


def graphql(server: DevStoreServer, token: str) -> int:
    response = httpx.post(
        f"{server.url}/admin/api/2026-10/graphql.json",
        json=QUERY,
        headers={"X-Shopify-Access-Token": token},
    )
    return response.status_code


def token_post(server: DevStoreServer, body: dict, *, form: bool = False) -> httpx.Response:
    url = f"{server.url}/admin/oauth/access_token"
    return httpx.post(url, data=body) if form else httpx.post(url, json=body)


def authorize(server: DevStoreServer, state: str = "s1") -> dict[str, str]:
    response = httpx.get(
        f"{server.url}/admin/oauth/authorize",
        params={
            "client_id": DEFAULT_CLIENT_ID,
            "scope": "read_orders",
            "redirect_uri": "http://imprint.test/auth/callback",
            "state": state,
            "shop": DEVSTORE_DOMAIN,
        },
    )
    assert response.status_code == 302
    location = urlsplit(response.headers["location"])
    assert location.netloc == "imprint.test"
    return dict(parse_qsl(location.query))


def session_token(server: DevStoreServer) -> str:
    response = httpx.post(f"{server.url}/_devstore/session_token", json={"shop": DEVSTORE_DOMAIN})
    assert response.status_code == 200
    return str(response.json()["token"])


def test_the_authorize_page_comes_back_signed_with_the_app_secret(
    devstore_shop: Shop, devstore_server: DevStoreServer
) -> None:
    params = authorize(devstore_server, state="nonce-1")

    assert params["state"] == "nonce-1"
    assert params["shop"] == DEVSTORE_DOMAIN
    given = params.pop("hmac")
    message = "&".join(f"{k}={v}" for k, v in sorted(params.items()))
    assert given == hmac.new(SECRET.encode(), message.encode(), hashlib.sha256).hexdigest()


@pytest.mark.parametrize("form", [False, True], ids=["json", "form"])
def test_a_code_is_exchanged_once_for_an_expiring_token(
    devstore_shop: Shop, devstore_server: DevStoreServer, form: bool
) -> None:
    code = authorize(devstore_server)["code"]
    body = {"client_id": DEFAULT_CLIENT_ID, "client_secret": SECRET, "code": code, "expiring": "1"}

    answer = token_post(devstore_server, body, form=form)

    assert answer.status_code == 200
    data = answer.json()
    assert sorted(data) == [
        "access_token",
        "expires_in",
        "refresh_token",
        "refresh_token_expires_in",
        "scope",
    ]
    assert (data["expires_in"], data["refresh_token_expires_in"]) == (3600, 7776000)
    assert graphql(devstore_server, data["access_token"]) == 200
    assert token_post(devstore_server, body, form=form).json()["error"] == "invalid_grant"


def test_a_wrong_client_secret_is_refused(
    devstore_shop: Shop, devstore_server: DevStoreServer
) -> None:
    code = authorize(devstore_server)["code"]

    answer = token_post(
        devstore_server, {"client_id": DEFAULT_CLIENT_ID, "client_secret": "nope", "code": code}
    )

    assert answer.status_code == 401
    assert answer.json()["error"] == "invalid_client"


def test_a_session_token_has_shopifys_claims_and_is_exchanged(
    devstore_shop: Shop, devstore_server: DevStoreServer, devstore_clock: FakeClock
) -> None:
    token = session_token(devstore_server)
    claims = jwt.decode(
        token,
        SECRET,
        algorithms=["HS256"],
        audience=DEFAULT_CLIENT_ID,
        options={"verify_exp": False, "verify_nbf": False, "verify_iat": False},
    )
    now = int(devstore_clock.now())
    assert claims["iss"] == f"https://{DEVSTORE_DOMAIN}/admin"
    assert claims["dest"] == f"https://{DEVSTORE_DOMAIN}"
    assert (claims["iat"], claims["nbf"], claims["exp"]) == (now, now, now + 60)
    assert {"sub", "jti", "sid"} <= set(claims)

    answer = token_post(
        devstore_server,
        {
            "client_id": DEFAULT_CLIENT_ID,
            "client_secret": SECRET,
            "grant_type": "urn:ietf:params:oauth:grant-type:token-exchange",
            "subject_token": token,
            "subject_token_type": "urn:ietf:params:oauth:token-type:id_token",
            "requested_token_type": "urn:shopify:params:oauth:token-type:offline-access-token",
            "expiring": 0,
        },
    )

    assert answer.status_code == 200
    assert sorted(answer.json()) == ["access_token", "scope"]  # expiring=0: never expires


def test_an_expired_or_forged_session_token_is_not_exchanged(
    devstore_shop: Shop, devstore_server: DevStoreServer, devstore_clock: FakeClock
) -> None:
    token = session_token(devstore_server)
    devstore_clock.advance(71)
    body = {
        "client_id": DEFAULT_CLIENT_ID,
        "client_secret": SECRET,
        "grant_type": "urn:ietf:params:oauth:grant-type:token-exchange",
    }

    # Expired 11 s ago on the devstore's clock: beyond the 10 s skew.
    stale = token_post(devstore_server, {**body, "subject_token": token})
    forged = token_post(devstore_server, {**body, "subject_token": token[:-4] + "AAAA"})

    assert stale.json()["error"] == "invalid_subject_token"
    assert forged.json()["error"] == "invalid_subject_token"


def test_expiring_tokens_lapse_after_an_hour_and_refresh_tokens_work_once(
    devstore_shop: Shop, devstore_server: DevStoreServer, devstore_clock: FakeClock
) -> None:
    code = authorize(devstore_server)["code"]
    first = token_post(
        devstore_server,
        {"client_id": DEFAULT_CLIENT_ID, "client_secret": SECRET, "code": code, "expiring": 1},
    ).json()
    devstore_clock.advance(3600)
    assert graphql(devstore_server, first["access_token"]) == 401

    refresh = {
        "client_id": DEFAULT_CLIENT_ID,
        "client_secret": SECRET,
        "grant_type": "refresh_token",
        "refresh_token": first["refresh_token"],
    }
    second = token_post(devstore_server, refresh, form=True)

    assert second.status_code == 200
    assert graphql(devstore_server, second.json()["access_token"]) == 200
    assert token_post(devstore_server, refresh).json()["error"] == "invalid_grant"


def test_uninstall_revokes_every_token_and_refresh_token(
    devstore: DevStore, devstore_shop: Shop, devstore_server: DevStoreServer
) -> None:
    code = authorize(devstore_server)["code"]
    issued = token_post(
        devstore_server,
        {"client_id": DEFAULT_CLIENT_ID, "client_secret": SECRET, "code": code, "expiring": 1},
    ).json()

    devstore.shop_uninstall(shop=DEVSTORE_DOMAIN)
    devstore.shop_install(shop=DEVSTORE_DOMAIN, access_token="shpat_after_reinstall")

    assert graphql(devstore_server, issued["access_token"]) == 401
    assert graphql(devstore_server, DEVSTORE_TOKEN) == 401
    assert graphql(devstore_server, "shpat_after_reinstall") == 200
    refreshed = token_post(
        devstore_server,
        {
            "client_id": DEFAULT_CLIENT_ID,
            "client_secret": SECRET,
            "grant_type": "refresh_token",
            "refresh_token": issued["refresh_token"],
        },
    )
    assert refreshed.json()["error"] == "invalid_grant"


def test_the_admin_frame_loads_the_app_with_a_fresh_session_token(
    devstore: DevStore, devstore_shop: Shop, devstore_server: DevStoreServer
) -> None:
    devstore.oauth.app_url = "http://imprint.test/app/"

    page = httpx.get(f"{devstore_server.url}/admin/apps/imprint?shop={DEVSTORE_DOMAIN}")

    assert page.status_code == 200
    assert '<iframe title="Imprint" src="http://imprint.test/app/?embedded=1&amp;' in page.text
    assert "id_token=ey" in page.text
