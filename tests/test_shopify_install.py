"""Installing Imprint in the devstore end to end, over real HTTP: the authorization-code grant,
the embedded first load (token exchange), expiring tokens refreshed before expiry and on a 401,
uninstall (the devstore revokes, Imprint's app/uninstalled webhook marks the store), reinstall,
and the migration of an old non-expiring token.

Imprint's time (time-machine) and the devstore's (FakeClock) start at the same instant and are
moved together, so an hour of token lifetime passes in no time.
"""

from __future__ import annotations

import datetime as dt
import html
import io
import re
from collections.abc import Iterator
from urllib.parse import urlsplit

import httpx
import pytest
import time_machine
from django.test import Client

from devstore.clock import FakeClock
from devstore.models import Shop as DevShop
from devstore.server import DevStoreServer
from devstore.store import DevStore
from imprint.shopify.admin import ShopifyAuthError
from imprint.shopify.oauth import admin_client_for, shop_access_token, shop_token_migrate
from imprint.shopify.products import products_search
from imprint.shops.models import Shop
from imprint.shops.services import shop_refresh_token_get, shop_token_get, shop_token_set
from tests.devstore_fixtures import DEVSTORE_DOMAIN, DEVSTORE_TOKEN, WebhookReceiver
from tests.shopify.helpers import run_queued

pytestmark = pytest.mark.django_db

CLIENT_ID = "imprint-devstore-client"
PUBLIC = "http://imprint.test"
START = dt.datetime.fromtimestamp(FakeClock.DEFAULT_START, tz=dt.UTC)
SHOP_QUERY = "{ shop { name } }"


@pytest.fixture
def traveller() -> Iterator[time_machine.Coordinates]:
    with time_machine.travel(START, tick=False) as coordinates:
        yield coordinates


@pytest.fixture
def app(
    settings,
    devstore: DevStore,
    devstore_shop: DevShop,
    devstore_server: DevStoreServer,
    traveller: time_machine.Coordinates,
) -> DevStoreServer:
    """Imprint pointed at the devstore, the devstore knowing Imprint as its app."""
    settings.SHOPIFY_API_KEY = CLIENT_ID
    settings.SHOPIFY_ADMIN_ORIGIN = devstore_server.url
    settings.PUBLIC_URL = PUBLIC
    devstore.oauth.client_id = CLIENT_ID
    devstore.oauth.app_url = f"{PUBLIC}/app/"
    return devstore_server


def advance(traveller: time_machine.Coordinates, clock: FakeClock, delta: dt.timedelta) -> None:
    traveller.shift(delta)
    clock.advance(delta.total_seconds())


def grants(devstore: DevStore) -> list[str]:
    return [entry["grant_type"].rsplit(":", 1)[-1] for entry in devstore.oauth.log]


def first_load(client: Client, server: DevStoreServer) -> httpx.Response | object:
    """Open the app in the devstore's admin: the frame's URL, loaded as the iframe would."""
    frame = httpx.get(f"{server.url}/admin/apps/{CLIENT_ID}?shop={DEVSTORE_DOMAIN}")
    assert frame.status_code == 200
    found = re.search(r'<iframe title="Imprint" src="([^"]+)"', frame.text)
    assert found is not None
    src = urlsplit(html.unescape(found.group(1)))
    assert f"{src.scheme}://{src.netloc}" == PUBLIC
    return client.get(f"{src.path}?{src.query}")


def admin_shop_name(shop: Shop) -> str:
    with admin_client_for(shop=shop) as client:
        return str(client.query(SHOP_QUERY).data["shop"]["name"])


def test_an_authorization_code_install_stores_an_expiring_token_encrypted(
    client: Client, app: DevStoreServer, devstore: DevStore
) -> None:
    started = client.get(f"/auth/install?shop={DEVSTORE_DOMAIN}")
    assert started.status_code == 302
    approved = httpx.get(started["Location"])  # the devstore approves at once
    assert approved.status_code == 302
    back = urlsplit(approved.headers["location"])
    assert (f"{back.scheme}://{back.netloc}", back.path) == (PUBLIC, "/auth/callback")

    finished = client.get(f"{back.path}?{back.query}")

    assert finished.status_code == 302
    assert finished["Location"] == f"{app.url}/admin/apps/{CLIENT_ID}?shop={DEVSTORE_DOMAIN}"
    shop = Shop.objects.get(domain=DEVSTORE_DOMAIN)
    token = shop_token_get(shop=shop)
    assert token == devstore.shop(DEVSTORE_DOMAIN).access_token
    assert token != DEVSTORE_TOKEN
    assert token not in shop.access_token_encrypted  # stored encrypted
    assert shop.access_token_expires_at == START + dt.timedelta(hours=1)
    assert shop.refresh_token_expires_at == START + dt.timedelta(days=90)
    assert shop.scopes == "read_orders,read_products"
    assert shop.uninstalled_at is None
    assert grants(devstore) == ["authorization_code"]
    assert devstore.oauth.log[0]["expiring"] is True
    # The code works once: the same callback again stores nothing new.
    again = client.get(f"{back.path}?{back.query}")
    assert again.status_code == 400
    assert shop_token_get(shop=Shop.objects.get(pk=shop.pk)) == token
    # And the token works on the Admin API.
    devstore.product_create(shop=DEVSTORE_DOMAIN, title="Field Guide")
    assert [p.title for p in products_search(shop=shop, query="guide")] == ["Field Guide"]


def test_the_first_load_in_the_admin_installs_by_token_exchange(
    client: Client, app: DevStoreServer, devstore: DevStore
) -> None:
    assert Shop.objects.count() == 0

    response = first_load(client, app)

    assert response.status_code == 200  # type: ignore[attr-defined]
    shop = Shop.objects.get(domain=DEVSTORE_DOMAIN)
    assert response.context["request"].shop == shop  # type: ignore[attr-defined]
    assert response["Content-Security-Policy"] == (  # type: ignore[index]
        f"frame-ancestors https://{DEVSTORE_DOMAIN} https://admin.shopify.com {app.url}"
    )
    assert grants(devstore) == ["token-exchange"]
    assert shop_token_get(shop=shop) == devstore.shop(DEVSTORE_DOMAIN).access_token
    assert shop.access_token_expires_at == START + dt.timedelta(hours=1)
    assert admin_shop_name(shop) == "Devstore A"
    # The next load has a token already: no second exchange.
    assert first_load(client, app).status_code == 200  # type: ignore[attr-defined]
    assert grants(devstore) == ["token-exchange"]


def test_a_token_close_to_expiry_is_refreshed_first_and_the_refresh_token_works_once(
    client: Client,
    app: DevStoreServer,
    devstore: DevStore,
    devstore_clock: FakeClock,
    traveller: time_machine.Coordinates,
) -> None:
    first_load(client, app)
    shop = Shop.objects.get(domain=DEVSTORE_DOMAIN)
    old_access, old_refresh = shop_token_get(shop=shop), shop_refresh_token_get(shop=shop)

    advance(traveller, devstore_clock, dt.timedelta(minutes=54))  # 6 minutes left: kept
    assert shop_access_token(shop=shop) == old_access
    advance(traveller, devstore_clock, dt.timedelta(minutes=2))  # 4 minutes left: refreshed

    assert admin_shop_name(shop) == "Devstore A"

    assert grants(devstore) == ["token-exchange", "refresh_token"]
    shop.refresh_from_db()
    assert shop_token_get(shop=shop) not in ("", old_access)
    assert shop_refresh_token_get(shop=shop) not in ("", old_refresh)
    assert shop.access_token_expires_at == START + dt.timedelta(minutes=56, hours=1)
    reused = httpx.post(
        f"{app.url}/admin/oauth/access_token",
        data={
            "client_id": CLIENT_ID,
            "client_secret": devstore.shop(DEVSTORE_DOMAIN).app_secret,
            "grant_type": "refresh_token",
            "refresh_token": old_refresh,
        },
    )
    assert reused.status_code == 400
    assert reused.json()["error"] == "invalid_grant"


def test_an_expired_token_is_refreshed_before_the_sync_calls_shopify(
    client: Client,
    app: DevStoreServer,
    devstore: DevStore,
    devstore_clock: FakeClock,
    traveller: time_machine.Coordinates,
) -> None:
    first_load(client, app)
    shop = Shop.objects.get(domain=DEVSTORE_DOMAIN)
    advance(traveller, devstore_clock, dt.timedelta(hours=3))

    assert admin_shop_name(shop) == "Devstore A"
    assert grants(devstore) == ["token-exchange", "refresh_token"]


def test_a_401_refreshes_once_and_retries(
    client: Client, app: DevStoreServer, devstore: DevStore
) -> None:
    first_load(client, app)
    shop = Shop.objects.get(domain=DEVSTORE_DOMAIN)
    refused = shop_token_get(shop=shop)
    with devstore.lock:
        devstore.oauth.issued[refused].revoked = True  # Shopify stopped taking it early

    assert admin_shop_name(shop) == "Devstore A"

    assert grants(devstore) == ["token-exchange", "refresh_token"]
    assert shop_token_get(shop=Shop.objects.get(pk=shop.pk)) != refused


def test_a_401_after_the_refresh_is_final(
    client: Client, app: DevStoreServer, devstore: DevStore
) -> None:
    first_load(client, app)
    shop = Shop.objects.get(domain=DEVSTORE_DOMAIN)
    devstore.shop_update(shop=DEVSTORE_DOMAIN, app_secret="rotated")  # refresh refused too
    with devstore.lock:
        devstore.oauth.issued[shop_token_get(shop=shop)].revoked = True

    with pytest.raises(ShopifyAuthError), admin_client_for(shop=shop) as admin:
        admin.query(SHOP_QUERY)

    assert grants(devstore) == ["token-exchange"]  # the refresh was refused: one attempt


def test_uninstall_revokes_and_reinstall_restores_the_store(
    client: Client,
    app: DevStoreServer,
    devstore: DevStore,
    webhook_receiver: WebhookReceiver,
) -> None:
    devstore.shop_update(shop=DEVSTORE_DOMAIN, webhook_url=webhook_receiver.url)
    first_load(client, app)
    shop = Shop.objects.get(domain=DEVSTORE_DOMAIN)
    revoked = shop_token_get(shop=shop)

    devstore.shop_uninstall(shop=DEVSTORE_DOMAIN)
    assert devstore.webhooks.wait_idle(5)
    [sent] = webhook_receiver.received
    assert sent.topic == "app/uninstalled"
    headers = {
        "HTTP_" + name.upper().replace("-", "_"): value
        for name, value in sent.headers.items()
        if name.lower().startswith("x-shopify-")
    }
    answer = client.post(
        "/webhooks/shopify", data=sent.body, content_type="application/json", **headers
    )
    assert answer.status_code == 200
    run_queued("webhooks")

    shop.refresh_from_db()
    assert shop.uninstalled_at is not None
    assert shop_token_get(shop=shop) == ""
    old = httpx.post(
        f"{app.url}/admin/api/2026-10/graphql.json",
        json={"query": SHOP_QUERY},
        headers={"X-Shopify-Access-Token": revoked},
    )
    assert old.status_code == 401

    # The merchant adds the app again: the first load exchanges a new session token.
    devstore.shop_install(shop=DEVSTORE_DOMAIN, access_token="shpat_reinstalled_by_merchant")
    response = first_load(client, app)

    assert response.status_code == 200  # type: ignore[attr-defined]
    shop.refresh_from_db()
    assert shop.uninstalled_at is None
    assert grants(devstore) == ["token-exchange", "token-exchange"]
    assert shop_token_get(shop=shop) not in ("", revoked)
    assert admin_shop_name(shop) == "Devstore A"


def test_an_old_non_expiring_token_is_migrated_once(
    app: DevStoreServer, devstore: DevStore, traveller: time_machine.Coordinates
) -> None:
    shop = Shop.objects.create(domain=DEVSTORE_DOMAIN, name="Devstore A")
    shop_token_set(shop=shop, access_token=DEVSTORE_TOKEN)  # a token from before expiring ones

    assert shop_token_migrate(shop=shop) is True

    shop.refresh_from_db()
    assert shop_token_get(shop=shop) not in ("", DEVSTORE_TOKEN)
    assert shop.access_token_expires_at == START + dt.timedelta(hours=1)
    assert shop.refresh_token_expires_at == START + dt.timedelta(days=90)
    assert grants(devstore) == ["token-exchange"]
    assert admin_shop_name(shop) == "Devstore A"
    old = httpx.post(
        f"{app.url}/admin/api/2026-10/graphql.json",
        json={"query": SHOP_QUERY},
        headers={"X-Shopify-Access-Token": DEVSTORE_TOKEN},
    )
    assert old.status_code == 401
    assert shop_token_migrate(shop=shop) is False  # expiring already: nothing to do
    assert grants(devstore) == ["token-exchange"]


def test_the_migrate_tokens_command_migrates_each_old_token(
    app: DevStoreServer, devstore: DevStore, traveller: time_machine.Coordinates
) -> None:
    from io import StringIO

    from django.core.management import call_command

    shop = Shop.objects.create(domain=DEVSTORE_DOMAIN, name="Devstore A")
    shop_token_set(shop=shop, access_token=DEVSTORE_TOKEN)
    out = StringIO()

    call_command("migrate_tokens", stdout=out)

    assert out.getvalue() == "Migrated 1 store(s) to expiring tokens; 0 failed.\n"
    shop.refresh_from_db()
    assert shop.access_token_expires_at == START + dt.timedelta(hours=1)


def _replay(client: Client, receiver: WebhookReceiver) -> None:
    """Hand Imprint every webhook the devstore sent to the receiver, as Shopify would, once."""
    for sent in receiver.received:
        headers = {
            "HTTP_" + name.upper().replace("-", "_"): value
            for name, value in sent.headers.items()
            if name.lower().startswith("x-shopify-")
        }
        answer = client.post(
            "/webhooks/shopify", data=sent.body, content_type="application/json", **headers
        )
        assert answer.status_code == 200
    receiver.received.clear()
    run_queued()


def test_a_whole_life_install_orders_uninstall_reinstall_and_shop_redact_in_the_devstore(
    client: Client,
    app: DevStoreServer,
    devstore: DevStore,
    devstore_clock: FakeClock,
    webhook_receiver: WebhookReceiver,
    traveller: time_machine.Coordinates,
) -> None:
    from django.core import mail

    from imprint.catalog.models import DigitalFile
    from imprint.catalog.services import file_attach, file_store
    from imprint.catalog.storage import storage_exists
    from imprint.delivery.models import DownloadGrant
    from imprint.delivery.services import grant_link_token
    from imprint.orders.models import LineItem, Order
    from tests.shopify.helpers import post_webhook
    from tests.shops.privacy_helpers import privacy_sample
    from tests.test_store_lifecycle import _rows_of

    devstore.shop_update(shop=DEVSTORE_DOMAIN, webhook_url=webhook_receiver.url)

    # Installed from the admin: the first load exchanges its session token for an access token.
    assert first_load(client, app).status_code == 200  # type: ignore[attr-defined]
    shop = Shop.objects.get(domain=DEVSTORE_DOMAIN)
    product = devstore.product_create(shop=DEVSTORE_DOMAIN, title="Field Guide")
    with io.BytesIO(b"%PDF-1.7 field guide\n" * 100) as source:
        stored = file_store(
            shop=shop, source=source, name="guide.pdf", content_type="application/pdf"
        )
    file_attach(file=stored, product_id=product.id)

    # Orders flow: the devstore's signed webhooks, the email, a download.
    devstore.order_create(
        shop=DEVSTORE_DOMAIN, lines=[(product.variants[0].id, 1)], email="zoe@example.com"
    )
    assert devstore.webhooks.wait_idle(5)
    _replay(client, webhook_receiver)
    order = Order.objects.get(shop=shop)
    assert [m.to for m in mail.outbox] == [["zoe@example.com"]]
    grant = DownloadGrant.objects.get(order=order)
    assert client.get(f"/d/{grant_link_token(grant)}/file").status_code == 200

    # Uninstalled: the devstore revokes the token and tells Imprint.
    devstore.shop_uninstall(shop=DEVSTORE_DOMAIN)
    assert devstore.webhooks.wait_idle(5)
    _replay(client, webhook_receiver)
    shop.refresh_from_db()
    assert (shop.is_installed, shop_token_get(shop=shop)) == (False, "")

    # Reinstalled: a new token exchange on the next first load; the data is still there.
    advance(traveller, devstore_clock, dt.timedelta(hours=1))
    devstore.shop_install(shop=DEVSTORE_DOMAIN, access_token="shpat_reinstalled")
    assert first_load(client, app).status_code == 200  # type: ignore[attr-defined]
    shop.refresh_from_db()
    assert shop.is_installed
    assert admin_shop_name(shop) == "Devstore A"
    assert Order.objects.filter(shop=shop).count() == 1

    # Uninstalled for good; Shopify's shop/redact comes 48 hours later.
    devstore.shop_uninstall(shop=DEVSTORE_DOMAIN)
    assert devstore.webhooks.wait_idle(5)
    _replay(client, webhook_receiver)
    ids = {
        "shop": {shop.pk},
        "order": {order.pk},
        "line": set(LineItem.objects.filter(order=order).values_list("pk", flat=True)),
        "grant": {grant.pk},
        "file": {stored.pk},
    }
    assert _rows_of(ids)["orders.Order.shop"] == 1
    advance(traveller, devstore_clock, dt.timedelta(hours=48))
    response = post_webhook(
        client,
        topic="shop/redact",
        shop=DEVSTORE_DOMAIN,
        payload=privacy_sample("shop_redact", shop),
    )
    run_queued()

    assert response.status_code == 200
    assert {label: count for label, count in _rows_of(ids).items() if count} == {}
    assert not DigitalFile.objects.filter(pk=stored.pk).exists()
    assert storage_exists(stored.storage_name) is False
