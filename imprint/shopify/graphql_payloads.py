"""Shopify's Admin GraphQL Order nodes → Imprint's own OrderData, checked like the webhook payloads.

GraphQL names things differently from REST (gid strings instead of numeric ids,
`displayFinancialStatus` in capitals, line items as a paged connection); the result is the same
OrderData a webhook gives, so both go through one ingest. Anything unusable raises PayloadError
saying which field.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Any

from imprint.orders.data import LineItemData, OrderData, RefundData
from imprint.shopify.payloads import PayloadError

__all__ = [
    "PayloadError",
    "datetime_field",
    "financial_status",
    "gid_to_id",
    "line_items_from_connection",
    "order_from_node",
]

# displayFinancialStatus → the REST financial_status values Imprint stores.
FINANCIAL_STATUSES = {
    "PENDING": "pending",
    "AUTHORIZED": "authorized",
    "PARTIALLY_PAID": "partially_paid",
    "PAID": "paid",
    "PARTIALLY_REFUNDED": "partially_refunded",
    "REFUNDED": "refunded",
    "VOIDED": "voided",
    "EXPIRED": "expired",
}


def gid_to_id(value: Any, kind: str, field: str) -> int:
    """`gid://shopify/Order/123` → 123; the kind must match (a LineItem gid is not an Order)."""
    prefix = f"gid://shopify/{kind}/"
    if isinstance(value, str) and value.startswith(prefix):
        # Some gids carry a query string (`?v=1`); the id is the path's last part.
        tail = value[len(prefix) :].split("?", 1)[0]
        if tail.isdigit() and tail.isascii() and int(tail) > 0:
            return int(tail)
    raise PayloadError(f"{field} must be a {prefix}<id> global id, got {value!r}")


def _gid_or_none(value: Any, kind: str, field: str) -> int | None:
    if value is None:
        return None
    if not isinstance(value, Mapping):
        raise PayloadError(f"{field} must be an object or null")
    return gid_to_id(value.get("id"), kind, f"{field}.id")


def _str(value: Any, field: str) -> str:
    if value is None:
        return ""
    if isinstance(value, str):
        # NUL and lone surrogates are valid in JSON but not in PostgreSQL text or UTF-8.
        return value.replace("\x00", "").encode("utf-8", "replace").decode("utf-8")
    raise PayloadError(f"{field} must be a string, got {type(value).__name__}")


def datetime_field(value: Any, field: str) -> dt.datetime:
    if isinstance(value, str):
        try:
            parsed = dt.datetime.fromisoformat(value)
        except ValueError:
            parsed = None
        if parsed is not None and parsed.tzinfo is not None:
            return parsed
    raise PayloadError(f"{field} must be an ISO 8601 date-time with a UTC offset, got {value!r}")


def financial_status(value: Any) -> str:
    if isinstance(value, str) and value in FINANCIAL_STATUSES:
        return FINANCIAL_STATUSES[value]
    raise PayloadError(
        f"displayFinancialStatus must be one of {', '.join(FINANCIAL_STATUSES)}, got {value!r}"
    )


def _quantity(value: Any, field: str) -> int:
    if isinstance(value, int) and not isinstance(value, bool) and value >= 0:
        return value
    raise PayloadError(f"{field} must be a whole number, got {value!r}")


def _mapping(value: Any, field: str) -> Mapping[str, Any]:
    if isinstance(value, Mapping):
        return value
    raise PayloadError(f"{field} must be an object")


def _nodes(connection: Any, field: str) -> list[Any]:
    """The nodes of a connection; `edges { node }` is accepted too."""
    if connection is None:
        return []
    connection = _mapping(connection, field)
    if "nodes" in connection:
        nodes = connection["nodes"]
    else:
        nodes = [_mapping(e, f"{field}.edges[]").get("node") for e in connection.get("edges") or []]
    if not isinstance(nodes, list):
        raise PayloadError(f"{field}.nodes must be a list")
    return nodes


def line_items_from_connection(connection: Any, *, field: str) -> tuple[LineItemData, ...]:
    lines = []
    for index, raw in enumerate(_nodes(connection, field)):
        where = f"{field}[{index}]"
        item = _mapping(raw, where)
        lines.append(
            LineItemData(
                shopify_id=gid_to_id(item.get("id"), "LineItem", f"{where}.id"),
                # Custom line items and deleted products have no product or variant.
                product_id=_gid_or_none(item.get("product"), "Product", f"{where}.product"),
                variant_id=_gid_or_none(item.get("variant"), "ProductVariant", f"{where}.variant"),
                title=_str(item.get("title"), f"{where}.title") or "Item",
                variant_title=_str(item.get("variantTitle"), f"{where}.variantTitle"),
                quantity=max(_quantity(item.get("quantity", 1), f"{where}.quantity"), 1),
            )
        )
    return tuple(lines)


def _refunds(value: Any, order_id: int) -> tuple[RefundData, ...]:
    if value is None:
        return ()
    if isinstance(value, Mapping):  # a connection rather than Shopify's plain list
        value = _nodes(value, "refunds")
    if not isinstance(value, list):
        raise PayloadError("refunds must be a list")
    refunds = []
    for index, raw in enumerate(value):
        where = f"refunds[{index}]"
        refund = _mapping(raw, where)
        lines = []
        for line_index, line_raw in enumerate(
            _nodes(refund.get("refundLineItems"), f"{where}.refundLineItems")
        ):
            line_where = f"{where}.refundLineItems[{line_index}]"
            line = _mapping(line_raw, line_where)
            line_item = _mapping(line.get("lineItem"), f"{line_where}.lineItem")
            lines.append(
                (
                    gid_to_id(line_item.get("id"), "LineItem", f"{line_where}.lineItem.id"),
                    _quantity(line.get("quantity", 0), f"{line_where}.quantity"),
                )
            )
        refunds.append(
            RefundData(
                shopify_id=gid_to_id(refund.get("id"), "Refund", f"{where}.id"),
                order_id=order_id,
                lines=tuple(lines),
            )
        )
    return tuple(refunds)


def order_from_node(node: Any, *, extra_lines: tuple[LineItemData, ...] = ()) -> OrderData:
    """A GraphQL Order node as OrderData. `extra_lines` are the line items of the nested
    connection's later pages, fetched by the caller."""
    node = _mapping(node, "order")
    order_id = gid_to_id(node.get("id"), "Order", "id")
    customer = node.get("customer")
    customer = {} if customer is None else _mapping(customer, "customer")
    created_at = datetime_field(node.get("createdAt"), "createdAt")
    updated_raw = node.get("updatedAt")
    updated_at = created_at if updated_raw is None else datetime_field(updated_raw, "updatedAt")
    cancelled_raw = node.get("cancelledAt")
    cancelled_at = None if cancelled_raw is None else datetime_field(cancelled_raw, "cancelledAt")
    test = node.get("test", False)
    if not isinstance(test, bool):
        raise PayloadError(f"test must be true or false, got {test!r}")
    lines = line_items_from_connection(node.get("lineItems"), field="lineItems") + extra_lines
    seen: set[int] = set()
    unique = []
    for line in lines:  # a page boundary that moved under us must not repeat a line
        if line.shopify_id not in seen:
            seen.add(line.shopify_id)
            unique.append(line)
    email = _str(node.get("email"), "email") or _str(customer.get("email"), "customer.email")
    return OrderData(
        shopify_id=order_id,
        name=_str(node.get("name"), "name") or f"#{order_id}",
        email=email.strip(),
        first_name=_str(customer.get("firstName"), "customer.firstName"),
        last_name=_str(customer.get("lastName"), "customer.lastName"),
        financial_status=financial_status(node.get("displayFinancialStatus")),
        cancelled_at=cancelled_at,
        test=test,
        created_at=created_at,
        updated_at=updated_at,
        line_items=tuple(unique),
        refunds=_refunds(node.get("refunds"), order_id),
    )
