"""The devstore's state as JSON (`--state FILE`), so a restarted devstore keeps its shops,
products and orders. The webhook log, the cost log and the buckets start afresh."""

from __future__ import annotations

from decimal import Decimal
from typing import TYPE_CHECKING, Any

from devstore.models import Customer, LineItem, Order, Product, Refund, RefundLine, Shop, Variant

if TYPE_CHECKING:
    from devstore.store import DevStore

VERSION = 1

# The plain fields, saved and loaded as they are; the nested and converted ones are spelled out
# where they are saved and loaded.
_SHOP_FIELDS = (
    "id",
    "domain",
    "name",
    "email",
    "plan",
    "access_token",
    "app_secret",
    "webhook_url",
    "read_all_orders",
    "timezone",
    "created_at",
    "installed",
    "token_valid",
    "next_order_number",
)
_PRODUCT_FIELDS = ("id", "title", "handle", "vendor", "created_at", "updated_at")
# Split around "customer_email" only so that the state file keeps its key order.
_ORDER_FIELDS_HEAD = ("id", "number", "token", "email")
_ORDER_FIELDS_TAIL = (
    "first_name",
    "last_name",
    "financial_status",
    "test",
    "created_at",
    "updated_at",
    "processed_at",
    "cancelled_at",
    "cancel_reason",
    "closed_at",
    "currency",
)
_ORDER_FIELDS = _ORDER_FIELDS_HEAD + _ORDER_FIELDS_TAIL


def _customer(customer: Customer) -> dict[str, Any]:
    return {
        "id": customer.id,
        "email": customer.email,
        "first_name": customer.first_name,
        "last_name": customer.last_name,
        "created_at": customer.created_at,
    }


def _order(order: Order) -> dict[str, Any]:
    return {
        **{f: getattr(order, f) for f in _ORDER_FIELDS_HEAD},
        "customer_email": order.customer.email if order.customer else None,
        **{f: getattr(order, f) for f in _ORDER_FIELDS_TAIL},
        "line_items": [
            {
                "id": line.id,
                "product_id": line.product_id,
                "variant_id": line.variant_id,
                "title": line.title,
                "variant_title": line.variant_title,
                "quantity": line.quantity,
                "price": str(line.price),
                "sku": line.sku,
                "vendor": line.vendor,
            }
            for line in order.line_items
        ],
        "refunds": [
            {
                "id": refund.id,
                "created_at": refund.created_at,
                "note": refund.note,
                "lines": [[rl.id, rl.line_item_id, rl.quantity] for rl in refund.lines],
            }
            for refund in order.refunds
        ],
    }


def store_dump(store: DevStore) -> dict[str, Any]:
    shops = []
    for shop in store.shops.values():
        shops.append(
            {
                **{f: getattr(shop, f) for f in _SHOP_FIELDS},
                "products": [
                    {
                        **{f: getattr(p, f) for f in _PRODUCT_FIELDS},
                        "variants": [
                            {"id": v.id, "title": v.title, "price": str(v.price), "sku": v.sku}
                            for v in p.variants
                        ],
                    }
                    for p in shop.products.values()
                ],
                "customers": [_customer(c) for c in shop.customers.values()],
                "orders": [_order(o) for o in shop.orders.values()],
            }
        )
    return {"version": VERSION, "next_id": store.id_next(), "shops": shops}


def store_load(store: DevStore, data: dict[str, Any]) -> None:
    if data.get("version") != VERSION:
        raise ValueError(f"unknown devstore state version {data.get('version')!r}")
    store.shops.clear()
    for raw in data["shops"]:
        shop = Shop(**{f: raw[f] for f in _SHOP_FIELDS})
        for p in raw["products"]:
            product = Product(**{f: p[f] for f in _PRODUCT_FIELDS})
            product.variants = [
                Variant(
                    id=v["id"],
                    product_id=product.id,
                    title=v["title"],
                    price=Decimal(v["price"]),
                    sku=v["sku"],
                )
                for v in p["variants"]
            ]
            shop.products[product.id] = product
        for c in raw["customers"]:
            shop.customers[c["email"].lower()] = Customer(**c)
        for o in raw["orders"]:
            order = Order(
                **{f: o[f] for f in _ORDER_FIELDS},
                customer=shop.customers.get((o["customer_email"] or "").lower()),
                line_items=[
                    LineItem(**{**line, "price": Decimal(line["price"]), "order_id": o["id"]})
                    for line in o["line_items"]
                ],
            )
            order.refunds = [
                Refund(
                    id=r["id"],
                    order_id=order.id,
                    created_at=r["created_at"],
                    note=r["note"],
                    lines=[RefundLine(id=a, line_item_id=b, quantity=c) for a, b, c in r["lines"]],
                )
                for r in o["refunds"]
            ]
            shop.orders[order.id] = order
        store.shops[shop.domain] = shop
        store.token_register(shop.access_token, shop.domain)
        store.bucket_reset(shop.domain)
    store.id_reset(data["next_id"])
