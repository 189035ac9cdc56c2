"""Shopify's REST-shaped webhook payloads → Imprint's own OrderData and RefundData.

Shopify's payloads are trusted for authenticity (signed) but not for shape: every field is
checked, and anything unusable raises PayloadError with a message that says which field.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Any

from django.utils.dateparse import parse_datetime

from imprint.orders.data import LineItemData, OrderData, RefundData


class PayloadError(ValueError):
    """A payload Imprint cannot use; retrying will not help."""


def _int(value: Any, field: str, *, required: bool = True) -> int | None:
    # bool is an int in Python; an id of `true` is garbage, not 1.
    if isinstance(value, int) and not isinstance(value, bool) and value > 0:
        return value
    if isinstance(value, str) and value.isdigit():
        return int(value)
    if value is None and not required:
        return None
    raise PayloadError(f"{field} must be a positive integer, got {value!r}")


def _str(value: Any, field: str) -> str:
    if value is None:
        return ""
    if isinstance(value, str):
        # NUL and lone surrogates are valid in JSON but not in PostgreSQL text or UTF-8.
        return value.replace("\x00", "").encode("utf-8", "replace").decode("utf-8")
    raise PayloadError(f"{field} must be a string, got {type(value).__name__}")


def _datetime(value: Any, field: str, *, required: bool = True) -> dt.datetime | None:
    if value in (None, "") and not required:
        return None
    parsed = parse_datetime(value) if isinstance(value, str) else None
    if parsed is None or parsed.tzinfo is None:
        raise PayloadError(
            f"{field} must be an ISO 8601 date-time with a UTC offset, got {value!r}"
        )
    return parsed


def _mapping(value: Any, field: str) -> Mapping[str, Any]:
    if value is None:
        return {}
    if isinstance(value, Mapping):
        return value
    raise PayloadError(f"{field} must be an object")


def _list(value: Any, field: str) -> list[Any]:
    if value is None:
        return []
    if isinstance(value, list):
        return value
    raise PayloadError(f"{field} must be a list")


def _quantity(value: Any, field: str) -> int:
    if isinstance(value, int) and not isinstance(value, bool) and value >= 0:
        return value
    raise PayloadError(f"{field} must be a whole number, got {value!r}")


def _refund_lines(payload: Mapping[str, Any], field: str) -> tuple[tuple[int, int], ...]:
    lines = []
    for index, item in enumerate(
        _list(payload.get("refund_line_items"), f"{field}.refund_line_items")
    ):
        item = _mapping(item, f"{field}.refund_line_items[{index}]")
        line_id = _int(item.get("line_item_id"), f"{field}.refund_line_items[{index}].line_item_id")
        quantity = _quantity(
            item.get("quantity", 0), f"{field}.refund_line_items[{index}].quantity"
        )
        lines.append((int(line_id or 0), quantity))
    return tuple(lines)


def refund_from_payload(payload: Any, *, field: str = "refund") -> RefundData:
    payload = _mapping(payload, field)
    return RefundData(
        shopify_id=int(_int(payload.get("id"), f"{field}.id") or 0),
        order_id=int(_int(payload.get("order_id"), f"{field}.order_id") or 0),
        lines=_refund_lines(payload, field),
    )


def order_from_payload(payload: Any) -> OrderData:
    """An `orders/*` webhook body (a REST Order) as OrderData."""
    payload = _mapping(payload, "order")
    order_id = int(_int(payload.get("id"), "id") or 0)
    customer = _mapping(payload.get("customer"), "customer")
    billing = _mapping(payload.get("billing_address"), "billing_address")
    created_at = _datetime(payload.get("created_at"), "created_at")
    if created_at is None:  # unreachable: required=True raises first; narrows the type
        raise PayloadError("created_at is missing")
    updated_at = _datetime(payload.get("updated_at"), "updated_at", required=False) or created_at

    lines = []
    for index, raw in enumerate(_list(payload.get("line_items"), "line_items")):
        item = _mapping(raw, f"line_items[{index}]")
        lines.append(
            LineItemData(
                shopify_id=int(_int(item.get("id"), f"line_items[{index}].id") or 0),
                # Custom line items and deleted products have no product or variant.
                product_id=_int(
                    item.get("product_id"), f"line_items[{index}].product_id", required=False
                ),
                variant_id=_int(
                    item.get("variant_id"), f"line_items[{index}].variant_id", required=False
                ),
                title=_str(item.get("title"), f"line_items[{index}].title") or "Item",
                variant_title=_str(item.get("variant_title"), f"line_items[{index}].variant_title"),
                quantity=max(
                    _quantity(item.get("quantity", 1), f"line_items[{index}].quantity"), 1
                ),
            )
        )
    refunds = []
    for index, raw in enumerate(_list(payload.get("refunds"), "refunds")):
        refund = _mapping(raw, f"refunds[{index}]")
        refunds.append(
            RefundData(
                shopify_id=int(_int(refund.get("id"), f"refunds[{index}].id") or 0),
                order_id=order_id,
                lines=_refund_lines(refund, f"refunds[{index}]"),
            )
        )

    email = _str(payload.get("email"), "email") or _str(
        payload.get("contact_email"), "contact_email"
    )
    email = email or _str(customer.get("email"), "customer.email")
    first = _str(customer.get("first_name"), "customer.first_name") or _str(
        billing.get("first_name"), "billing_address.first_name"
    )
    last = _str(customer.get("last_name"), "customer.last_name") or _str(
        billing.get("last_name"), "billing_address.last_name"
    )
    test = payload.get("test", False)
    if not isinstance(test, bool):
        raise PayloadError(f"test must be true or false, got {test!r}")
    return OrderData(
        shopify_id=order_id,
        name=_str(payload.get("name"), "name") or f"#{payload.get('order_number') or order_id}",
        email=email.strip(),
        first_name=first,
        last_name=last,
        financial_status=_str(payload.get("financial_status"), "financial_status") or "pending",
        cancelled_at=_datetime(payload.get("cancelled_at"), "cancelled_at", required=False),
        test=test,
        created_at=created_at,
        updated_at=updated_at,
        line_items=tuple(lines),
        refunds=tuple(refunds),
    )
