"""REST-shaped JSON for webhooks, the shape of Shopify's published samples (orders/*,
refunds/create, app/uninstalled): every key of the sample, with values from the devstore's
records. Numbers that are money are strings ("10.00"), ids are integers (often above 2^53)."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from devstore.models import LineItem, Order, Refund, Shop

PLAN_DISPLAY_NAMES = {
    "standard": "Basic",
    "advanced": "Advanced",
    "plus": "Shopify Plus",
    "enterprise": "Shopify Plus",
}


def rest_time(timestamp: float | None, timezone: str) -> str | None:
    """REST timestamps are in the shop's time zone with its offset, to the second."""
    if timestamp is None:
        return None
    moment = dt.datetime.fromtimestamp(int(timestamp), tz=ZoneInfo(timezone))
    return moment.isoformat()


def gql_time(timestamp: float | None) -> str | None:
    """GraphQL DateTime values are UTC with a Z, to the second."""
    if timestamp is None:
        return None
    moment = dt.datetime.fromtimestamp(int(timestamp), tz=dt.UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def _money(amount: Decimal) -> str:
    return f"{amount.quantize(Decimal('0.01'))}"


def _money_set(amount: Decimal, currency: str) -> dict[str, Any]:
    value = {"amount": _money(amount), "currency_code": currency}
    return {"shop_money": dict(value), "presentment_money": dict(value)}


def _customer(order: Order, shop: Shop) -> dict[str, Any] | None:
    customer = order.customer
    if customer is None:
        return None
    when = rest_time(customer.created_at, shop.timezone)
    return {
        "id": customer.id,
        "created_at": when,
        "updated_at": when,
        "first_name": customer.first_name,
        "last_name": customer.last_name,
        "state": "disabled",
        "note": None,
        "verified_email": True,
        "multipass_identifier": None,
        "tax_exempt": False,
        "email": customer.email,
        "phone": None,
        "currency": order.currency,
        "tax_exemptions": [],
        "admin_graphql_api_id": customer.gid,
        "default_address": None,
    }


def _line_item_core(line: LineItem, order: Order) -> dict[str, Any]:
    zero = _money_set(Decimal(0), order.currency)
    return {
        "id": line.id,
        "variant_id": line.variant_id,
        "title": line.title,
        "quantity": line.quantity,
        "sku": line.sku,
        "variant_title": line.variant_title,
        "vendor": line.vendor,
        "fulfillment_service": "manual",
        "product_id": line.product_id,
        "requires_shipping": False,  # digital goods
        "taxable": True,
        "gift_card": False,
        "name": line.name,
        "variant_inventory_management": None,
        "properties": [],
        "product_exists": line.product_id is not None,
        "fulfillable_quantity": line.quantity,
        "grams": 0,
        "price": _money(line.price),
        "total_discount": "0.00",
        "fulfillment_status": None,
        "price_set": _money_set(line.price, order.currency),
        "total_discount_set": zero,
        "discount_allocations": [],
        "duties": [],
        "admin_graphql_api_id": line.gid,
        "tax_lines": [],
    }


def _line_item(line: LineItem, order: Order) -> dict[str, Any]:
    item = _line_item_core(line, order)
    item.update(
        attributed_staffs=[],
        current_quantity=max(line.quantity - order.refunded_quantity(line.id), 0),
        sales_line_item_group_id=None,
    )
    return item


def refund_payload(refund: Refund, order: Order, shop: Shop) -> dict[str, Any]:
    """A Refund as `refunds/create` sends it and as it appears in an order's `refunds`."""
    lines_by_id = {line.id: line for line in order.line_items}
    refund_lines = []
    total = Decimal(0)
    for refund_line in refund.lines:
        line = lines_by_id[refund_line.line_item_id]
        subtotal = line.price * refund_line.quantity
        total += subtotal
        refund_lines.append(
            {
                "id": refund_line.id,
                "quantity": refund_line.quantity,
                "line_item_id": refund_line.line_item_id,
                "location_id": None,
                "restock_type": "no_restock",
                "subtotal": float(subtotal),
                "total_tax": 0.0,
                "subtotal_set": _money_set(subtotal, order.currency),
                "total_tax_set": _money_set(Decimal(0), order.currency),
                "line_item": _line_item_core(line, order),
            }
        )
    when = rest_time(refund.created_at, shop.timezone)
    return {
        "id": refund.id,
        "order_id": order.id,
        "created_at": when,
        "note": refund.note or None,
        "user_id": None,
        "processed_at": when,
        "duties": [],
        "total_duties_set": _money_set(Decimal(0), order.currency),
        "return": None,
        "refund_shipping_lines": [],
        "restock": False,
        "admin_graphql_api_id": refund.gid,
        "order_adjustments": [],
        "refund_line_items": refund_lines,
        "transactions": [
            {
                "id": refund.id + 1,
                "order_id": order.id,
                "kind": "refund",
                "gateway": "bogus",
                "status": "success",
                "message": "Bogus Gateway: Forced success",
                "created_at": when,
                "test": order.test,
                "authorization": None,
                "location_id": None,
                "user_id": None,
                "parent_id": None,
                "processed_at": when,
                "device_id": None,
                "error_code": None,
                "source_name": "web",
                "receipt": {},
                "amount": _money(total),
                "currency": order.currency,
                "payment_id": f"{order.name}.2",
                "total_unsettled_set": {
                    "presentment_money": {"amount": "0.0", "currency": "XXX"},
                    "shop_money": {"amount": "0.0", "currency": "XXX"},
                },
                "manual_payment_gateway": False,
                "amount_rounding": None,
                "admin_graphql_api_id": f"gid://shopify/OrderTransaction/{refund.id + 1}",
            }
        ],
    }


def _address(order: Order) -> dict[str, Any]:
    return {
        "first_name": order.first_name,
        "address1": "1 Rue de la Paix",
        "phone": None,
        "city": "Paris",
        "zip": "75002",
        "province": None,
        "country": "France",
        "last_name": order.last_name,
        "address2": None,
        "company": None,
        "latitude": None,
        "longitude": None,
        "name": f"{order.first_name} {order.last_name}".strip(),
        "country_code": "FR",
        "province_code": None,
    }


def order_payload(order: Order, shop: Shop) -> dict[str, Any]:
    """An Order as `orders/create`, `orders/paid`, `orders/updated` and `orders/cancelled` send it."""
    tz = shop.timezone
    cur = order.currency
    subtotal = order.subtotal
    refunded = sum(
        (
            next(li.price for li in order.line_items if li.id == rl.line_item_id) * rl.quantity
            for refund in order.refunds
            for rl in refund.lines
        ),
        Decimal(0),
    )
    current = subtotal - refunded
    outstanding = subtotal if order.financial_status in ("pending", "authorized") else Decimal(0)
    zero = _money_set(Decimal(0), cur)
    return {
        "id": order.id,
        "admin_graphql_api_id": order.gid,
        "app_id": 580111,
        "browser_ip": "127.0.0.1",
        "buyer_accepts_marketing": False,
        "cancel_reason": order.cancel_reason,
        "cancelled_at": rest_time(order.cancelled_at, tz),
        "cart_token": None,
        "checkout_token": order.token[:32],
        "client_details": None,
        "closed_at": rest_time(order.closed_at, tz),
        "confirmation_number": order.token[:9].upper(),
        "confirmed": True,
        "contact_email": order.email or None,
        "created_at": rest_time(order.created_at, tz),
        "currency": cur,
        "current_shipping_price_set": zero,
        "current_subtotal_price": _money(current),
        "current_subtotal_price_set": _money_set(current, cur),
        "current_total_additional_fees_set": None,
        "current_total_discounts": "0.00",
        "current_total_discounts_set": zero,
        "current_total_duties_set": None,
        "current_total_price": _money(current),
        "current_total_price_set": _money_set(current, cur),
        "current_total_tax": "0.00",
        "current_total_tax_set": zero,
        "customer_locale": "en",
        "device_id": None,
        "discount_codes": [],
        "duties_included": False,
        "email": order.email,
        "estimated_taxes": False,
        "financial_status": order.financial_status,
        "fulfillment_status": None,
        "landing_site": "/",
        "landing_site_ref": None,
        "location_id": None,
        "merchant_business_entity_id": f"MTU{shop.id % 10**9}",
        "merchant_of_record_app_id": None,
        "name": order.name,
        "note": None,
        "note_attributes": [],
        "number": order.number - 1000,
        "order_number": order.number,
        "order_status_url": f"https://{shop.domain}/{shop.id}/orders/{order.token}/authenticate?key={order.token[:16]}",
        "original_total_additional_fees_set": None,
        "original_total_duties_set": None,
        "payment_gateway_names": ["bogus"],
        "phone": None,
        "po_number": None,
        "presentment_currency": cur,
        "processed_at": rest_time(order.processed_at, tz),
        "reference": None,
        "referring_site": None,
        "source_identifier": None,
        "source_name": "web",
        "source_url": None,
        "subtotal_price": _money(subtotal),
        "subtotal_price_set": _money_set(subtotal, cur),
        "tags": "",
        "tax_exempt": False,
        "tax_lines": [],
        "taxes_included": False,
        "test": order.test,
        "token": order.token,
        "total_cash_rounding_payment_adjustment_set": zero,
        "total_cash_rounding_refund_adjustment_set": zero,
        "total_discounts": "0.00",
        "total_discounts_set": zero,
        "total_line_items_price": _money(subtotal),
        "total_line_items_price_set": _money_set(subtotal, cur),
        "total_outstanding": _money(outstanding),
        "total_price": _money(subtotal),
        "total_price_set": _money_set(subtotal, cur),
        "total_shipping_price_set": zero,
        "total_tax": "0.00",
        "total_tax_set": zero,
        "total_tip_received": "0.00",
        "total_weight": 0,
        "updated_at": rest_time(order.updated_at, tz),
        "user_id": None,
        "billing_address": _address(order),
        "customer": _customer(order, shop),
        "discount_applications": [],
        "fulfillments": [],
        "line_items": [_line_item(line, order) for line in order.line_items],
        "payment_terms": None,
        "refunds": [refund_payload(refund, order, shop) for refund in order.refunds],
        # Digital goods ship nowhere.
        "shipping_address": None,
        "shipping_lines": [],
        "returns": [],
        "line_item_groups": [],
    }


def shop_payload(shop: Shop) -> dict[str, Any]:
    """A Shop as `app/uninstalled` sends it."""
    when = rest_time(shop.created_at, shop.timezone)
    return {
        "id": shop.id,
        "name": shop.name,
        "email": shop.email,
        "domain": None,
        "province": None,
        "country": "FR",
        "address1": "1 Rue de la Paix",
        "zip": "75002",
        "city": "Paris",
        "source": None,
        "phone": None,
        "latitude": None,
        "longitude": None,
        "primary_locale": "en",
        "address2": None,
        "created_at": when,
        "updated_at": when,
        "country_code": "FR",
        "country_name": "France",
        "currency": "USD",
        "customer_email": shop.email,
        "timezone": f"(GMT) {shop.timezone}",
        "iana_timezone": shop.timezone,
        "shop_owner": shop.name,
        "money_format": "${{amount}}",
        "money_with_currency_format": "${{amount}} USD",
        "weight_unit": "kg",
        "province_code": None,
        "taxes_included": False,
        "auto_configure_tax_inclusivity": None,
        "tax_shipping": None,
        "county_taxes": None,
        "plan_display_name": PLAN_DISPLAY_NAMES.get(shop.plan, shop.plan),
        "plan_name": shop.plan,
        "has_discounts": False,
        "has_gift_cards": False,
        "myshopify_domain": shop.domain,
        "google_apps_domain": None,
        "google_apps_login_enabled": None,
        "money_in_emails_format": "${{amount}}",
        "money_with_currency_in_emails_format": "${{amount}} USD",
        "eligible_for_payments": True,
        "requires_extra_payments_agreement": False,
        "password_enabled": True,
        "has_storefront": True,
        "finances": True,
        "primary_location_id": shop.id + 1,
        "checkout_api_supported": True,
        "multi_location_enabled": True,
        "setup_required": False,
        "pre_launch_enabled": False,
        "enabled_presentment_currencies": ["USD"],
        "marketing_sms_consent_enabled_at_checkout": False,
        "transactional_sms_disabled": False,
    }
