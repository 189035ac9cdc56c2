"""The Admin GraphQL client: the only code in Imprint that calls Shopify's Admin API.

Requests go through Shopify's own client (`shopify_app.admin_graphql_request`) with an injected
httpx client, so that timeouts are ours and `IMPRINT_SHOPIFY_ADMIN_ORIGIN` (the devstore) is
honoured: `shopify_app` always builds `https://{shop}.myshopify.com/...`, and the transport below
rewrites that origin. Its own retries are turned off (`max_retries=0`) because they sleep with
`time.sleep` and know nothing about GraphQL cost throttling; this module waits instead, on an
injectable clock, for exactly as long as Shopify's leaky bucket needs.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol
from urllib.parse import urlsplit

import httpx
from django.conf import settings
from shopify_app import admin_graphql_request
from shopify_app.types import GQLResult

from imprint.orders.data import LineItemData, OrderData
from imprint.shopify.graphql_payloads import (
    PayloadError,
    datetime_field,
    financial_status,
    gid_to_id,
    line_items_from_connection,
    order_from_node,
)

logger = logging.getLogger(__name__)

MAX_QUERY_COST = 1000  # Shopify refuses a single query that requests more (MAX_COST_EXCEEDED)
# Requested cost we aim under per query: the estimate below is Shopify's documented formula, and
# the margin covers a devstore or Shopify version that counts a field or two more.
QUERY_COST_BUDGET = 900
PAGE_SIZE = 250  # the largest `first` Shopify allows on a connection
CONNECT_TIMEOUT_SECONDS = 5.0
READ_TIMEOUT_SECONDS = 30.0  # a 250-order page answers in well under a second; 30 s is an outage
MAX_TRANSIENT_ATTEMPTS = 5  # 5xx and network errors: attempts before giving up (1+2+4+8 s waits)
BACKOFF_BASE_SECONDS = 1.0
MAX_THROTTLED_ATTEMPTS = 50  # a THROTTLED answer after an exact wait is rare; 50 in a row is a bug
# Added to every computed wait: floating point may leave the bucket a hair short of `requested`
# after waiting exactly, which would cost one more THROTTLED round trip.
WAIT_MARGIN_SECONDS = 0.001
LINE_ITEMS_FIRST = 5  # most digital orders have one to three lines; more are paged
LINE_ITEMS_PAGE = 100  # follow-up pages of an order with many lines
# An order's refunds come with it up to these limits, which cover almost every order; an order
# at either limit has its refunds fetched again in full (`_refunds_complete`).
REFUNDS_FIRST = 5
REFUND_LINES_FIRST = 25
REFUND_LINES_PAGE = 100  # refunded lines per follow-up page (about 200 points)
MAX_REFUNDS = 250  # refunds of one order the sync reads; an order with more is reported


class Clock(Protocol):
    def now(self) -> float: ...

    def sleep(self, seconds: float) -> None: ...


class SystemClock:
    """Real time: monotonic seconds, and a real sleep."""

    def now(self) -> float:
        return time.monotonic()

    def sleep(self, seconds: float) -> None:
        if seconds > 0:
            time.sleep(seconds)


# --- errors --------------------------------------------------------------------------------------


class ShopifyError(Exception):
    """Any failure talking to Shopify. `retryable` says whether trying again later can help."""

    retryable: bool = False


class ShopifyAuthError(ShopifyError):
    """Shopify refused the access token (401) or its scopes (403): only a reinstall helps."""


class ShopifyUnavailable(ShopifyError):
    """5xx answers, 429s or network errors that outlasted the retries."""

    retryable = True


class ShopifyQueryError(ShopifyError):
    """Shopify rejected the query itself (GraphQL errors, 400): a bug on our side."""


class ShopifyCostExceeded(ShopifyQueryError):
    """A query asked for more than 1,000 points: a programming error, the batch sizing is wrong."""


class ShopifyResponseInvalid(ShopifyError):
    """The answer is not the shape asked for."""


# --- results -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class QueryCost:
    requested: float
    actual: float
    maximum: float
    available: float  # after this query was charged
    restore_rate: float  # points per second


@dataclass(frozen=True)
class GraphQLResult:
    data: dict[str, Any]
    cost: QueryCost | None


@dataclass(frozen=True)
class OrderRef:
    """One order as the cheap listing sees it: enough to tell whether Imprint is up to date."""

    shopify_id: int
    created_at: dt.datetime
    updated_at: dt.datetime
    financial_status: str  # lowercase, like OrderData.financial_status


@dataclass(frozen=True)
class OrderRefPage:
    orders: tuple[OrderRef, ...]
    end_cursor: str | None
    has_next_page: bool


@dataclass
class AdminStats:
    """What this client spent: points charged, requests, and time waited for the bucket."""

    requests: int = 0
    points: float = 0.0
    throttled: int = 0
    waited_seconds: float = 0.0
    retries: int = 0


# --- the transport -------------------------------------------------------------------------------


class OriginRewrite(httpx.BaseTransport):
    """Send every request to `origin` (scheme://host:port) instead of the shop's own host."""

    def __init__(self, origin: str, inner: httpx.BaseTransport | None = None) -> None:
        parts = urlsplit(origin)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(f"{origin!r} is not an http(s) origin")
        self.scheme = parts.scheme
        self.host = parts.hostname
        self.port = parts.port
        self.inner = inner or httpx.HTTPTransport()

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        request.url = request.url.copy_with(scheme=self.scheme, host=self.host, port=self.port)
        request.headers["Host"] = request.url.netloc.decode("ascii")
        return self.inner.handle_request(request)

    def close(self) -> None:
        self.inner.close()


def http_client_new(
    *, origin: str = "", transport: httpx.BaseTransport | None = None
) -> httpx.Client:
    """An httpx client with our timeouts, pointed at `origin` when one is given."""
    if origin:
        transport = OriginRewrite(origin, transport)
    return httpx.Client(
        timeout=httpx.Timeout(READ_TIMEOUT_SECONDS, connect=CONNECT_TIMEOUT_SECONDS),
        transport=transport,
        follow_redirects=False,
    )


# --- the client ----------------------------------------------------------------------------------


def _errors(body: str) -> list[dict[str, Any]]:
    try:
        parsed = json.loads(body)
    except ValueError:
        return []
    errors = parsed.get("errors") if isinstance(parsed, dict) else None
    return [e for e in errors if isinstance(e, dict)] if isinstance(errors, list) else []


def _body_json(body: str) -> dict[str, Any]:
    try:
        parsed = json.loads(body)
    except ValueError:
        return {}
    return parsed if isinstance(parsed, dict) else {}


def _cost(extensions: Any) -> QueryCost | None:
    cost = extensions.get("cost") if isinstance(extensions, dict) else None
    if not isinstance(cost, dict):
        return None
    throttle = cost.get("throttleStatus") or {}
    try:
        return QueryCost(
            requested=float(cost.get("requestedQueryCost") or 0),
            actual=float(cost.get("actualQueryCost") or 0),
            maximum=float(throttle["maximumAvailable"]),
            available=float(throttle["currentlyAvailable"]),
            restore_rate=float(throttle["restoreRate"]),
        )
    except (KeyError, TypeError, ValueError):
        return None


def _last_response_headers(result: GQLResult) -> dict[str, str]:
    """The headers Shopify really sent: with max_retries=0 shopify_app answers a 429 with a
    synthesized response, and keeps the real one only in its HTTP log."""
    for entry in reversed(result.http_logs):
        res = getattr(entry, "res", None)
        headers = getattr(res, "headers", None)
        if headers:
            return {str(k).lower(): str(v) for k, v in headers.items()}
    return {str(k).lower(): str(v) for k, v in (result.response.headers or {}).items()}


class AdminClient:
    """Admin GraphQL for one store. Not thread-safe; one per sync run."""

    def __init__(
        self,
        *,
        domain: str,
        access_token: str,
        api_version: str | None = None,
        origin: str | None = None,
        clock: Clock | None = None,
        http_client: httpx.Client | None = None,
        on_unauthorized: Callable[[str], str | None] | None = None,
    ) -> None:
        self.domain = domain
        # Called once with the refused token on a 401: a new token to retry with (an expiring
        # token refreshed, imprint/shopify/oauth.py), or None to give up.
        self._on_unauthorized = on_unauthorized
        self._token = access_token  # never logged: shopify_app redacts it in its own logs
        self.api_version = api_version or settings.SHOPIFY_API_VERSION
        self.clock: Clock = clock or SystemClock()
        origin = settings.SHOPIFY_ADMIN_ORIGIN if origin is None else origin
        self._owns_http = http_client is None
        self.http = http_client or http_client_new(origin=origin)
        self.stats = AdminStats()
        # The bucket as last reported, and when: lets us wait before a query instead of being
        # refused (each refusal is a wasted round trip).
        self._bucket: QueryCost | None = None
        self._bucket_seen_at = 0.0
        self._requested: dict[str, float] = {}  # last requested cost per query shape
        self._per_order: dict[str, float] = {}  # requested points per order, per batch query

    def __enter__(self) -> AdminClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        if self._owns_http:
            self.http.close()

    def __repr__(self) -> str:
        return f"AdminClient({self.domain!r})"

    # -- waiting ----------------------------------------------------------------------------------

    def _wait(self, seconds: float) -> None:
        if seconds <= 0:
            return
        self.stats.waited_seconds += seconds
        self.clock.sleep(seconds)

    def _available_now(self) -> float | None:
        if self._bucket is None:
            return None
        restored = (self.clock.now() - self._bucket_seen_at) * self._bucket.restore_rate
        return min(self._bucket.maximum, self._bucket.available + restored)

    def _wait_for_points(self, requested: float) -> None:
        """Before a query whose cost we know: wait until the bucket holds it."""
        available = self._available_now()
        if available is None or self._bucket is None or available >= requested:
            return
        self._wait((requested - available) / self._bucket.restore_rate + WAIT_MARGIN_SECONDS)

    def _bucket_note(self, cost: QueryCost | None) -> None:
        if cost is not None and cost.restore_rate > 0:
            self._bucket = cost
            self._bucket_seen_at = self.clock.now()

    # -- one query --------------------------------------------------------------------------------

    def query(
        self,
        query: str,
        variables: dict[str, Any] | None = None,
        *,
        expected_cost: float | None = None,
    ) -> GraphQLResult:
        """Run one query: wait out throttling exactly, retry 429/5xx/network errors with
        backoff, and raise a ShopifyError subclass for everything else.

        `expected_cost` is the requested cost when the caller knows it (a batch of N orders);
        otherwise the last requested cost of the same query text is used. With it the client
        waits for the bucket before asking, instead of being refused and waiting after."""
        shape = query
        expected = expected_cost if expected_cost is not None else self._requested.get(shape)
        if expected is not None:
            self._wait_for_points(expected)
        transient = 0
        throttled = 0
        reauthorized = False
        while True:
            result = admin_graphql_request(
                query=query,
                shop=self.domain.removesuffix(".myshopify.com"),
                access_token=self._token,
                api_version=self.api_version,
                variables=variables,
                headers={"X-Shopify-Shop-Domain": self.domain},
                max_retries=0,
                http_client=self.http,
            )
            self.stats.requests += 1
            status = result.response.status
            if result.ok:
                cost = _cost(result.extensions)
                self._bucket_note(cost)
                if cost is not None:
                    self.stats.points += cost.actual
                    self._requested[shape] = cost.requested
                if not isinstance(result.data, dict):
                    raise ShopifyResponseInvalid("Shopify answered without data")
                return GraphQLResult(data=result.data, cost=cost)
            if status == 200:
                body = _body_json(result.response.body or "")
                errors = _errors(result.response.body or "")
                code = ((errors[0].get("extensions") or {}).get("code") if errors else None) or ""
                cost = _cost(body.get("extensions"))
                if code == "THROTTLED" and cost is not None and cost.restore_rate > 0:
                    throttled += 1
                    self.stats.throttled += 1
                    if throttled > MAX_THROTTLED_ATTEMPTS:
                        raise ShopifyUnavailable(
                            f"Shopify kept throttling after {throttled - 1} exact waits"
                        )
                    self._bucket_note(cost)
                    self._requested[shape] = cost.requested
                    self._wait(
                        (cost.requested - cost.available) / cost.restore_rate + WAIT_MARGIN_SECONDS
                    )
                    continue
                if code == "MAX_COST_EXCEEDED":
                    raise ShopifyCostExceeded(
                        f"query requested more than {MAX_QUERY_COST} points: "
                        f"{errors[0].get('message', '')}"
                    )
                messages = "; ".join(str(e.get("message", "")) for e in errors) or "no message"
                raise ShopifyQueryError(f"Shopify rejected the query: {messages}")
            if status == 401 and self._on_unauthorized is not None and not reauthorized:
                reauthorized = True  # one refresh and one retry: a second 401 is final
                fresh = self._on_unauthorized(self._token)
                if fresh and fresh != self._token:
                    self._token = fresh
                    continue
            if status == 401:
                raise ShopifyAuthError("Shopify refused the access token; reinstall the app")
            if status == 403:
                raise ShopifyAuthError(
                    "Shopify refused access: the app lacks a permission it needs; reinstall the app"
                )
            if status == 429:
                retry_after = _last_response_headers(result).get("retry-after", "")
                try:
                    delay = max(float(retry_after), 0.0)
                except ValueError:
                    delay = BACKOFF_BASE_SECONDS
                transient += 1
                if transient >= MAX_TRANSIENT_ATTEMPTS:
                    raise ShopifyUnavailable(
                        f"Shopify kept answering 429 Too Many Requests ({transient} times)"
                    )
                self.stats.retries += 1
                self._wait(delay)
                continue
            if status == 0 or status >= 500:
                transient += 1
                what = "could not be reached" if status == 0 else f"answered HTTP {status}"
                if transient >= MAX_TRANSIENT_ATTEMPTS:
                    raise ShopifyUnavailable(
                        f"Shopify {what} {transient} times in a row; try again later"
                    )
                delay = BACKOFF_BASE_SECONDS * 2 ** (transient - 1)
                logger.warning(
                    "shopify %s %s; retrying in %gs (attempt %d of %d)",
                    self.domain,
                    what,
                    delay,
                    transient,
                    MAX_TRANSIENT_ATTEMPTS,
                )
                self.stats.retries += 1
                self._wait(delay)
                continue
            raise ShopifyQueryError(f"Shopify answered HTTP {status} ({result.log.detail})")

    # -- orders -----------------------------------------------------------------------------------

    def order_refs_page(
        self, *, since: dt.datetime, after: str | None = None, first: int = PAGE_SIZE
    ) -> OrderRefPage:
        """One page of paid and partly refunded orders created since `since`, oldest first,
        with only what tells whether Imprint is up to date: about one point per order."""
        data = self.query(
            ORDER_REFS_QUERY, {"first": first, "after": after, "query": orders_search(since)}
        )
        connection = data.data.get("orders")
        if not isinstance(connection, dict):
            raise ShopifyResponseInvalid("orders is missing from Shopify's answer")
        refs = []
        try:
            for node in connection.get("nodes") or []:
                refs.append(_order_ref(node))
        except PayloadError as error:
            raise ShopifyResponseInvalid(f"an order in the listing is unusable: {error}") from error
        page_info = connection.get("pageInfo") or {}
        return OrderRefPage(
            orders=tuple(refs),
            end_cursor=page_info.get("endCursor"),
            has_next_page=bool(page_info.get("hasNextPage")),
        )

    def orders_fetch(
        self,
        refs: list[OrderRef],
        *,
        on_error: Callable[[int, str], None] | None = None,
    ) -> list[OrderData]:
        """Full details of these orders, in batches that stay under the per-query cost limit.
        Orders that are gone from Shopify are left out; an order whose data is unusable is
        reported to `on_error(shopify_id, message)` and left out."""
        found: list[OrderData] = []
        plain = [r for r in refs if r.financial_status != "partially_refunded"]
        refunded = [r for r in refs if r.financial_status == "partially_refunded"]
        for group, query in ((plain, ORDERS_QUERY), (refunded, ORDERS_WITH_REFUNDS_QUERY)):
            index = 0
            while index < len(group):
                per_order = self._per_order.get(query, QUERY_ESTIMATES[query])
                size = max(1, min(PAGE_SIZE, math.floor(QUERY_COST_BUDGET / per_order)))
                batch = group[index : index + size]
                index += len(batch)
                ids = [f"gid://shopify/Order/{r.shopify_id}" for r in batch]
                result = self.query(
                    query,
                    {"ids": ids, "lines": LINE_ITEMS_FIRST},
                    expected_cost=per_order * len(batch),
                )
                if result.cost is not None:
                    # The requested cost is linear in the batch: learn Shopify's own figure.
                    self._per_order[query] = result.cost.requested / len(batch)
                nodes = result.data.get("nodes")
                if not isinstance(nodes, list):
                    raise ShopifyResponseInvalid("nodes is missing from Shopify's answer")
                for ref, node in zip(batch, nodes, strict=False):
                    if node is None:
                        continue  # deleted since the listing
                    try:
                        found.append(self._order_complete(node))
                    except PayloadError as error:
                        if on_error is None:
                            raise
                        on_error(ref.shopify_id, str(error))
        return found

    def _order_complete(self, node: Any) -> OrderData:
        """The order with every line item, paging the nested connection when it has more."""
        lines_connection = (node or {}).get("lineItems") if isinstance(node, dict) else None
        page_info = (lines_connection or {}).get("pageInfo") or {}
        extra: list[LineItemData] = []
        cursor = page_info.get("endCursor")
        more = bool(page_info.get("hasNextPage"))
        while more:
            result = self.query(
                ORDER_LINES_QUERY, {"id": node.get("id"), "first": LINE_ITEMS_PAGE, "after": cursor}
            )
            order = result.data.get("node")
            connection = order.get("lineItems") if isinstance(order, dict) else None
            if not isinstance(connection, dict):
                raise PayloadError(f"the line items of {node.get('id')} could not be read")
            extra.extend(line_items_from_connection(connection, field="lineItems"))
            info = connection.get("pageInfo") or {}
            cursor = info.get("endCursor")
            more = bool(info.get("hasNextPage")) and cursor is not None
        refunds = node.get("refunds") if isinstance(node, dict) else None
        if isinstance(refunds, list) and _refunds_cut_short(refunds):
            try:
                complete = self._refunds_complete(node.get("id"), refunds)
            except ShopifyQueryError as error:
                # This order's refunds alone could not be read in full: report the order (the
                # sync records it and tries again next time) rather than fail the whole sync.
                raise PayloadError(f"the refunds of {node.get('id')}: {error}") from error
            node = {**node, "refunds": complete}
        return order_from_node(node, extra_lines=tuple(extra))

    def _refunds_complete(self, order_id: Any, first: list[Any]) -> list[dict[str, Any]]:
        """Every refund of the order, each with every refunded line, from the batch's `first`
        refunds and what it lacked: the ids of all refunds (up to MAX_REFUNDS, one point each),
        then the lines of each refund the batch did not bring in full, a page at a time. Each
        query asks for a bounded number of objects, so none can exceed Shopify's per-query
        limit; the points go only to the rare order with more refunds, or more refunded lines
        in one refund, than a batch asks for."""
        result = self.query(ORDER_REFUNDS_QUERY, {"id": order_id, "first": MAX_REFUNDS})
        order = result.data.get("node")
        ids = order.get("refunds") if isinstance(order, dict) else None
        if not isinstance(ids, list):
            raise PayloadError(f"the refunds of {order_id} could not be read")
        if len(ids) >= MAX_REFUNDS:
            raise PayloadError(f"{order_id} has {MAX_REFUNDS} refunds or more: not delivered")
        known = {r.get("id"): r for r in first if isinstance(r, dict)}
        complete = []
        for entry in ids:
            refund_id = entry.get("id") if isinstance(entry, dict) else None
            if not isinstance(refund_id, str):
                raise PayloadError(f"a refund of {order_id} has no id")
            what = f"the refunded lines of {refund_id}"
            if refund_id in known:  # the batch brought its first lines
                lines, cursor = _page(known[refund_id].get("refundLineItems"), what)
                if cursor is None:
                    complete.append({"id": refund_id, "refundLineItems": {"nodes": lines}})
                    continue
            else:
                lines, cursor = [], None
            while True:
                result = self.query(
                    REFUND_LINES_QUERY,
                    {"id": refund_id, "first": REFUND_LINES_PAGE, "after": cursor},
                )
                node = result.data.get("node")
                more, cursor = _page(
                    node.get("refundLineItems") if isinstance(node, dict) else None, what
                )
                lines += more
                if cursor is None:
                    break
            complete.append({"id": refund_id, "refundLineItems": {"nodes": lines}})
        return complete


def _refunds_cut_short(refunds: list[Any]) -> bool:
    """Whether a batch query's refunds may be missing some: as many as it asked for, or a
    refund with more refunded lines than it asked for."""
    if len(refunds) >= REFUNDS_FIRST:
        return True
    for refund in refunds:
        lines = refund.get("refundLineItems") if isinstance(refund, dict) else None
        info = lines.get("pageInfo") if isinstance(lines, dict) else None
        if isinstance(info, dict) and info.get("hasNextPage"):
            return True
    return False


def _page(connection: Any, what: str) -> tuple[list[Any], str | None]:
    """A connection's nodes, and the cursor of its next page (None on the last)."""
    nodes = connection.get("nodes") if isinstance(connection, dict) else None
    if not isinstance(nodes, list):
        raise PayloadError(f"{what} could not be read")
    info = connection.get("pageInfo") or {}
    if not info.get("hasNextPage"):
        return nodes, None
    cursor = info.get("endCursor")
    if not isinstance(cursor, str) or not cursor:
        raise PayloadError(f"{what}: a next page without a cursor")
    return nodes, cursor


def orders_search(since: dt.datetime) -> str:
    """Shopify's search syntax: paid or partly refunded orders created at or after `since`."""
    stamp = since.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    return f"created_at:>={stamp} (financial_status:paid OR financial_status:partially_refunded)"


def _order_ref(node: Any) -> OrderRef:
    if not isinstance(node, dict):
        raise PayloadError("order must be an object")
    return OrderRef(
        shopify_id=gid_to_id(node.get("id"), "Order", "id"),
        created_at=datetime_field(node.get("createdAt"), "createdAt"),
        updated_at=datetime_field(node.get("updatedAt"), "updatedAt"),
        financial_status=financial_status(node.get("displayFinancialStatus")),
    )


# --- queries -------------------------------------------------------------------------------------
# Costs follow Shopify's published calculation: an object is 1 point, a scalar 0, a connection
# 2 plus `first` times what each node selects. Only what OrderData needs is selected.

ORDER_REFS_QUERY = """
query OrderRefs($first: Int!, $after: String, $query: String!) {
  orders(first: $first, after: $after, sortKey: CREATED_AT, query: $query) {
    pageInfo { hasNextPage endCursor }
    nodes { id createdAt updatedAt displayFinancialStatus }
  }
}
"""

_LINE_FIELDS = "id title variantTitle quantity product { id } variant { id }"

_ORDER_FIELDS = f"""
      id name email createdAt updatedAt displayFinancialStatus cancelledAt test
      customer {{ firstName lastName email }}
      lineItems(first: $lines) {{
        pageInfo {{ hasNextPage endCursor }}
        nodes {{ {_LINE_FIELDS} }}
      }}"""

ORDERS_QUERY = f"""
query Orders($ids: [ID!]!, $lines: Int!) {{
  nodes(ids: $ids) {{
    ... on Order {{{_ORDER_FIELDS}
    }}
  }}
}}
"""

_REFUND_LINES_FIELDS = """
          pageInfo { hasNextPage endCursor }
          nodes { quantity lineItem { id } }
        """

ORDERS_WITH_REFUNDS_QUERY = f"""
query OrdersWithRefunds($ids: [ID!]!, $lines: Int!) {{
  nodes(ids: $ids) {{
    ... on Order {{{_ORDER_FIELDS}
      refunds(first: {REFUNDS_FIRST}) {{
        id
        refundLineItems(first: {REFUND_LINES_FIRST}) {{{_REFUND_LINES_FIELDS}}}
      }}
    }}
  }}
}}
"""

# The ids of every refund of one order, for an order whose refunds the batch query may have
# cut short (one point per refund, at most MAX_REFUNDS).
ORDER_REFUNDS_QUERY = """
query OrderRefunds($id: ID!, $first: Int!) {
  node(id: $id) {
    ... on Order {
      id
      refunds(first: $first) { id }
    }
  }
}
"""

# The refunded lines of one refund, a page at a time.
REFUND_LINES_QUERY = f"""
query RefundLines($id: ID!, $first: Int!, $after: String) {{
  node(id: $id) {{
    ... on Refund {{
      id
      refundLineItems(first: $first, after: $after) {{{_REFUND_LINES_FIELDS}}}
    }}
  }}
}}
"""

ORDER_LINES_QUERY = f"""
query OrderLines($id: ID!, $first: Int!, $after: String) {{
  node(id: $id) {{
    ... on Order {{
      id
      lineItems(first: $first, after: $after) {{
        pageInfo {{ hasNextPage endCursor }}
        nodes {{ {_LINE_FIELDS} }}
      }}
    }}
  }}
}}
"""

_LINE_COST = 1 + 2  # the line, its product, its variant
_ORDER_COST = 1 + 1 + (2 + LINE_ITEMS_FIRST * _LINE_COST)  # order, customer, line connection
_REFUNDS_COST = REFUNDS_FIRST * (1 + 2 + REFUND_LINES_FIRST * 2)
# Requested points per order of each batch query, before Shopify has told us the real figure.
QUERY_ESTIMATES = {
    ORDERS_QUERY: float(_ORDER_COST),
    ORDERS_WITH_REFUNDS_QUERY: float(_ORDER_COST + _REFUNDS_COST),
}
