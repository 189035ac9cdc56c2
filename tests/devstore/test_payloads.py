"""The devstore's webhook payloads have the shape of Shopify's published samples."""

from __future__ import annotations

from typing import Any

import pytest

from devstore.payloads import order_payload, refund_payload, shop_payload
from devstore.store import DevStore
from tests.shopify.helpers import sample

# What Imprint reads from an order (imprint/shopify/payloads.py).
ORDER_KEYS_READ = (
    "id",
    "admin_graphql_api_id",
    "name",
    "email",
    "contact_email",
    "created_at",
    "updated_at",
    "financial_status",
    "cancelled_at",
    "test",
    "customer",
    "line_items",
    "refunds",
)


def _type_mismatches(ours: dict[str, Any], theirs: dict[str, Any], where: str) -> list[str]:
    """Keys of the sample missing from ours, and keys whose types differ where both have a value."""
    problems = []
    for key, value in theirs.items():
        if key not in ours:
            problems.append(f"{where}.{key} missing")
        elif value is not None and ours[key] is not None and type(value) is not type(ours[key]):
            problems.append(
                f"{where}.{key}: {type(ours[key]).__name__}, sample {type(value).__name__}"
            )
    return problems


@pytest.fixture
def refunded_order(devstore: DevStore, devstore_shop):
    product = devstore.product_create(
        shop=devstore_shop.domain, title="Snowboard Guide", variants=["PDF", "EPUB"]
    )
    order = devstore.order_create(
        shop=devstore_shop.domain,
        lines=[(product.variants[0].id, 1), (product.variants[1].id, 2)],
        email="zoë@example.com",
        first_name="Zoë",
        last_name="Ångström",
    )
    refund = devstore.refund_create(
        shop=devstore_shop.domain, order_id=order.id, lines=[(order.line_items[1].id, 1)]
    )
    return order, refund


def test_order_payload_has_every_key_of_the_published_sample_with_its_type(
    devstore, devstore_shop, refunded_order
) -> None:
    order, _ = refunded_order
    ours = order_payload(order, devstore_shop)
    theirs = sample("orders_paid")

    problems = _type_mismatches(ours, theirs, "order")
    problems += _type_mismatches(ours["customer"], theirs["customer"], "customer")
    problems += _type_mismatches(ours["line_items"][0], theirs["line_items"][0], "line_items[0]")

    assert problems == []
    assert list(ours) == list(theirs)


def test_order_payload_carries_what_imprint_reads(devstore, devstore_shop, refunded_order) -> None:
    order, refund = refunded_order
    payload = order_payload(order, devstore_shop)

    assert all(key in payload for key in ORDER_KEYS_READ)
    assert payload["id"] == order.id > 2**53
    assert payload["admin_graphql_api_id"] == f"gid://shopify/Order/{order.id}"
    assert payload["name"] == "#1001"
    assert payload["email"] == payload["contact_email"] == "zoë@example.com"
    assert payload["financial_status"] == "partially_refunded"
    assert payload["cancelled_at"] is None
    assert payload["test"] is False
    assert payload["created_at"] == "2026-12-04T05:00:00-05:00"
    assert payload["customer"]["first_name"] == "Zoë"
    assert payload["customer"]["last_name"] == "Ångström"
    assert payload["customer"]["email"] == "zoë@example.com"
    assert [
        (li["title"], li["variant_title"], li["quantity"], li["product_id"], li["variant_id"])
        for li in payload["line_items"]
    ] == [
        (
            "Snowboard Guide",
            "PDF",
            1,
            order.line_items[0].product_id,
            order.line_items[0].variant_id,
        ),
        (
            "Snowboard Guide",
            "EPUB",
            2,
            order.line_items[1].product_id,
            order.line_items[1].variant_id,
        ),
    ]
    assert [
        (r["id"], [(x["line_item_id"], x["quantity"]) for x in r["refund_line_items"]])
        for r in payload["refunds"]
    ] == [(refund.id, [(order.line_items[1].id, 1)])]


def test_refund_payload_has_every_key_of_the_published_sample(
    devstore, devstore_shop, refunded_order
) -> None:
    order, refund = refunded_order
    ours = refund_payload(refund, order, devstore_shop)
    theirs = sample("refunds_create")

    problems = _type_mismatches(ours, theirs, "refund")
    problems += _type_mismatches(
        ours["refund_line_items"][0], theirs["refund_line_items"][0], "refund_line_items[0]"
    )
    problems += _type_mismatches(
        ours["refund_line_items"][0]["line_item"],
        theirs["refund_line_items"][0]["line_item"],
        "refund_line_items[0].line_item",
    )

    assert problems == []
    assert ours["order_id"] == order.id
    assert ours["refund_line_items"][0]["line_item_id"] == order.line_items[1].id


def test_uninstall_payload_has_every_key_of_the_published_sample(devstore_shop) -> None:
    ours = shop_payload(devstore_shop)

    assert _type_mismatches(ours, sample("app_uninstalled"), "shop") == []
    assert ours["myshopify_domain"] == "devstore-a.myshopify.com"


def test_imprint_maps_a_devstore_order_exactly(devstore, devstore_shop, refunded_order) -> None:
    from imprint.shopify.payloads import order_from_payload

    order, refund = refunded_order
    data = order_from_payload(order_payload(order, devstore_shop))

    assert (data.shopify_id, data.name, data.email, data.first_name, data.last_name) == (
        order.id,
        "#1001",
        "zoë@example.com",
        "Zoë",
        "Ångström",
    )
    assert data.financial_status == "partially_refunded"
    assert [(li.shopify_id, li.quantity) for li in data.line_items] == [
        (order.line_items[0].id, 1),
        (order.line_items[1].id, 2),
    ]
    assert [(r.shopify_id, r.lines) for r in data.refunds] == [
        (refund.id, ((order.line_items[1].id, 1),))
    ]
