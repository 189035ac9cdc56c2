"""Admin GraphQL over HTTP: authentication, shapes, Shopify's numbers, pagination, filters."""

from __future__ import annotations

import pytest

from devstore.store import PLANS, DevStore
from tests.devstore.helpers import gql
from tests.devstore_fixtures import DEVSTORE_TOKEN

INVALID_TOKEN = {
    "errors": "[API] Invalid API key or access token (unrecognized login or wrong password)"
}
IDS_PAGE = """query($after: String, $q: String) {
  orders(first: 250, after: $after, sortKey: CREATED_AT, query: $q) {
    nodes { id name }
    pageInfo { hasNextPage endCursor }
  }
}"""


def _all_names(url: str, query: str | None = None) -> list[str]:
    names: list[str] = []
    after = None
    while True:
        body = gql(url, DEVSTORE_TOKEN, IDS_PAGE, {"after": after, "q": query}).json()
        page = body["data"]["orders"]
        names += [node["name"] for node in page["nodes"]]
        if not page["pageInfo"]["hasNextPage"]:
            return names
        after = page["pageInfo"]["endCursor"]


@pytest.fixture
def product(devstore: DevStore, devstore_shop):
    return devstore.product_create(
        shop=devstore_shop.domain, title="Snowboard Guide", variants=["PDF", "EPUB"]
    )


# --- authentication ------------------------------------------------------------------------------


def test_shop_query_answers_with_the_shop_and_its_cost(devstore_server, devstore_shop) -> None:
    response = gql(
        devstore_server.url,
        DEVSTORE_TOKEN,
        "{ shop { name email myshopifyDomain plan { displayName } } }",
    )

    assert response.status_code == 200
    assert response.headers["X-Shopify-API-Version"] == "2026-10"
    assert response.json() == {
        "data": {
            "shop": {
                "name": "Devstore A",
                "email": "owner@devstore-a.example",
                "myshopifyDomain": "devstore-a.myshopify.com",
                "plan": {"displayName": "Basic"},
            }
        },
        "extensions": {
            "cost": {
                "requestedQueryCost": 2,
                "actualQueryCost": 2,
                "throttleStatus": {
                    "maximumAvailable": 2000.0,
                    "currentlyAvailable": 1998,
                    "restoreRate": 100.0,
                },
            }
        },
    }


@pytest.mark.parametrize("token", ["", "shpat_wrong"])
def test_a_missing_or_wrong_token_is_a_401_and_costs_nothing(
    devstore, devstore_server, devstore_shop, token
) -> None:
    response = gql(devstore_server.url, token, "{ shop { name } }")

    assert response.status_code == 401
    assert response.json() == INVALID_TOKEN
    assert devstore.cost_log == []
    assert devstore.bucket(devstore_shop.domain).available == 2000


def test_a_revoked_token_is_a_401(devstore, devstore_server, devstore_shop) -> None:
    devstore.token_revoke(shop=devstore_shop.domain)

    response = gql(devstore_server.url, DEVSTORE_TOKEN, "{ shop { name } }")

    assert (response.status_code, response.json()) == (401, INVALID_TOKEN)


def test_an_uninstalled_shop_refuses_its_token(devstore, devstore_server, devstore_shop) -> None:
    devstore.shop_uninstall(shop=devstore_shop.domain)

    response = gql(devstore_server.url, DEVSTORE_TOKEN, "{ shop { name } }")

    assert (response.status_code, response.json()) == (401, INVALID_TOKEN)


def test_a_shop_header_must_agree_with_the_token(devstore, devstore_server, devstore_shop) -> None:
    devstore.shop_create(domain="other.myshopify.com", access_token="shpat_other", app_secret="s")
    query = "{ shop { myshopifyDomain } }"

    agreeing = gql(
        devstore_server.url,
        DEVSTORE_TOKEN,
        query,
        headers={"X-Shopify-Shop-Domain": "devstore-a.myshopify.com"},
    )
    by_host = gql(
        devstore_server.url, DEVSTORE_TOKEN, query, headers={"Host": "devstore-a.myshopify.com"}
    )
    other = gql(
        devstore_server.url,
        DEVSTORE_TOKEN,
        query,
        headers={"X-Shopify-Shop-Domain": "other.myshopify.com"},
    )

    assert agreeing.json()["data"] == {"shop": {"myshopifyDomain": "devstore-a.myshopify.com"}}
    assert by_host.json()["data"] == {"shop": {"myshopifyDomain": "devstore-a.myshopify.com"}}
    assert (other.status_code, other.json()) == (401, INVALID_TOKEN)


@pytest.mark.parametrize("status", [500, 502, 503])
def test_fail_next_answers_errors_then_recovers(
    devstore, devstore_server, devstore_shop, status
) -> None:
    devstore.fail_next(shop=devstore_shop.domain, count=2, status=status)

    answers = [gql(devstore_server.url, DEVSTORE_TOKEN, "{ shop { name } }") for _ in range(3)]

    assert [a.status_code for a in answers] == [status, status, 200]
    assert len(devstore.cost_log) == 1


def test_fail_next_429_says_when_to_retry(devstore, devstore_server, devstore_shop) -> None:
    devstore.fail_next(shop=devstore_shop.domain, count=1, status=429)

    response = gql(devstore_server.url, DEVSTORE_TOKEN, "{ shop { name } }")

    assert response.status_code == 429
    assert response.headers["Retry-After"] == "2.0"


# --- errors shaped like Shopify's ----------------------------------------------------------------


def test_an_unknown_field_is_shopifys_undefined_field_error(devstore_server, devstore_shop) -> None:
    body = gql(devstore_server.url, DEVSTORE_TOKEN, "{ shop { nme } }").json()

    assert body["errors"] == [
        {
            "message": "Field 'nme' doesn't exist on type 'Shop'",
            "locations": [{"line": 1, "column": 10}],
            "extensions": {"code": "undefinedField", "typeName": "Shop", "fieldName": "nme"},
        }
    ]
    assert "data" not in body


def test_a_syntax_error_has_its_location(devstore_server, devstore_shop) -> None:
    body = gql(devstore_server.url, DEVSTORE_TOKEN, "{ shop { name }").json()

    assert body["errors"][0]["locations"] == [{"line": 1, "column": 16}]
    assert body["errors"][0]["extensions"] == {"code": "GRAPHQL_PARSE_FAILED"}


def test_a_page_over_250_is_refused_and_costs_nothing(
    devstore, devstore_server, devstore_shop
) -> None:
    body = gql(
        devstore_server.url, DEVSTORE_TOKEN, "{ orders(first: 251) { nodes { id } } }"
    ).json()

    assert body["errors"][0]["message"] == (
        "The `first` argument on the `orders` connection must be between 0 and 250, got 251."
    )
    assert "data" not in body
    assert devstore.bucket(devstore_shop.domain).available == 2000


def test_a_query_over_1000_points_is_max_cost_exceeded(
    devstore, devstore_server, devstore_shop
) -> None:
    # 2 + 250 x (1 order + lineItems 2 + 10 x 1) = 3,252 points requested
    query = "{ orders(first: 250) { nodes { id lineItems(first: 10) { nodes { id } } } } }"

    body = gql(devstore_server.url, DEVSTORE_TOKEN, query).json()

    assert body["errors"][0]["extensions"] == {
        "code": "MAX_COST_EXCEEDED",
        "cost": 3252,
        "maxCost": 1000,
        "documentation": "https://shopify.dev/api/usage/rate-limits",
    }
    assert body["errors"][0]["message"].startswith(
        "Query cost is 3252, which exceeds the single query max cost limit (1000)."
    )
    assert body["extensions"]["cost"]["actualQueryCost"] is None
    assert devstore.bucket(devstore_shop.domain).available == 2000


# --- the cost model ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("plan", "restore_rate", "maximum"),
    [
        ("standard", 100, 2000),
        ("advanced", 200, 4000),
        ("plus", 1000, 20000),
        ("enterprise", 2000, 40000),
    ],
)
def test_each_plan_has_shopifys_bucket(
    devstore, devstore_server, plan, restore_rate, maximum
) -> None:
    devstore.shop_create(
        domain=f"{plan}.myshopify.com", plan=plan, access_token=f"shpat_{plan}", app_secret="s"
    )

    status = gql(devstore_server.url, f"shpat_{plan}", "{ shop { name } }").json()["extensions"]

    assert PLANS[plan] == (restore_rate, maximum)
    assert status["cost"]["throttleStatus"] == {
        "maximumAvailable": float(maximum),
        "currentlyAvailable": maximum - 1,
        "restoreRate": float(restore_rate),
    }


def test_the_requested_cost_is_reserved_and_refunded_to_the_actual(
    devstore, devstore_server, devstore_shop, product
) -> None:
    for _ in range(3):
        devstore.order_create(shop=devstore_shop.domain, lines=[(product.variants[0].id, 1)])
    # requested, first 50: 2 + 50 x (1 + 1 + 2 + 5 x 2) = 702; actual: 2 + 3 x (1 + 1 + 2 + 1 x 2) = 20
    query = """{ orders(first: 50) { nodes { id customer { email }
        lineItems(first: 5) { nodes { id product { id } } } } } }"""

    cost = gql(devstore_server.url, DEVSTORE_TOKEN, query).json()["extensions"]["cost"]

    assert (cost["requestedQueryCost"], cost["actualQueryCost"]) == (702, 20)
    assert cost["throttleStatus"]["currentlyAvailable"] == 2000 - 20
    assert devstore.cost_log == [
        {
            "shop": "devstore-a.myshopify.com",
            "requested": 702,
            "actual": 20,
            "throttled": False,
            "at": devstore.clock.now(),
            "available_before": 2000.0,
            "error": None,
        }
    ]


def test_a_short_bucket_throttles_and_refills_at_the_restore_rate(
    devstore, devstore_clock, devstore_server, devstore_shop
) -> None:
    query = "{ orders(first: 250) { nodes { id } } }"  # 252 requested, 2 actual (no orders)
    bucket = devstore.bucket(devstore_shop.domain)
    bucket.take(1900)  # 100 left

    throttled = gql(devstore_server.url, DEVSTORE_TOKEN, query).json()
    devstore_clock.advance((252 - 100) / 100)
    after_wait = gql(devstore_server.url, DEVSTORE_TOKEN, query).json()

    assert throttled == {
        "errors": [
            {
                "message": "Throttled",
                "extensions": {
                    "code": "THROTTLED",
                    "documentation": "https://shopify.dev/api/usage/rate-limits",
                },
            }
        ],
        "extensions": {
            "cost": {
                "requestedQueryCost": 252,
                "actualQueryCost": None,
                "throttleStatus": {
                    "maximumAvailable": 2000.0,
                    "currentlyAvailable": 100,
                    "restoreRate": 100.0,
                },
            }
        },
    }
    assert after_wait["extensions"]["cost"]["actualQueryCost"] == 2
    assert after_wait["extensions"]["cost"]["throttleStatus"]["currentlyAvailable"] == 250
    assert [entry["throttled"] for entry in devstore.cost_log] == [True, False]


def test_the_bucket_never_fills_past_its_maximum(devstore, devstore_clock, devstore_shop) -> None:
    bucket = devstore.bucket(devstore_shop.domain)
    bucket.take(500)
    devstore_clock.advance(3600)

    assert bucket.available == 2000


# --- pagination ----------------------------------------------------------------------------------


def test_orders_page_through_every_order_once(devstore, devstore_server, devstore_shop) -> None:
    devstore.orders_bulk_create(shop=devstore_shop.domain, count=600)

    names = _all_names(devstore_server.url)

    assert names == [f"#{1001 + i}" for i in range(600)]


def test_reverse_and_sort_keys(
    devstore, devstore_clock, devstore_server, devstore_shop, product
) -> None:
    first = devstore.order_create(shop=devstore_shop.domain, lines=[(product.variants[0].id, 1)])
    devstore_clock.advance(10)
    second = devstore.order_create(shop=devstore_shop.domain, lines=[(product.variants[0].id, 1)])
    devstore_clock.advance(10)
    devstore.order_update(shop=devstore_shop.domain, order_id=first.id, email="new@example.com")
    query = "query($k: OrderSortKeys, $r: Boolean) { orders(first: 5, sortKey: $k, reverse: $r) { nodes { name } } }"

    def names(key: str, reverse: bool) -> list[str]:
        data = gql(devstore_server.url, DEVSTORE_TOKEN, query, {"k": key, "r": reverse}).json()
        return [n["name"] for n in data["data"]["orders"]["nodes"]]

    assert names("CREATED_AT", False) == [first.name, second.name]
    assert names("CREATED_AT", True) == [second.name, first.name]
    assert names("UPDATED_AT", False) == [second.name, first.name]


def test_an_order_of_120_line_items_pages_its_line_items(
    devstore, devstore_server, devstore_shop
) -> None:
    products = [
        devstore.product_create(shop=devstore_shop.domain, title=f"Book {i}") for i in range(120)
    ]
    order = devstore.order_create(
        shop=devstore_shop.domain, lines=[(p.variants[0].id, 1) for p in products]
    )
    query = """query($id: ID!, $after: String) { order(id: $id) {
        lineItems(first: 50, after: $after) { nodes { id title } pageInfo { hasNextPage endCursor } } } }"""

    titles: list[str] = []
    pages = 0
    after = None
    while True:
        page = gql(
            devstore_server.url, DEVSTORE_TOKEN, query, {"id": order.gid, "after": after}
        ).json()
        items = page["data"]["order"]["lineItems"]
        titles += [node["title"] for node in items["nodes"]]
        pages += 1
        if not items["pageInfo"]["hasNextPage"]:
            break
        after = items["pageInfo"]["endCursor"]

    assert pages == 3
    assert titles == [f"Book {i}" for i in range(120)]


def test_edges_carry_cursors_and_page_info_both_ways(
    devstore, devstore_server, devstore_shop
) -> None:
    devstore.orders_bulk_create(shop=devstore_shop.domain, count=5)
    query = """query($after: String) { orders(first: 2, after: $after) {
        edges { cursor node { name } } pageInfo { hasNextPage hasPreviousPage startCursor endCursor } } }"""

    first = gql(devstore_server.url, DEVSTORE_TOKEN, query).json()["data"]["orders"]
    second = gql(
        devstore_server.url, DEVSTORE_TOKEN, query, {"after": first["pageInfo"]["endCursor"]}
    ).json()["data"]["orders"]

    assert [e["node"]["name"] for e in first["edges"]] == ["#1001", "#1002"]
    assert first["pageInfo"]["startCursor"] == first["edges"][0]["cursor"]
    assert (first["pageInfo"]["hasNextPage"], first["pageInfo"]["hasPreviousPage"]) == (True, False)
    assert [e["node"]["name"] for e in second["edges"]] == ["#1003", "#1004"]
    assert (second["pageInfo"]["hasNextPage"], second["pageInfo"]["hasPreviousPage"]) == (
        True,
        True,
    )


# --- filters and visibility ----------------------------------------------------------------------


def test_query_filters_on_status_and_dates(
    devstore, devstore_clock, devstore_server, devstore_shop, product
) -> None:
    variant = product.variants[0].id
    paid = devstore.order_create(shop=devstore_shop.domain, lines=[(variant, 1)])
    pending = devstore.order_create(
        shop=devstore_shop.domain, lines=[(variant, 1)], financial_status="pending"
    )
    devstore_clock.advance(86400)  # 2026-12-05T10:00:00Z
    refunded = devstore.order_create(shop=devstore_shop.domain, lines=[(variant, 2)])
    devstore.refund_create(
        shop=devstore_shop.domain, order_id=refunded.id, lines=[(refunded.line_items[0].id, 1)]
    )
    cancelled = devstore.order_create(shop=devstore_shop.domain, lines=[(variant, 1)])
    devstore.order_cancel(shop=devstore_shop.domain, order_id=cancelled.id)
    url = devstore_server.url

    assert _all_names(url, "financial_status:paid") == [paid.name, cancelled.name]
    assert _all_names(url, "financial_status:paid OR financial_status:partially_refunded") == [
        paid.name,
        refunded.name,
        cancelled.name,
    ]
    assert _all_names(url, "created_at:>=2026-12-05T00:00:00Z") == [refunded.name, cancelled.name]
    assert _all_names(url, "created_at:<'2026-12-05T00:00:00Z'") == [paid.name, pending.name]
    assert _all_names(
        url,
        "(financial_status:paid OR financial_status:partially_refunded) created_at:>=2026-12-05T00:00:00Z status:open",
    ) == [refunded.name]
    assert _all_names(url, "status:cancelled") == [cancelled.name]
    assert _all_names(url, "-financial_status:paid") == [pending.name, refunded.name]
    assert _all_names(url, "updated_at:>2026-12-05T10:00:00Z") == [refunded.name, cancelled.name]


def test_unknown_filters_are_ignored_with_a_warning(
    devstore, devstore_server, devstore_shop
) -> None:
    devstore.orders_bulk_create(shop=devstore_shop.domain, count=3)

    body = gql(devstore_server.url, DEVSTORE_TOKEN, IDS_PAGE, {"q": "colour:blue"}).json()

    assert [n["name"] for n in body["data"]["orders"]["nodes"]] == ["#1001", "#1002", "#1003"]
    assert body["extensions"]["search"] == [
        {
            "path": ["orders"],
            "query": "colour:blue",
            "warnings": [{"field": "colour", "message": "Invalid search field for this query."}],
        }
    ]


def test_orders_older_than_60_days_are_invisible_without_read_all_orders(
    devstore, devstore_clock, devstore_server, devstore_shop, product
) -> None:
    now = devstore_clock.now()
    old = devstore.order_create(
        shop=devstore_shop.domain, lines=[(product.variants[0].id, 1)], created_at=now - 61 * 86400
    )
    recent = devstore.order_create(
        shop=devstore_shop.domain, lines=[(product.variants[0].id, 1)], created_at=now - 59 * 86400
    )
    nodes = "query($ids: [ID!]!) { nodes(ids: $ids) { id } }"

    listed = _all_names(devstore_server.url)
    fetched = gql(devstore_server.url, DEVSTORE_TOKEN, nodes, {"ids": [old.gid, recent.gid]}).json()
    devstore.shop_update(shop=devstore_shop.domain, read_all_orders=True)
    listed_with_scope = _all_names(devstore_server.url)

    assert listed == [recent.name]
    assert fetched["data"]["nodes"] == [None, {"id": recent.gid}]
    assert listed_with_scope == [old.name, recent.name]


def test_nodes_fetch_orders_products_and_variants(
    devstore, devstore_server, devstore_shop, product
) -> None:
    order = devstore.order_create(shop=devstore_shop.domain, lines=[(product.variants[1].id, 3)])
    query = """query($ids: [ID!]!) { nodes(ids: $ids) { id
        ... on Order { name displayFinancialStatus lineItems(first: 5) { nodes { quantity variantTitle } } }
        ... on Product { title }
        ... on ProductVariant { title } } }"""
    ids = [order.gid, product.gid, product.variants[1].gid, "gid://shopify/Order/1"]

    body = gql(devstore_server.url, DEVSTORE_TOKEN, query, {"ids": ids}).json()

    assert body["data"]["nodes"] == [
        {
            "id": order.gid,
            "name": "#1001",
            "displayFinancialStatus": "PAID",
            "lineItems": {"nodes": [{"quantity": 3, "variantTitle": "EPUB"}]},
        },
        {"id": product.gid, "title": "Snowboard Guide"},
        {"id": product.variants[1].gid, "title": "EPUB"},
        None,
    ]
    # 4 ids x (1 + the costliest fragment: lineItems 2 + 5 x 1) = 32 requested
    assert body["extensions"]["cost"]["requestedQueryCost"] == 32


def test_a_malformed_global_id_is_an_error(devstore_server, devstore_shop) -> None:
    body = gql(devstore_server.url, DEVSTORE_TOKEN, '{ nodes(ids: ["abc"]) { id } }').json()

    assert body["errors"][0]["message"] == "Invalid global id 'abc'"
    assert body["errors"][0]["extensions"]["code"] == "argumentLiteralsIncompatible"


def test_products_are_found_by_title_for_a_picker(
    devstore, devstore_server, devstore_shop, product
) -> None:
    devstore.product_create(shop=devstore_shop.domain, title="Ünïcode Sound Pack")
    devstore.product_create(shop=devstore_shop.domain, title="Gift Wrapping")
    query = """query($q: String) { products(first: 10, query: $q) {
        nodes { title handle variants(first: 5) { nodes { title } } } } }"""

    def titles(q: str) -> list[str]:
        data = gql(devstore_server.url, DEVSTORE_TOKEN, query, {"q": q}).json()["data"]
        return [p["title"] for p in data["products"]["nodes"]]

    assert titles("title:*guide*") == ["Snowboard Guide"]
    assert titles("ünï") == ["Ünïcode Sound Pack"]
    assert titles("") == ["Snowboard Guide", "Ünïcode Sound Pack", "Gift Wrapping"]
    snowboard = gql(devstore_server.url, DEVSTORE_TOKEN, query, {"q": "snow"}).json()
    assert snowboard["data"]["products"]["nodes"] == [
        {
            "title": "Snowboard Guide",
            "handle": "snowboard-guide",
            "variants": {"nodes": [{"title": "PDF"}, {"title": "EPUB"}]},
        }
    ]
