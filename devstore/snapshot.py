"""The devstore's state as JSON (`--state FILE`), so a restarted devstore keeps its shops,
products and orders. The webhook log, the cost log and the buckets start afresh."""

from __future__ import annotations

from decimal import Decimal
from typing import TYPE_CHECKING, Any

from devstore.models import Customer, LineItem, Order, Product, Refund, RefundLine, Shop, Variant

if TYPE_CHECKING:
    from devstore.store import DevStore

VERSION = 1


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
        "id": order.id,
        "number": order.number,
        "token": order.token,
        "email": order.email,
        "customer_email": order.customer.email if order.customer else None,
        "first_name": order.first_name,
        "last_name": order.last_name,
        "financial_status": order.financial_status,
        "test": order.test,
        "created_at": order.created_at,
        "updated_at": order.updated_at,
        "processed_at": order.processed_at,
        "cancelled_at": order.cancelled_at,
        "cancel_reason": order.cancel_reason,
        "closed_at": order.closed_at,
        "currency": order.currency,
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
                "id": shop.id,
                "domain": shop.domain,
                "name": shop.name,
                "email": shop.email,
                "plan": shop.plan,
                "access_token": shop.access_token,
                "app_secret": shop.app_secret,
                "webhook_url": shop.webhook_url,
                "read_all_orders": shop.read_all_orders,
                "timezone": shop.timezone,
                "created_at": shop.created_at,
                "installed": shop.installed,
                "token_valid": shop.token_valid,
                "next_order_number": shop.next_order_number,
                "products": [
                    {
                        "id": p.id,
                        "title": p.title,
                        "handle": p.handle,
                        "vendor": p.vendor,
                        "created_at": p.created_at,
                        "updated_at": p.updated_at,
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
        shop = Shop(
            id=raw["id"],
            domain=raw["domain"],
            name=raw["name"],
            email=raw["email"],
            plan=raw["plan"],
            access_token=raw["access_token"],
            app_secret=raw["app_secret"],
            webhook_url=raw["webhook_url"],
            read_all_orders=raw["read_all_orders"],
            timezone=raw["timezone"],
            created_at=raw["created_at"],
            installed=raw["installed"],
            token_valid=raw["token_valid"],
            next_order_number=raw["next_order_number"],
        )
        for p in raw["products"]:
            product = Product(
                id=p["id"],
                title=p["title"],
                handle=p["handle"],
                vendor=p["vendor"],
                created_at=p["created_at"],
                updated_at=p["updated_at"],
            )
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
                id=o["id"],
                number=o["number"],
                token=o["token"],
                email=o["email"],
                customer=shop.customers.get((o["customer_email"] or "").lower()),
                first_name=o["first_name"],
                last_name=o["last_name"],
                line_items=[
                    LineItem(**{**line, "price": Decimal(line["price"]), "order_id": o["id"]})
                    for line in o["line_items"]
                ],
                financial_status=o["financial_status"],
                test=o["test"],
                created_at=o["created_at"],
                updated_at=o["updated_at"],
                processed_at=o["processed_at"],
                cancelled_at=o["cancelled_at"],
                cancel_reason=o["cancel_reason"],
                closed_at=o["closed_at"],
                currency=o["currency"],
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
