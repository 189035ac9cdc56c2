"""Admin GraphQL: parse and validate with graphql-core against the schema subset, price the query
like Shopify (requested cost up front, actual cost after), charge the store's leaky bucket, run it.

The cost formula (Shopify's documented calculation, simplified; the same formula gives the
requested cost from the query and the actual cost from what was returned):
- a scalar or enum field costs 0;
- an object costs 1 (a Shop, an Order, a Customer, a ProductVariant, each node of a list);
- a connection costs 2 plus, per node, the cost of the node's selection: `first` (or `last`) nodes
  in the requested cost, the nodes returned in the actual cost. `nodes { }` and `edges { node { } }`
  each count; `pageInfo`, `cursor` and the edges themselves are free;
- `nodes(ids:)` costs one object per id; a plain list (`Order.refunds`) `first` objects, 1 when
  `first` is not given; on an interface, the costliest fragment.
The bucket is charged the requested cost up front and refunded down to the actual cost (never
charged more than requested, as with Shopify).
"""

from __future__ import annotations

import base64
import binascii
import json
import math
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from graphql import (
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLError,
    GraphQLInterfaceType,
    GraphQLList,
    GraphQLObjectType,
    GraphQLSchema,
    InlineFragmentNode,
    OperationDefinitionNode,
    SelectionSetNode,
    build_schema,
    execute_sync,
    get_named_type,
    get_nullable_type,
    parse,
    validate,
)
from graphql.error import GraphQLSyntaxError
from graphql.execution.values import get_argument_values, get_variable_values
from graphql.utilities import get_operation_ast

from devstore.models import Customer, LineItem, Order, Product, Refund, Shop, Variant
from devstore.payloads import PLAN_DISPLAY_NAMES, gql_time
from devstore.schema import SDL
from devstore.search import (
    Filter,
    SearchSyntaxError,
    compare_number,
    compare_text,
    compare_time,
    search_match,
    search_parse,
    search_warnings,
)
from devstore.store import DevStore

MAX_PAGE_SIZE = 250  # Shopify: a connection returns at most 250 nodes per page
MAX_QUERY_COST = 1000  # Shopify: one query may not request more than 1,000 points
RATE_LIMITS_DOC = "https://shopify.dev/api/usage/rate-limits"
MAX_COST_MESSAGE = (
    "Query cost is {cost}, which exceeds the single query max cost limit ({limit}).\n\n"
    "See https://shopify.dev/concepts/about-apis/rate-limits for more information on how the\n"
    "cost of a query is calculated.\n\n"
    "To query larger amounts of data with fewer limits, bulk operations should be used instead.\n"
    "See https://shopify.dev/tutorials/perform-bulk-operations-with-admin-api for usage details.\n"
)
GID = re.compile(r"^gid://shopify/([A-Za-z]+)/(\d+)$")
FREE_TYPES = ("PageInfo",)  # part of the connection's 2 points

SCHEMA: GraphQLSchema = build_schema(SDL)


class RequestError(Exception):
    """The request is refused before it runs: a list of Shopify-shaped errors."""

    def __init__(self, errors: list[dict[str, Any]]) -> None:
        super().__init__(errors[0]["message"] if errors else "error")
        self.errors = errors


@dataclass
class Context:
    store: DevStore
    shop: Shop
    actual: int = 0
    search: list[dict[str, Any]] = field(default_factory=list)


# --- cost ----------------------------------------------------------------------------------------


def _is_connection(type_: Any) -> bool:
    return bool(getattr(type_, "name", "").endswith("Connection"))


def _is_object(type_: Any) -> bool:
    return isinstance(type_, GraphQLObjectType | GraphQLInterfaceType) and not (
        type_.name.endswith("Edge") or type_.name in FREE_TYPES or _is_connection(type_)
    )


class _Pricer:
    def __init__(self, fragments: dict[str, FragmentDefinitionNode], variables: dict[str, Any]):
        self.fragments = fragments
        self.variables = variables

    def selection(self, selection_set: SelectionSetNode | None, parent: Any) -> int:
        """The cost of the fields selected on one object of type `parent` (not the object)."""
        if selection_set is None:
            return 0
        total = 0
        by_condition: dict[str, int] = {}
        for selection in selection_set.selections:
            if isinstance(selection, FieldNode):
                total += self.field(selection, parent)
                continue
            if isinstance(selection, FragmentSpreadNode):
                fragment = self.fragments[selection.name.value]
                condition, inner = fragment.type_condition.name.value, fragment.selection_set
            elif isinstance(selection, InlineFragmentNode):
                condition = selection.type_condition.name.value if selection.type_condition else ""
                inner = selection.selection_set
            else:
                continue
            target = SCHEMA.get_type(condition) if condition else parent
            cost = self.selection(inner, target)
            if not condition or condition == parent.name:
                total += cost
            else:
                # On an interface only one fragment applies to each object: the costliest counts.
                by_condition[condition] = by_condition.get(condition, 0) + cost
        return total + max(by_condition.values(), default=0)

    def field(self, node: FieldNode, parent: Any) -> int:
        name = node.name.value
        if name.startswith("__"):
            return 0
        definition = parent.fields[name]
        named = get_named_type(definition.type)
        args = get_argument_values(definition, node, self.variables)
        if _is_connection(named):
            size = page_size(args, name, node)
            per_node = 0
            for sub in node.selection_set.selections if node.selection_set else ():
                if not isinstance(sub, FieldNode):
                    continue
                node_type = get_named_type(named.fields["nodes"].type)
                if sub.name.value == "nodes":
                    per_node += 1 + self.selection(sub.selection_set, node_type)
                elif sub.name.value == "edges" and sub.selection_set:
                    for inner in sub.selection_set.selections:
                        if isinstance(inner, FieldNode) and inner.name.value == "node":
                            per_node += 1 + self.selection(inner.selection_set, node_type)
            return 2 + size * per_node
        if not _is_object(named):
            return 0
        if name == "nodes" and "ids" in args:
            count = len(args["ids"])
        elif isinstance(get_nullable_type(definition.type), GraphQLList):
            count = args.get("first") or 1
        else:
            count = 1
        return count * (1 + self.selection(node.selection_set, named))


def page_size(args: dict[str, Any], name: str, node: FieldNode | None = None) -> int:
    """`first` or `last`, checked as Shopify does: one of them, at most 250."""
    size = args.get("first")
    which = "first"
    if size is None:
        size, which = args.get("last"), "last"
    locations = [node.loc.source.get_location(node.loc.start)] if node and node.loc else []
    where = [{"line": loc.line, "column": loc.column} for loc in locations]
    if size is None:
        raise RequestError(
            [
                {
                    "message": f"you must provide one of first or last for the `{name}` connection",
                    "locations": where,
                    "extensions": {"code": "BAD_REQUEST"},
                }
            ]
        )
    if size < 0 or size > MAX_PAGE_SIZE:
        raise RequestError(
            [
                {
                    "message": f"The `{which}` argument on the `{name}` connection must be between 0 and {MAX_PAGE_SIZE}, got {size}.",
                    "locations": where,
                    "extensions": {"code": "BAD_REQUEST", "maxPageSize": MAX_PAGE_SIZE},
                }
            ]
        )
    return int(size)


def _count_actual(next_: Callable[..., Any], root: Any, info: Any, **args: Any) -> Any:
    """graphql-core middleware: the actual cost, counted from what each field returned."""
    result = next_(root, info, **args)
    named = get_named_type(info.return_type)
    if result is None:
        return result
    if _is_connection(named):
        info.context.actual += 2
    elif _is_object(named):
        info.context.actual += (
            sum(1 for item in result if item is not None) if isinstance(result, list) else 1
        )
    return result


# --- pagination ----------------------------------------------------------------------------------


def _cursor(key: tuple[Any, int]) -> str:
    raw = json.dumps({"last_id": key[1], "last_value": key[0]}, separators=(",", ":"))
    return base64.b64encode(raw.encode()).decode()


def _cursor_key(cursor: str) -> tuple[Any, int]:
    try:
        data = json.loads(base64.b64decode(cursor.encode(), validate=True))
        return data["last_value"], int(data["last_id"])
    except (binascii.Error, ValueError, KeyError, TypeError):
        raise GraphQLError(f"Invalid cursor for current pagination: {cursor!r}") from None


def paginate(
    items: list[Any], key: Callable[[Any], tuple[Any, int]], args: dict[str, Any], name: str
) -> dict[str, Any]:
    """Cursor pagination over `items` sorted by `key` (value, id), reversed if asked."""
    size = page_size(args, name)
    reverse = bool(args.get("reverse"))
    keyed = sorted(((key(item), item) for item in items), key=lambda pair: pair[0], reverse=reverse)

    def beyond(k: tuple[Any, int], cursor: tuple[Any, int]) -> bool:
        return k < cursor if reverse else k > cursor

    start, end = 0, len(keyed)
    if args.get("after"):
        after = _cursor_key(args["after"])
        start = next((i for i, (k, _) in enumerate(keyed) if beyond(k, after)), len(keyed))
    if args.get("before"):
        before = _cursor_key(args["before"])
        end = next((i for i, (k, _) in enumerate(keyed) if not beyond(before, k)), len(keyed))
        end = max(end, start)
    if args.get("first") is not None:
        end = min(end, start + size)
    else:
        start = max(start, end - size)
    page = keyed[start:end]
    edges = [{"cursor": _cursor(k), "node": item} for k, item in page]
    return {
        "nodes": [item for _, item in page],
        "edges": edges,
        "pageInfo": {
            "hasNextPage": end < len(keyed),
            "hasPreviousPage": start > 0,
            "startCursor": edges[0]["cursor"] if edges else None,
            "endCursor": edges[-1]["cursor"] if edges else None,
        },
    }


def _by_id(obj: Any) -> tuple[Any, int]:
    return obj.id, obj.id


# --- search filters ------------------------------------------------------------------------------


def _order_status(order: Order, op: str, value: str) -> bool | None:
    value = value.lower()
    if value == "any":
        return True
    if value == "open":
        return order.closed_at is None and order.cancelled_at is None
    if value == "closed":
        return order.closed_at is not None
    if value == "cancelled":
        return order.cancelled_at is not None
    return None


def _order_name(order: Order, op: str, value: str) -> bool | None:
    return order.name == value or str(order.number) == value.lstrip("#")


ORDER_FILTER = {
    "financial_status": lambda o, op, v: o.financial_status == v.lower(),
    "created_at": lambda o, op, v: compare_time(o.created_at, op, v),
    "updated_at": lambda o, op, v: compare_time(o.updated_at, op, v),
    "processed_at": lambda o, op, v: compare_time(o.processed_at, op, v),
    "status": _order_status,
    "test": lambda o, op, v: o.test == (v.lower() == "true"),
    "email": lambda o, op, v: o.email.lower() == v.lower(),
    "name": _order_name,
    "id": lambda o, op, v: compare_number(o.id, op, v),
}


def _order_text(order: Order, word: str) -> bool:
    haystack = " ".join([order.name, order.email, order.first_name, order.last_name])
    return compare_text(haystack, word)


PRODUCT_FILTER = {
    "title": lambda p, op, v: compare_text(p.title, v),
    "handle": lambda p, op, v: p.handle == v,
    "vendor": lambda p, op, v: compare_text(p.vendor, v),
    "id": lambda p, op, v: compare_number(p.id, op, v),
    "created_at": lambda p, op, v: compare_time(p.created_at, op, v),
    "updated_at": lambda p, op, v: compare_time(p.updated_at, op, v),
}


def _filtered(items: list[Any], query: str | None, spec: Filter, info: Any) -> list[Any]:
    try:
        tree = search_parse(query)
    except SearchSyntaxError as exc:
        raise GraphQLError(f"Invalid search query: {exc}") from None
    warnings = search_warnings(tree, spec)
    if warnings:
        info.context.search.append(
            {"path": list(info.path.as_list()), "query": query, "warnings": warnings}
        )
    return [item for item in items if search_match(tree, item, spec)]


# --- resolvers -----------------------------------------------------------------------------------

ORDER_SORT: dict[str, Callable[[Order], tuple[Any, int]]] = {
    "ID": _by_id,
    "RELEVANCE": _by_id,
    "CREATED_AT": lambda o: (o.created_at, o.id),
    "UPDATED_AT": lambda o: (o.updated_at, o.id),
    "PROCESSED_AT": lambda o: (o.processed_at, o.id),
    "ORDER_NUMBER": lambda o: (o.number, o.id),
}
PRODUCT_SORT: dict[str, Callable[[Product], tuple[Any, int]]] = {
    "ID": _by_id,
    "RELEVANCE": _by_id,
    "TITLE": lambda p: (p.title.lower(), p.id),
    "CREATED_AT": lambda p: (p.created_at, p.id),
    "UPDATED_AT": lambda p: (p.updated_at, p.id),
}


def _orders(root: Any, info: Any, **args: Any) -> dict[str, Any]:
    context: Context = info.context
    orders = context.store.orders_visible(context.shop)
    orders = _filtered(orders, args.get("query"), Filter(ORDER_FILTER, _order_text), info)
    return paginate(orders, ORDER_SORT[args.get("sortKey") or "ID"], args, "orders")


def _products(root: Any, info: Any, **args: Any) -> dict[str, Any]:
    products = list(info.context.shop.products.values())
    spec = Filter(PRODUCT_FILTER, lambda p, word: compare_text(p.title, word))
    products = _filtered(products, args.get("query"), spec, info)
    return paginate(products, PRODUCT_SORT[args.get("sortKey") or "ID"], args, "products")


def _find(context: Context, value: str) -> Any:
    """The object a gid names, if this app may see it; GraphQLError for a malformed gid."""
    match = GID.match(value or "")
    if match is None:
        raise GraphQLError(
            f"Invalid global id '{value}'",
            extensions={"code": "argumentLiteralsIncompatible", "typeName": "CoercionError"},
        )
    kind, number = match.group(1), int(match.group(2))
    shop = context.shop
    if kind == "Order":
        order = shop.orders.get(number)
        visible = order is not None and (
            shop.read_all_orders or order in context.store.orders_visible(shop)
        )
        return order if visible else None
    if kind == "Product":
        return shop.products.get(number)
    if kind == "ProductVariant":
        for product in shop.products.values():
            for variant in product.variants:
                if variant.id == number:
                    return variant
        return None
    if kind == "Customer":
        return next((c for c in shop.customers.values() if c.id == number), None)
    if kind == "Shop":
        return shop if shop.id == number else None
    if kind in ("LineItem", "Refund"):
        for order in context.store.orders_visible(shop):
            for obj in order.line_items if kind == "LineItem" else order.refunds:
                if obj.id == number:
                    return obj
    return None


TYPE_NAMES: dict[type, str] = {
    Order: "Order",
    Product: "Product",
    Variant: "ProductVariant",
    Customer: "Customer",
    LineItem: "LineItem",
    Refund: "Refund",
    Shop: "Shop",
}


def _order_of(info: Any, order_id: int) -> Order:
    order: Order = info.context.shop.orders[order_id]
    return order


def _refund_lines(refund: Refund, info: Any, **args: Any) -> dict[str, Any]:
    order = _order_of(info, refund.order_id)
    by_id = {line.id: line for line in order.line_items}
    pairs = [(line, by_id[line.line_item_id]) for line in refund.lines]
    return paginate(pairs, lambda pair: (pair[0].id, pair[0].id), args, "refundLineItems")


def _financial_status(order: Order, info: Any) -> str:
    return order.financial_status.upper()


def _plan(shop: Shop, info: Any) -> dict[str, Any]:
    return {
        "displayName": PLAN_DISPLAY_NAMES.get(shop.plan, shop.plan),
        "partnerDevelopment": False,
        "shopifyPlus": shop.plan in ("plus", "enterprise"),
    }


def _line_product(line: LineItem, info: Any) -> Product | None:
    return info.context.shop.products.get(line.product_id) if line.product_id else None


def _line_variant(line: LineItem, info: Any) -> Variant | None:
    product = _line_product(line, info)
    if product is None:
        return None
    return next((v for v in product.variants if v.id == line.variant_id), None)


RESOLVERS: dict[str, dict[str, Callable[..., Any]]] = {
    "QueryRoot": {
        "shop": lambda root, info: info.context.shop,
        "node": lambda root, info, id: _find(info.context, id),
        "nodes": lambda root, info, ids: [_find(info.context, value) for value in ids],
        "order": lambda root, info, id: (
            found if isinstance(found := _find(info.context, id), Order) else None
        ),
        "product": lambda root, info, id: (
            found if isinstance(found := _find(info.context, id), Product) else None
        ),
        "orders": _orders,
        "products": _products,
    },
    "Shop": {
        "id": lambda shop, info: shop.gid,
        "myshopifyDomain": lambda shop, info: shop.domain,
        "ianaTimezone": lambda shop, info: shop.timezone,
        "currencyCode": lambda shop, info: "USD",
        "plan": _plan,
    },
    "Customer": {
        "id": lambda c, info: c.gid,
        "legacyResourceId": lambda c, info: str(c.id),
        "firstName": lambda c, info: c.first_name or None,
        "lastName": lambda c, info: c.last_name or None,
        "displayName": lambda c, info: f"{c.first_name} {c.last_name}".strip() or c.email,
    },
    "Product": {
        "id": lambda p, info: p.gid,
        "legacyResourceId": lambda p, info: str(p.id),
        "createdAt": lambda p, info: gql_time(p.created_at),
        "updatedAt": lambda p, info: gql_time(p.updated_at),
        "variants": lambda p, info, **args: paginate(p.variants, _by_id, args, "variants"),
    },
    "ProductVariant": {
        "id": lambda v, info: v.gid,
        "legacyResourceId": lambda v, info: str(v.id),
        "displayName": lambda v, info: (
            f"{info.context.shop.products[v.product_id].title} - {v.title}"
        ),
        "price": lambda v, info: str(v.price),
        "product": lambda v, info: info.context.shop.products[v.product_id],
    },
    "LineItem": {
        "id": lambda line, info: line.gid,
        "variantTitle": lambda line, info: line.variant_title,
        "currentQuantity": lambda line, info: max(
            line.quantity - _order_of(info, line.order_id).refunded_quantity(line.id), 0
        ),
        "product": _line_product,
        "variant": _line_variant,
    },
    "RefundLineItem": {
        "id": lambda pair, info: f"gid://shopify/RefundLineItem/{pair[0].id}",
        "lineItem": lambda pair, info: pair[1],
        "quantity": lambda pair, info: pair[0].quantity,
    },
    "Refund": {
        "id": lambda r, info: r.gid,
        "legacyResourceId": lambda r, info: str(r.id),
        "createdAt": lambda r, info: gql_time(r.created_at),
        "note": lambda r, info: r.note or None,
        "refundLineItems": _refund_lines,
    },
    "Order": {
        "id": lambda o, info: o.gid,
        "legacyResourceId": lambda o, info: str(o.id),
        "email": lambda o, info: o.email or None,
        "createdAt": lambda o, info: gql_time(o.created_at),
        "updatedAt": lambda o, info: gql_time(o.updated_at),
        "processedAt": lambda o, info: gql_time(o.processed_at),
        "cancelledAt": lambda o, info: gql_time(o.cancelled_at),
        "cancelReason": lambda o, info: o.cancel_reason.upper() if o.cancel_reason else None,
        "closedAt": lambda o, info: gql_time(o.closed_at),
        "closed": lambda o, info: o.closed_at is not None,
        "displayFinancialStatus": _financial_status,
        "lineItems": lambda o, info, **args: paginate(o.line_items, _by_id, args, "lineItems"),
        "refunds": lambda o, info, first=None: o.refunds[:first] if first else o.refunds,
    },
}


def _install_resolvers() -> None:
    for type_name, fields in RESOLVERS.items():
        type_ = SCHEMA.get_type(type_name)
        assert isinstance(type_, GraphQLObjectType)  # noqa: S101 - the SDL defines them
        for field_name, resolver in fields.items():
            type_.fields[field_name].resolve = resolver
    node = SCHEMA.get_type("Node")
    assert isinstance(node, GraphQLInterfaceType)  # noqa: S101
    node.resolve_type = lambda obj, info, abstract: TYPE_NAMES[type(obj)]


_install_resolvers()


# --- the request ---------------------------------------------------------------------------------


def _format(error: GraphQLError, code: str | None = None) -> dict[str, Any]:
    formatted: dict[str, Any] = dict(error.formatted)
    if code and "extensions" not in formatted:
        formatted["extensions"] = {"code": code}
    return formatted


UNDEFINED_FIELD = re.compile(r"^Cannot query field '([^']+)' on type '([^']+)'")


def _validation_error(error: GraphQLError) -> dict[str, Any]:
    """graphql-core's validation error in Shopify's words where Shopify's are known."""
    formatted = _format(error, "GRAPHQL_VALIDATION_FAILED")
    match = UNDEFINED_FIELD.match(error.message)
    if match:
        field_name, type_name = match.groups()
        formatted["message"] = f"Field '{field_name}' doesn't exist on type '{type_name}'"
        formatted["extensions"] = {
            "code": "undefinedField",
            "typeName": type_name,
            "fieldName": field_name,
        }
    return formatted


def _throttle_status(store: DevStore, shop: Shop) -> dict[str, Any]:
    bucket = store.bucket(shop.domain)
    return {
        "maximumAvailable": bucket.maximum,
        "currentlyAvailable": math.floor(bucket.available),
        "restoreRate": bucket.restore_rate,
    }


def _cost(
    store: DevStore, shop: Shop, requested: int, actual: int | None
) -> dict[str, dict[str, Any]]:
    return {
        "cost": {
            "requestedQueryCost": requested,
            "actualQueryCost": actual,
            "throttleStatus": _throttle_status(store, shop),
        }
    }


def requested_cost(
    document: Any, operation: OperationDefinitionNode, variables: dict[str, Any]
) -> int:
    fragments = {
        definition.name.value: definition
        for definition in document.definitions
        if isinstance(definition, FragmentDefinitionNode)
    }
    return _Pricer(fragments, variables).selection(operation.selection_set, SCHEMA.query_type)


def admin_graphql(store: DevStore, *, shop: Shop, body: Any) -> tuple[int, dict[str, Any]]:
    """Answer one Admin GraphQL request of an authenticated shop: (HTTP status, JSON body)."""
    if not isinstance(body, dict) or not isinstance(body.get("query"), str):
        return 400, {"errors": {"query": "Required parameter missing or invalid"}}
    variables = body.get("variables") or {}
    if not isinstance(variables, dict):
        return 400, {"errors": {"variables": "must be an object"}}
    with store.lock:
        log: dict[str, Any] = {
            "shop": shop.domain,
            "requested": 0,
            "actual": 0,
            "throttled": False,
            "at": store.clock.now(),
            "available_before": store.bucket(shop.domain).available,
            "error": None,
        }
        try:
            status, answer = _run(store, shop, body["query"], variables, body, log)
        finally:
            store.cost_log.append(log)
    return status, answer


def _run(
    store: DevStore,
    shop: Shop,
    query: str,
    variables: dict[str, Any],
    body: dict[str, Any],
    log: dict[str, Any],
) -> tuple[int, dict[str, Any]]:
    try:
        document = parse(query)
    except GraphQLSyntaxError as exc:
        log["error"] = "GRAPHQL_PARSE_FAILED"
        return 200, {
            "errors": [_format(exc, "GRAPHQL_PARSE_FAILED")],
            "extensions": _cost(store, shop, 0, 0),
        }
    problems = validate(SCHEMA, document)
    if problems:
        log["error"] = "GRAPHQL_VALIDATION_FAILED"
        return 200, {
            "errors": [_validation_error(e) for e in problems],
            "extensions": _cost(store, shop, 0, 0),
        }
    operation = get_operation_ast(document, body.get("operationName"))
    if operation is None:
        log["error"] = "BAD_REQUEST"
        return 200, {
            "errors": [
                {
                    "message": "No operation named in the request",
                    "extensions": {"code": "BAD_REQUEST"},
                }
            ],
            "extensions": _cost(store, shop, 0, 0),
        }
    coerced = get_variable_values(SCHEMA, operation.variable_definitions or [], variables)
    if isinstance(coerced, list):
        log["error"] = "BAD_REQUEST"
        return 200, {
            "errors": [_format(e, "BAD_REQUEST") for e in coerced],
            "extensions": _cost(store, shop, 0, 0),
        }
    try:
        requested = requested_cost(document, operation, coerced)
    except RequestError as exc:
        log["error"] = "BAD_REQUEST"
        return 200, {"errors": exc.errors, "extensions": _cost(store, shop, 0, 0)}
    log["requested"] = requested
    if requested > MAX_QUERY_COST:
        log["error"] = "MAX_COST_EXCEEDED"
        return 200, {
            "errors": [
                {
                    "message": MAX_COST_MESSAGE.format(cost=requested, limit=MAX_QUERY_COST),
                    "extensions": {
                        "code": "MAX_COST_EXCEEDED",
                        "cost": requested,
                        "maxCost": MAX_QUERY_COST,
                        "documentation": RATE_LIMITS_DOC,
                    },
                }
            ],
            "extensions": _cost(store, shop, requested, None),
        }
    bucket = store.bucket(shop.domain)
    if not bucket.take(requested):
        log["throttled"] = True
        log["error"] = "THROTTLED"
        return 200, {
            "errors": [
                {
                    "message": "Throttled",
                    "extensions": {"code": "THROTTLED", "documentation": RATE_LIMITS_DOC},
                }
            ],
            "extensions": _cost(store, shop, requested, None),
        }
    context = Context(store=store, shop=shop)
    result = execute_sync(
        SCHEMA,
        document,
        context_value=context,
        variable_values=variables,
        operation_name=body.get("operationName"),
        middleware=[_count_actual],
    )
    actual = min(context.actual, requested)
    bucket.give_back(requested - actual)
    log["actual"] = actual
    answer: dict[str, Any] = {"data": result.data}
    if result.errors:
        answer["errors"] = [_format(e) for e in result.errors]
        log["error"] = "EXECUTION"
    extensions: dict[str, Any] = _cost(store, shop, requested, actual)
    if context.search:
        extensions["search"] = context.search
    answer["extensions"] = extensions
    return 200, answer
