"""The Admin GraphQL client against scripted HTTP answers: throttling, retries, refusals.

The devstore tests (tests/orders/test_sync*.py) run the same client against a real server; these
pin the exact waits and the error kinds, one answer at a time.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from typing import Any

import httpx
import pytest

from devstore.clock import FakeClock
from imprint.shopify.admin import (
    MAX_TRANSIENT_ATTEMPTS,
    WAIT_MARGIN_SECONDS,
    AdminClient,
    ShopifyAuthError,
    ShopifyCostExceeded,
    ShopifyError,
    ShopifyQueryError,
    ShopifyUnavailable,
    http_client_new,
)

TOKEN = "shpat_secret_token_never_logged"
DOMAIN = "shop-a.myshopify.com"
QUERY = "query { shop { name } }"


def cost(requested: float, actual: float, available: float, rate: float = 100.0) -> dict:
    return {
        "cost": {
            "requestedQueryCost": requested,
            "actualQueryCost": actual,
            "throttleStatus": {
                "maximumAvailable": 2000.0,
                "currentlyAvailable": available,
                "restoreRate": rate,
            },
        }
    }


def ok(available: float = 1990.0, requested: float = 10, actual: float = 10) -> httpx.Response:
    return httpx.Response(
        200,
        json={"data": {"shop": {"name": "A"}}, "extensions": cost(requested, actual, available)},
    )


def throttled(requested: float, available: float) -> httpx.Response:
    return httpx.Response(
        200,
        json={
            "errors": [{"message": "Throttled", "extensions": {"code": "THROTTLED"}}],
            "extensions": cost(requested, 0, available),
        },
    )


class Script:
    """Answers requests in order and records them."""

    def __init__(self, *answers: httpx.Response | Exception) -> None:
        self.answers = list(answers)
        self.requests: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        answer = self.answers.pop(0)
        if isinstance(answer, Exception):
            raise answer
        return answer


def client_for(
    script: Callable[[httpx.Request], httpx.Response],
    clock: FakeClock,
    origin: str = "http://127.0.0.1:9",
) -> AdminClient:
    http = http_client_new(origin=origin, transport=httpx.MockTransport(script))
    return AdminClient(
        domain=DOMAIN, access_token=TOKEN, api_version="2026-10", clock=clock, http_client=http
    )


def test_requests_go_to_the_configured_origin_with_the_token_and_shop_headers() -> None:
    script = Script(ok())
    clock = FakeClock()

    result = client_for(script, clock, origin="http://127.0.0.1:8123").query(QUERY, {"a": 1})

    assert result.data == {"shop": {"name": "A"}}
    assert (result.cost.requested, result.cost.actual, result.cost.available) == (10, 10, 1990)
    (request,) = script.requests
    assert str(request.url) == "http://127.0.0.1:8123/admin/api/2026-10/graphql.json"
    assert request.headers["X-Shopify-Access-Token"] == TOKEN
    assert request.headers["X-Shopify-Shop-Domain"] == DOMAIN
    assert request.headers["Host"] == "127.0.0.1:8123"
    assert json.loads(request.content) == {"query": QUERY, "variables": {"a": 1}}
    assert clock.slept == []


def test_throttled_waits_exactly_what_the_bucket_needs_then_retries() -> None:
    script = Script(throttled(requested=252, available=52), ok())
    clock = FakeClock()
    client = client_for(script, clock)

    client.query(QUERY)

    assert clock.slept == [pytest.approx(2.0 + WAIT_MARGIN_SECONDS)]
    assert len(script.requests) == 2
    assert (client.stats.throttled, client.stats.requests, client.stats.points) == (1, 2, 10)


def test_a_known_query_waits_for_the_bucket_before_asking_instead_of_being_refused() -> None:
    script = Script(ok(available=5, requested=100, actual=100), ok())
    clock = FakeClock()
    client = client_for(script, clock)

    client.query(QUERY)
    client.query(QUERY)

    # 5 points left, the query asks for 100 at 100 points/s: 0.95 s, before the second request.
    assert clock.slept == [pytest.approx(0.95 + WAIT_MARGIN_SECONDS)]
    assert client.stats.throttled == 0


def test_429_waits_its_retry_after_and_retries() -> None:
    script = Script(httpx.Response(429, headers={"Retry-After": "3"}, text=""), ok())
    clock = FakeClock()

    client_for(script, clock).query(QUERY)

    assert clock.slept == [3.0]
    assert len(script.requests) == 2


def test_5xx_and_network_errors_are_retried_with_exponential_backoff() -> None:
    script = Script(
        httpx.Response(500, text="oops"),
        httpx.ConnectError("refused"),
        httpx.Response(503, text=""),
        ok(),
    )
    clock = FakeClock()

    result = client_for(script, clock).query(QUERY)

    assert result.data == {"shop": {"name": "A"}}
    assert clock.slept == [1.0, 2.0, 4.0]


def test_5xx_that_persist_raise_a_retryable_error_after_bounded_attempts() -> None:
    script = Script(*[httpx.Response(500, text="") for _ in range(MAX_TRANSIENT_ATTEMPTS)])
    clock = FakeClock()

    with pytest.raises(ShopifyUnavailable) as raised:
        client_for(script, clock).query(QUERY)

    assert str(raised.value) == "Shopify answered HTTP 500 5 times in a row; try again later"
    assert raised.value.retryable is True
    assert len(script.requests) == MAX_TRANSIENT_ATTEMPTS
    assert clock.slept == [1.0, 2.0, 4.0, 8.0]


@pytest.mark.parametrize("status", [401, 403])
def test_a_refused_token_raises_at_once_without_retrying(status: int) -> None:
    script = Script(httpx.Response(status, text=""))
    clock = FakeClock()

    with pytest.raises(ShopifyAuthError) as raised:
        client_for(script, clock).query(QUERY)

    assert raised.value.retryable is False
    assert "reinstall the app" in str(raised.value)
    assert len(script.requests) == 1
    assert clock.slept == []


def test_max_cost_exceeded_is_a_programming_error_not_a_wait() -> None:
    body = {
        "errors": [
            {
                "message": "Query cost is 1200, which exceeds the single query max cost limit (1000).",
                "extensions": {"code": "MAX_COST_EXCEEDED", "cost": 1200, "maxCost": 1000},
            }
        ]
    }
    script = Script(httpx.Response(200, json=body))
    clock = FakeClock()

    with pytest.raises(ShopifyCostExceeded) as raised:
        client_for(script, clock).query(QUERY)

    assert isinstance(raised.value, ShopifyQueryError)
    assert raised.value.retryable is False
    assert clock.slept == []


def test_other_graphql_errors_raise_with_shopifys_message() -> None:
    body = {"errors": [{"message": "Field 'nope' doesn't exist on type 'Shop'"}]}
    script = Script(httpx.Response(200, json=body))

    with pytest.raises(ShopifyQueryError) as raised:
        client_for(script, FakeClock()).query(QUERY)

    assert str(raised.value) == (
        "Shopify rejected the query: Field 'nope' doesn't exist on type 'Shop'"
    )


def test_the_access_token_is_never_logged(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    script = Script(httpx.Response(502, text=""), httpx.Response(401, text=""))

    with pytest.raises(ShopifyError):
        client_for(script, FakeClock()).query(QUERY)

    assert caplog.records  # the retry was logged
    assert all(TOKEN not in record.getMessage() for record in caplog.records)
    assert TOKEN not in repr(client_for(Script(), FakeClock()))


def _page(nodes: list[dict[str, Any]], *, has_next: bool, cursor: str | None) -> httpx.Response:
    return httpx.Response(
        200,
        json={
            "data": {
                "orders": {
                    "pageInfo": {"hasNextPage": has_next, "endCursor": cursor},
                    "nodes": nodes,
                }
            },
            "extensions": cost(252, len(nodes) + 2, 1000),
        },
    )


def test_order_refs_page_asks_for_paid_orders_since_the_window_and_maps_ids() -> None:
    import datetime as dt

    script = Script(
        _page(
            [
                {
                    "id": "gid://shopify/Order/9007199254740993",
                    "createdAt": "2026-11-30T10:00:00Z",
                    "updatedAt": "2026-12-01T10:00:00Z",
                    "displayFinancialStatus": "PARTIALLY_REFUNDED",
                }
            ],
            has_next=True,
            cursor="abc",
        )
    )
    client = client_for(script, FakeClock())

    page = client.order_refs_page(since=dt.datetime(2026, 10, 5, 8, 30, tzinfo=dt.UTC), after="x")

    assert [(r.shopify_id, r.financial_status) for r in page.orders] == [
        (9007199254740993, "partially_refunded")
    ]
    assert (page.has_next_page, page.end_cursor) == (True, "abc")
    variables = json.loads(script.requests[0].content)["variables"]
    assert variables == {
        "first": 250,
        "after": "x",
        "query": "created_at:>=2026-10-05T08:30:00Z "
        "(financial_status:paid OR financial_status:partially_refunded)",
    }
