"""Store isolation: shop A signed in, shop B's data present, every `/app/` route tried with
shop B's ids. The routes are read from the URL configuration, so a new page is covered as soon
as it exists, and a route this test cannot classify fails it until someone says how to try it."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any
from urllib.parse import quote

import pytest
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver

from imprint.catalog.models import Attachment, DigitalFile
from imprint.delivery.models import DownloadGrant
from imprint.delivery.tokens import grant_token
from imprint.orders.models import Order
from imprint.shops.models import PrivacyRequest, PrivacyRequestKind, ProductSettings, Shop
from imprint.shops.privacy import data_request_handle
from tests.shops.privacy_helpers import db_snapshot, privacy_sample
from tests.web.conftest import order_with_files, shopify_shop

pytestmark = pytest.mark.django_db

B_EMAIL = "buyer-of-b@shop-b.example"
B_FILE = "shop-b-secret-edition.pdf"
B_ORDER = "#B-9001"
B_NAMES = (B_EMAIL, B_FILE, B_ORDER, "Bertha", "Shop B")
B_PRODUCT = 7999000001

# Routes under /app/ that take no object id: shown to shop A, they must not show shop B's data.
NO_ID = {
    "app/",
    "app/logout",
    "app/settings/orders",
    "app/settings/orders/sync",
    "app/settings/orders/sync/progress",
    "app/settings/downloads",
    "app/settings/downloads/products",
    "app/files",
    "app/files/upload",
    "app/files/products",
    "app/email",
    "app/email/preview",
    "app/email/logo",
    "app/email/logo/remove",
    "app/email/test",
    "app/privacy/",
}
# Routes that name one of shop B's objects: the value for each URL parameter.
WITH_ID = {
    "app/orders/<int:order_id>",
    "app/orders/<int:order_id>/confirm/<str:action>",
    "app/orders/<int:order_id>/resend",
    "app/orders/<int:order_id>/reset",
    "app/orders/<int:order_id>/extend",
    "app/orders/<int:order_id>/restrict",
    "app/orders/<int:order_id>/restore",
    "app/settings/downloads/products/<int:product_id>/clear",
    "app/files/<int:file_id>/replace",
    "app/files/<int:file_id>/attach",
    "app/files/<int:file_id>/delete",
    "app/files/<int:file_id>/confirm-delete",
    "app/attachments/<int:attachment_id>/remove",
    "app/privacy/<int:request_id>/report",
}
# Routes that are not a store's pages: how to sign in (a one-time link carries its own store,
# tested in tests/web/test_auth.py).
NOT_STORE_SCOPED = {"app/login/<str:token>"}
CONFIRM_ACTIONS = ("resend", "reset", "extend", "restrict", "restore")


def _routes(resolvers: list[Any], prefix: str = "") -> Iterator[str]:
    for entry in resolvers:
        if isinstance(entry, URLResolver):
            yield from _routes(entry.url_patterns, prefix + str(entry.pattern))
        elif isinstance(entry, URLPattern):
            yield prefix + str(entry.pattern)


def app_routes() -> list[str]:
    return sorted(r for r in _routes(get_resolver().url_patterns) if r.startswith("app/"))


def test_every_app_route_is_classified() -> None:
    unclassified = set(app_routes()) - NO_ID - WITH_ID - NOT_STORE_SCOPED

    assert unclassified == set(), (
        "New /app/ routes: add each to NO_ID, WITH_ID (with its ids in _fill) or "
        "NOT_STORE_SCOPED in tests/web/test_store_isolation.py"
    )
    assert set(app_routes()) == NO_ID | WITH_ID | NOT_STORE_SCOPED  # no stale entries


@pytest.fixture
def shop_b_data(shop_b: Shop) -> dict[str, Any]:
    order = order_with_files(
        shop_b,
        files=(B_FILE,),
        name=B_ORDER,
        email=B_EMAIL,
        customer_first_name="Bertha",
        customer_last_name="Bee",
    )
    ProductSettings.objects.create(shop=shop_b, product_id=B_PRODUCT, max_downloads=3)
    payload = privacy_sample("customers_data_request", shop_b)
    payload["customer"]["email"] = B_EMAIL
    request = data_request_handle(shop=shop_b, webhook_id="b-request", payload=payload)
    return {
        "order_id": order.pk,
        "file_id": DigitalFile.objects.get(shop=shop_b).pk,
        "attachment_id": Attachment.objects.get(shop=shop_b).pk,
        "product_id": B_PRODUCT,
        "request_id": request.pk,
        "grant": DownloadGrant.objects.get(shop=shop_b),
    }


@pytest.fixture
def shop_a_data(shop_a: Shop) -> Order:
    return order_with_files(shop_a, files=("a-guide.pdf",), email="buyer@shop-a.example")


def _fill(route: str, ids: dict[str, Any]) -> list[str]:
    """The URLs of `route` with shop B's ids (one per confirm action)."""
    names = re.findall(r"<(?:\w+:)?(\w+)>", route)
    urls = ["/" + route]
    for name in names:
        values = CONFIRM_ACTIONS if name == "action" else (ids[name],)
        urls = [
            re.sub(rf"<(?:\w+:)?{name}>", str(value), url, count=1)
            for url in urls
            for value in values
        ]
    return urls


def _changeable() -> dict[str, Any]:
    snapshot = db_snapshot()
    snapshot.pop("sessions.Session", None)  # shop A's own session may be touched
    return snapshot


@pytest.mark.parametrize("route", sorted(WITH_ID))
def test_shop_b_objects_are_not_found_from_shop_a(
    route, client_a: Client, shop_a_data, shop_b_data
) -> None:
    before = _changeable()
    for url in _fill(route, shop_b_data):
        for method in ("get", "post"):
            response = getattr(client_a, method)(url)

            assert response.status_code in (403, 404, 405), (method, url, response.status_code)
            body = response.content.decode(errors="replace")
            assert [name for name in B_NAMES if name in body] == [], (method, url)
    assert _changeable() == before


@pytest.mark.parametrize("route", sorted(NO_ID - {"app/logout"}))
def test_pages_without_ids_show_nothing_of_shop_b(
    route, client_a: Client, shop_a: Shop, shop_a_data, shop_b_data, shopify
) -> None:
    shopify_shop(shopify, shop_a)
    # (query, the searched text: a search box shows it back, which is no leak)
    queries = [("", ""), (f"?q={B_EMAIL}", B_EMAIL), (f"?q={quote(B_ORDER)}", B_ORDER)]
    queries.append((f"?file={shop_b_data['file_id']}", ""))
    before_b = _shop_b_rows(shop_b_data)
    for query, echoed in queries:
        response = client_a.get(f"/{route}{query}")

        assert response.status_code in (200, 302, 405), (route, query, response.status_code)
        body = response.content.decode(errors="replace").replace(echoed or "\0", "")
        assert [name for name in B_NAMES if name in body] == [], (route, query)
    assert _shop_b_rows(shop_b_data) == before_b


def test_the_orders_page_of_shop_a_lists_its_own_order(client_a: Client, shop_a_data) -> None:
    # The check above would pass on an empty page: make sure the pages do show shop A's data.
    body = client_a.get("/app/").content.decode()

    assert shop_a_data.name in body


def _shop_b_rows(ids: dict[str, Any]) -> dict[str, Any]:
    return {
        label: [row for row in rows if row.get("shop_id") == ids["grant"].shop_id]
        for label, rows in db_snapshot().items()
    }


def test_a_download_link_cannot_be_turned_into_another_stores_link(
    client: Client, shop_a_data, shop_b_data
) -> None:
    grant_a = DownloadGrant.objects.get(order=shop_a_data)
    grant_b = shop_b_data["grant"]
    token_a = grant_token(grant_id=grant_a.pk, generation=grant_a.generation)
    forged = token_a.replace(
        token_a.split(".")[0], grant_token(grant_id=grant_b.pk, generation=1).split(".")[0]
    )
    before = _changeable()

    for url in (f"/d/{forged}", f"/d/{forged}/file"):
        response = client.get(url)

        assert response.status_code == 404
        assert B_FILE not in response.content.decode(errors="replace")
    assert _changeable() == before
    # The genuine link works, so the refusal above is about the store, not a broken link.
    assert client.get(f"/d/{token_a}").status_code == 200


def test_shop_a_cannot_download_shop_b_privacy_report_but_its_own(
    client_a: Client, shop_a: Shop, shop_b_data
) -> None:
    own = data_request_handle(
        shop=shop_a,
        webhook_id="a-request",
        payload=privacy_sample("customers_data_request", shop_a),
    )

    assert client_a.get(f"/app/privacy/{shop_b_data['request_id']}/report").status_code == 404
    mine = client_a.get(f"/app/privacy/{own.pk}/report")
    assert mine.status_code == 200
    assert (
        mine["Content-Disposition"] == f'attachment; filename="imprint-data-request-{own.pk}.json"'
    )
    assert PrivacyRequest.objects.filter(kind=PrivacyRequestKind.DATA_REQUEST).count() == 2


def test_an_uninstalled_store_cannot_use_its_pages(client_a: Client, shop_a: Shop) -> None:
    Shop.objects.filter(pk=shop_a.pk).update(uninstalled_at="2026-12-01T00:00:00Z")

    assert client_a.get("/app/").status_code == 403
