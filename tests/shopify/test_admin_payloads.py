"""GraphQL Order nodes → OrderData (imprint/shopify/graphql_payloads.py)."""

from __future__ import annotations

import copy
import datetime as dt
from typing import Any

import pytest

from imprint.orders.data import LineItemData, RefundData
from imprint.shopify.graphql_payloads import (
    FINANCIAL_STATUSES,
    PayloadError,
    gid_to_id,
    order_from_node,
)

NODE: dict[str, Any] = {
    "id": "gid://shopify/Order/820982911946154508",
    "name": "#1001",
    "email": "ünïcode@example.com",
    "createdAt": "2026-12-01T10:00:00Z",
    "updatedAt": "2026-12-01T10:05:00Z",
    "displayFinancialStatus": "PARTIALLY_REFUNDED",
    "cancelledAt": None,
    "test": True,
    "customer": {"firstName": "Zoë", "lastName": "Ångström", "email": "other@example.com"},
    "lineItems": {
        "pageInfo": {"hasNextPage": False, "endCursor": None},
        "nodes": [
            {
                "id": "gid://shopify/LineItem/866550311766439020",
                "title": "Field Guide",
                "variantTitle": "PDF",
                "quantity": 2,
                "product": {"id": "gid://shopify/Product/7000000001"},
                "variant": {"id": "gid://shopify/ProductVariant/8000000001"},
            },
            {
                "id": "gid://shopify/LineItem/866550311766439021",
                "title": "Gift wrap",
                "variantTitle": None,
                "quantity": 1,
                "product": None,
                "variant": None,
            },
        ],
    },
    "refunds": [
        {
            "id": "gid://shopify/Refund/509562969",
            "refundLineItems": {
                "nodes": [
                    {"quantity": 1, "lineItem": {"id": "gid://shopify/LineItem/866550311766439020"}}
                ]
            },
        }
    ],
}


def node(**changes: Any) -> dict[str, Any]:
    copied = copy.deepcopy(NODE)
    copied.update(changes)
    return copied


def test_a_graphql_order_becomes_the_same_order_data_a_webhook_gives() -> None:
    data = order_from_node(NODE)

    assert (data.shopify_id, data.name, data.email, data.first_name, data.last_name) == (
        820982911946154508,
        "#1001",
        "ünïcode@example.com",
        "Zoë",
        "Ångström",
    )
    assert (data.financial_status, data.test, data.cancelled_at) == (
        "partially_refunded",
        True,
        None,
    )
    assert data.created_at == dt.datetime(2026, 12, 1, 10, 0, tzinfo=dt.UTC)
    assert data.updated_at == dt.datetime(2026, 12, 1, 10, 5, tzinfo=dt.UTC)
    assert data.line_items == (
        LineItemData(
            shopify_id=866550311766439020,
            product_id=7000000001,
            variant_id=8000000001,
            title="Field Guide",
            variant_title="PDF",
            quantity=2,
        ),
        LineItemData(
            shopify_id=866550311766439021,
            product_id=None,
            variant_id=None,
            title="Gift wrap",
            variant_title="",
            quantity=1,
        ),
    )
    assert data.refunds == (
        RefundData(
            shopify_id=509562969,
            order_id=820982911946154508,
            lines=((866550311766439020, 1),),
        ),
    )


@pytest.mark.parametrize(("shopify", "ours"), sorted(FINANCIAL_STATUSES.items()))
def test_every_display_financial_status_maps_to_our_lowercase_value(
    shopify: str, ours: str
) -> None:
    assert order_from_node(node(displayFinancialStatus=shopify)).financial_status == ours


def test_later_pages_of_line_items_are_appended_without_repeating_a_line() -> None:
    extra = (
        LineItemData(shopify_id=866550311766439021, product_id=None, variant_id=None, title="dup"),
        LineItemData(shopify_id=5, product_id=6, variant_id=7, title="Third"),
    )

    data = order_from_node(node(), extra_lines=extra)

    assert [line.shopify_id for line in data.line_items] == [
        866550311766439020,
        866550311766439021,
        5,
    ]


def test_the_customers_email_is_used_when_the_order_has_none() -> None:
    assert order_from_node(node(email=None)).email == "other@example.com"


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"id": "gid://shopify/LineItem/1"}, "id must be a gid://shopify/Order/<id> global id"),
        ({"id": 123}, "id must be a gid://shopify/Order/<id> global id, got 123"),
        ({"displayFinancialStatus": "paid"}, "displayFinancialStatus must be one of"),
        ({"createdAt": None}, "createdAt must be an ISO 8601 date-time"),
        ({"createdAt": "2026-12-01T10:00:00"}, "createdAt must be an ISO 8601 date-time"),
        ({"test": "yes"}, "test must be true or false"),
        ({"customer": []}, "customer must be an object"),
        (
            {"lineItems": {"nodes": [{"id": "gid://shopify/LineItem/1", "quantity": -1}]}},
            "lineItems[0].quantity",
        ),
        (
            {"lineItems": {"nodes": [{"id": "gid://shopify/LineItem/1", "product": {"id": "x"}}]}},
            "lineItems[0].product.id",
        ),
        (
            {
                "refunds": [
                    {
                        "id": "gid://shopify/Refund/1",
                        "refundLineItems": {"nodes": [{"quantity": 1}]},
                    }
                ]
            },
            "refunds[0].refundLineItems[0].lineItem must be an object",
        ),
    ],
)
def test_an_unusable_node_raises_payload_error_naming_the_field(
    changes: dict[str, Any], message: str
) -> None:
    with pytest.raises(PayloadError) as raised:
        order_from_node(node(**changes))

    assert message in str(raised.value)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("gid://shopify/Order/123", 123),
        ("gid://shopify/Order/9007199254740993", 9007199254740993),
        ("gid://shopify/Order/123?v=1", 123),
    ],
)
def test_gid_to_id(value: str, expected: int) -> None:
    assert gid_to_id(value, "Order", "id") == expected


@pytest.mark.parametrize(
    "value", ["gid://shopify/Order/", "gid://shopify/Order/0", "gid://shopify/Order/١٢", None]
)
def test_gid_to_id_refuses_what_is_not_an_order_id(value: Any) -> None:
    with pytest.raises(PayloadError):
        gid_to_id(value, "Order", "id")
