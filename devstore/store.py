"""DevStore: the devstore's state (shops, products, customers, orders, cost buckets) in memory,
behind one lock, and the actions that change it, each sending the webhooks Shopify would."""

from __future__ import annotations

import datetime as dt
import itertools
import json
import os
import re
import threading
import uuid
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any, NamedTuple

from devstore.clock import Clock
from devstore.models import Customer, LineItem, Order, Product, Refund, RefundLine, Shop, Variant
from devstore.payloads import order_payload, refund_payload, shop_payload
from devstore.webhooks import WebhookSender


class Plan(NamedTuple):
    restore_rate: float  # points per second
    bucket: float  # points


# Shopify's GraphQL Admin API limits per app and store: restore rate by plan, bucket = 20 x rate.
PLANS: dict[str, Plan] = {
    "standard": Plan(restore_rate=100, bucket=2000),
    "advanced": Plan(restore_rate=200, bucket=4000),
    "plus": Plan(restore_rate=1000, bucket=20000),
    "enterprise": Plan(restore_rate=2000, bucket=40000),
}
# Without the read_all_orders scope an app sees only the last 60 days of orders.
ORDERS_WINDOW_SECONDS = 60 * 86400
FINANCIAL_STATUSES = (
    "pending",
    "authorized",
    "partially_paid",
    "paid",
    "partially_refunded",
    "refunded",
    "voided",
    "expired",
)
# Costs are whole points; epoch seconds as floats are only exact to ~0.2 µs, which at 2,000
# points/s is ~0.0005 points.
FLOAT_SLACK_POINTS = 0.01
FAILURE_STATUSES = (429, 500, 502, 503, 504)
SHOP_DOMAIN = re.compile(r"^[a-zA-Z0-9][a-zA-Z0-9-]*\.myshopify\.com$")
# Ids above 2^53, like Shopify's, so that a client that reads them as floats breaks in tests.
FIRST_ID = 2**53 + 1
# Customers the bulk seeder draws from: unicode on purpose.
NAMES = (
    ("Jon", "Snow"),
    ("Zoë", "Ångström"),
    ("Łukasz", "Żółć"),
    ("Ana María", "Núñez"),
    ("雷", "李"),
    ("Ольга", "Смирнова"),
    ("Siobhán", "O'Brien"),
    ("Dvořák", "Antonín"),
)


class DevStoreError(Exception):
    """Base of the devstore's errors."""


class NotFound(DevStoreError):
    """No such shop, product, variant, order or line item."""


class Invalid(DevStoreError):
    """Input the devstore refuses (bad domain, status, quantity...)."""


class Bucket:
    """A leaky bucket of cost points: `maximum` points, refilled at `restore_rate` per second of
    the store's clock."""

    def __init__(self, *, maximum: float, restore_rate: float, clock: Clock) -> None:
        self.maximum = float(maximum)
        self.restore_rate = float(restore_rate)
        self._clock = clock
        self._level = float(maximum)
        self._at = clock.now()

    @property
    def available(self) -> float:
        elapsed = max(self._clock.now() - self._at, 0.0)
        return min(self.maximum, self._level + elapsed * self.restore_rate)

    def _settle(self) -> None:
        self._level = self.available
        self._at = max(self._clock.now(), self._at)

    def take(self, points: float) -> bool:
        """Reserve `points` if the bucket holds them; False (nothing taken) if not."""
        self._settle()
        # A client that waits exactly (requested - available) / restore_rate must get through,
        # though float time x rate may fall a hair short of the points it waited for.
        if self._level + FLOAT_SLACK_POINTS < points:
            return False
        self._level = max(self._level - points, 0.0)
        return True

    def give_back(self, points: float) -> None:
        self._settle()
        self._level = min(self.maximum, self._level + points)

    def fill(self) -> None:
        self._level = self.maximum
        self._at = self._clock.now()


@dataclass
class _Ids:
    counter: itertools.count[int]

    def __call__(self) -> int:
        return next(self.counter)


def _price(value: Any) -> Decimal:
    try:
        price = Decimal(str(value)).quantize(Decimal("0.01"))
    except InvalidOperation:
        raise Invalid(f"{value!r} is not a price") from None
    if price < 0:
        raise Invalid(f"{value!r} is not a price")
    return price


def _handle(title: str) -> str:
    return re.sub(r"[^\w]+", "-", title.lower()).strip("-") or "product"


def _iso(timestamp: float) -> str:
    moment = dt.datetime.fromtimestamp(timestamp, tz=dt.UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


class DevStore:
    """Every shop of the devstore. Thread-safe: each method runs under one lock."""

    def __init__(self, *, clock: Clock | None = None, retry_scale: float = 1.0) -> None:
        self.clock = clock or Clock()
        self.lock = threading.RLock()
        self.webhooks = WebhookSender(retry_scale=retry_scale)
        self.shops: dict[str, Shop] = {}
        self.cost_log: list[dict[str, Any]] = []
        self._tokens: dict[str, str] = {}  # access token → shop domain, revoked ones included
        self._buckets: dict[str, Bucket] = {}
        self._next_id = _Ids(itertools.count(FIRST_ID))
        from devstore.oauth import OAuth  # it raises the store's errors: imported late

        self.oauth = OAuth(self)  # grants, expiring tokens, session tokens (devstore/oauth.py)

    def close(self) -> None:
        """Stop the webhook threads."""
        self.webhooks.close()

    # --- shops ----------------------------------------------------------------------------------

    def shop_create(
        self,
        *,
        domain: str,
        name: str = "",
        plan: str = "standard",
        access_token: str,
        app_secret: str,
        webhook_url: str | None = None,
        read_all_orders: bool = False,
        email: str = "",
        timezone: str = "America/New_York",
    ) -> Shop:
        domain = domain.strip().lower()
        if not SHOP_DOMAIN.match(domain):
            raise Invalid(f"{domain!r} is not a shop domain (NAME.myshopify.com)")
        if plan not in PLANS:
            raise Invalid(f"unknown plan {plan!r}: one of {', '.join(PLANS)}")
        if not access_token:
            raise Invalid("an access token is required")
        with self.lock:
            if domain in self.shops:
                raise Invalid(f"{domain} exists already")
            if access_token in self._tokens:
                raise Invalid("that access token belongs to another shop")
            shop = Shop(
                id=self._next_id(),
                domain=domain,
                name=name or domain.split(".")[0].replace("-", " ").title(),
                email=email or f"owner@{domain.split('.')[0]}.example",
                plan=plan,
                access_token=access_token,
                app_secret=app_secret,
                webhook_url=webhook_url,
                read_all_orders=read_all_orders,
                timezone=timezone,
                created_at=self.clock.now(),
            )
            self.shops[domain] = shop
            self._tokens[access_token] = domain
            limits = PLANS[plan]
            self._buckets[domain] = Bucket(
                maximum=limits.bucket, restore_rate=limits.restore_rate, clock=self.clock
            )
            return shop

    def shop(self, domain: str) -> Shop:
        with self.lock:
            try:
                return self.shops[domain.strip().lower()]
            except KeyError:
                raise NotFound(f"no shop {domain}") from None

    def shop_for_token(self, token: str) -> Shop | None:
        """The shop a token was issued to, even if it was revoked since (None: never issued)."""
        with self.lock:
            domain = self._tokens.get(token)
            return self.shops[domain] if domain else None

    def shop_update(
        self,
        *,
        shop: str,
        webhook_url: str | None = None,
        app_secret: str | None = None,
        read_all_orders: bool | None = None,
        plan: str | None = None,
    ) -> Shop:
        with self.lock:
            record = self.shop(shop)
            if webhook_url is not None:
                record.webhook_url = webhook_url or None
            if app_secret is not None:
                record.app_secret = app_secret
            if read_all_orders is not None:
                record.read_all_orders = read_all_orders
            if plan is not None:
                if plan not in PLANS:
                    raise Invalid(f"unknown plan {plan!r}: one of {', '.join(PLANS)}")
                record.plan = plan
                limits = PLANS[plan]
                self._buckets[record.domain] = Bucket(
                    maximum=limits.bucket, restore_rate=limits.restore_rate, clock=self.clock
                )
            return record

    def shop_install(self, *, shop: str, access_token: str) -> Shop:
        """(Re)install the app: a new access token, valid from now on."""
        with self.lock:
            record = self.shop(shop)
            owner = self._tokens.get(access_token)
            if owner is not None and owner != record.domain:
                raise Invalid("that access token belongs to another shop")
            record.access_token = access_token
            record.token_valid = True
            record.installed = True
            self._tokens[access_token] = record.domain
            return record

    def token_revoke(self, *, shop: str) -> None:
        """The Admin API answers 401 to the shop's token from now on."""
        with self.lock:
            self.shop(shop).token_valid = False

    def shop_uninstall(self, *, shop: str) -> None:
        """The merchant removes the app: the token is revoked, then app/uninstalled is sent."""
        with self.lock:
            record = self.shop(shop)
            record.token_valid = False
            record.installed = False
            self.oauth.shop_revoke(record.domain)
            self._webhook(record, "app/uninstalled", shop_payload(record), order_id=None)

    def bucket(self, shop: str) -> Bucket:
        with self.lock:
            return self._buckets[self.shop(shop).domain]

    def fail_next(self, *, shop: str, count: int = 1, status: int = 500) -> None:
        """The next `count` Admin API requests for the shop answer `status` (429 with
        Retry-After) instead of running."""
        if status not in FAILURE_STATUSES:
            raise Invalid(f"status must be one of {FAILURE_STATUSES}")
        if count < 0:
            raise Invalid("count must not be negative")
        with self.lock:
            self.shop(shop).failures.extend([status] * count)

    def failure_take(self, shop: Shop) -> int | None:
        """The status the next Admin API request must answer, if fail_next asked for one."""
        with self.lock:
            return shop.failures.pop(0) if shop.failures else None

    # --- products -------------------------------------------------------------------------------

    def product_create(
        self,
        *,
        shop: str,
        title: str,
        variants: list[str] | None = None,
        price: str | Decimal = "10.00",
        vendor: str = "",
    ) -> Product:
        title = title.strip()
        if not title:
            raise Invalid("a product needs a title")
        with self.lock:
            record = self.shop(shop)
            now = self.clock.now()
            product = Product(
                id=self._next_id(),
                title=title,
                handle=_handle(title),
                vendor=vendor or record.name,
                created_at=now,
                updated_at=now,
            )
            for index, variant_title in enumerate(variants or ["Default Title"]):
                product.variants.append(
                    Variant(
                        id=self._next_id(),
                        product_id=product.id,
                        title=variant_title,
                        price=_price(price),
                        sku=f"{product.handle[:20].upper()}-{index + 1}",
                    )
                )
            record.products[product.id] = product
            return product

    def variant(self, *, shop: str, variant_id: int) -> tuple[Product, Variant]:
        with self.lock:
            for product in self.shop(shop).products.values():
                for variant in product.variants:
                    if variant.id == variant_id:
                        return product, variant
            raise NotFound(f"no variant {variant_id} in {shop}")

    # --- orders ---------------------------------------------------------------------------------

    def _customer(self, shop: Shop, email: str, first_name: str, last_name: str) -> Customer | None:
        if not email:
            return None
        key = email.strip().lower()
        customer = shop.customers.get(key)
        if customer is None:
            customer = Customer(
                id=self._next_id(),
                email=email.strip(),
                first_name=first_name,
                last_name=last_name,
                created_at=self.clock.now(),
            )
            shop.customers[key] = customer
        return customer

    def order(self, *, shop: str, order_id: int) -> Order:
        with self.lock:
            try:
                return self.shop(shop).orders[int(order_id)]
            except (KeyError, ValueError):
                raise NotFound(f"no order {order_id} in {shop}") from None

    def order_create(
        self,
        *,
        shop: str,
        lines: list[tuple[int, int]],
        financial_status: str = "paid",
        email: str = "jon@example.com",
        first_name: str = "Jon",
        last_name: str = "Snow",
        test: bool = False,
        created_at: float | None = None,
        webhooks: bool = True,
    ) -> Order:
        """A checkout: orders/create, then orders/paid if it is paid."""
        if financial_status not in FINANCIAL_STATUSES:
            raise Invalid(f"unknown financial status {financial_status!r}")
        if not lines:
            raise Invalid("an order needs at least one line")
        with self.lock:
            record = self.shop(shop)
            line_items = []
            for variant_id, quantity in lines:
                if quantity < 1:
                    raise Invalid(f"quantity must be at least 1, got {quantity}")
                product, variant = self.variant(shop=record.domain, variant_id=int(variant_id))
                line_items.append(
                    LineItem(
                        id=self._next_id(),
                        product_id=product.id,
                        variant_id=variant.id,
                        title=product.title,
                        variant_title=None if variant.title == "Default Title" else variant.title,
                        quantity=quantity,
                        price=variant.price,
                        sku=variant.sku,
                        vendor=product.vendor,
                    )
                )
            when = self.clock.now() if created_at is None else created_at
            order = Order(
                id=self._next_id(),
                number=record.next_order_number,
                token=uuid.uuid4().hex,
                email=email.strip(),
                customer=self._customer(record, email, first_name, last_name),
                first_name=first_name,
                last_name=last_name,
                line_items=line_items,
                financial_status=financial_status,
                test=test,
                created_at=when,
                updated_at=when,
                processed_at=when,
            )
            for line in line_items:
                line.order_id = order.id
            record.next_order_number += 1
            record.orders[order.id] = order
            if webhooks:
                self._order_webhook(record, order, "orders/create")
                if financial_status == "paid":
                    self._order_webhook(record, order, "orders/paid")
            return order

    def order_mark_paid(self, *, shop: str, order_id: int) -> Order:
        """Capture the payment of a pending order: orders/paid and orders/updated."""
        with self.lock:
            record = self.shop(shop)
            order = self.order(shop=shop, order_id=order_id)
            if order.financial_status not in ("pending", "authorized", "partially_paid"):
                raise Invalid(
                    f"order {order.name} is {order.financial_status}, not awaiting payment"
                )
            order.financial_status = "paid"
            self._touch(order)
            self._order_webhook(record, order, "orders/paid")
            self._order_webhook(record, order, "orders/updated")
            return order

    def order_cancel(self, *, shop: str, order_id: int, reason: str = "customer") -> Order:
        """Cancel: orders/cancelled and orders/updated. An unpaid order's payment is voided."""
        with self.lock:
            record = self.shop(shop)
            order = self.order(shop=shop, order_id=order_id)
            if order.cancelled_at is not None:
                raise Invalid(f"order {order.name} is cancelled already")
            now = self.clock.now()
            order.cancelled_at = now
            order.cancel_reason = reason
            if order.financial_status in ("pending", "authorized"):
                order.financial_status = "voided"
            self._touch(order)
            self._order_webhook(record, order, "orders/cancelled")
            self._order_webhook(record, order, "orders/updated")
            return order

    def order_update(self, *, shop: str, order_id: int, email: str | None = None) -> Order:
        """An edit by the merchant: orders/updated."""
        with self.lock:
            record = self.shop(shop)
            order = self.order(shop=shop, order_id=order_id)
            if email is not None:
                order.email = email
            self._touch(order)
            self._order_webhook(record, order, "orders/updated")
            return order

    def refund_create(
        self,
        *,
        shop: str,
        order_id: int,
        lines: list[tuple[int, int]] | None = None,
        note: str = "",
    ) -> Refund:
        """Refund lines (line item id, quantity); None refunds whatever is left. Sends
        refunds/create and orders/updated."""
        with self.lock:
            record = self.shop(shop)
            order = self.order(shop=shop, order_id=order_id)
            if order.financial_status not in ("paid", "partially_refunded", "partially_paid"):
                raise Invalid(f"order {order.name} is {order.financial_status}: nothing to refund")
            by_id = {line.id: line for line in order.line_items}
            if lines is None:
                lines = [
                    (line.id, line.quantity - order.refunded_quantity(line.id))
                    for line in order.line_items
                    if line.quantity > order.refunded_quantity(line.id)
                ]
            refund_lines = []
            for line_item_id, quantity in lines:
                line = by_id.get(int(line_item_id))
                if line is None:
                    raise NotFound(f"no line item {line_item_id} in order {order.name}")
                left = line.quantity - order.refunded_quantity(line.id)
                if not 1 <= quantity <= left:
                    raise Invalid(
                        f"line item {line_item_id}: {left} left to refund, not {quantity}"
                    )
                refund_lines.append(
                    RefundLine(id=self._next_id(), line_item_id=line.id, quantity=quantity)
                )
            if not refund_lines:
                raise Invalid(f"order {order.name}: nothing left to refund")
            refund = Refund(
                id=self._next_id(),
                order_id=order.id,
                created_at=self.clock.now(),
                lines=refund_lines,
                note=note,
            )
            order.refunds.append(refund)
            everything = all(
                order.refunded_quantity(line.id) >= line.quantity for line in order.line_items
            )
            order.financial_status = "refunded" if everything else "partially_refunded"
            self._touch(order)
            self._webhook(
                record, "refunds/create", refund_payload(refund, order, record), order_id=order.id
            )
            self._order_webhook(record, order, "orders/updated")
            return refund

    def orders_bulk_create(
        self,
        *,
        shop: str,
        count: int,
        paid_ratio: float = 1.0,
        lines_per_order: int = 1,
        product_ids: list[int] | None = None,
        webhooks: bool = False,
        days: float = 30.0,
        test_ratio: float = 0.0,
    ) -> list[Order]:
        """Seed `count` orders with created_at spread evenly over the last `days` days (oldest
        first). The first round(count x paid_ratio) of every group of orders are paid, the rest
        pending, spread evenly; names cycle through a unicode cast. No webhooks unless asked."""
        if count < 0 or lines_per_order < 1 or not 0 <= paid_ratio <= 1:
            raise Invalid("count ≥ 0, lines_per_order ≥ 1, 0 ≤ paid_ratio ≤ 1")
        with self.lock:
            record = self.shop(shop)
            if product_ids:
                products = [record.products[int(pid)] for pid in product_ids]
            else:
                products = list(record.products.values()) or [
                    self.product_create(shop=shop, title="Bulk Guide", variants=["PDF", "EPUB"])
                ]
            variants = [variant for product in products for variant in product.variants]
            now = self.clock.now()
            span = days * 86400
            orders = []
            paid_so_far = 0
            for index in range(count):
                # Evenly interleaved: after i orders, round(i x ratio) of them are paid.
                paid = round((index + 1) * paid_ratio) > paid_so_far
                paid_so_far += paid
                first, last = NAMES[index % len(NAMES)]
                lines = [
                    (variants[(index + k) % len(variants)].id, 1) for k in range(lines_per_order)
                ]
                orders.append(
                    self.order_create(
                        shop=shop,
                        lines=lines,
                        financial_status="paid" if paid else "pending",
                        email=f"customer{index + 1}@example.com",
                        first_name=first,
                        last_name=last,
                        test=test_ratio > 0 and index % round(1 / test_ratio) == 0,
                        created_at=now - span * (count - index) / max(count, 1),
                        webhooks=webhooks,
                    )
                )
            return orders

    def orders_visible(self, shop: Shop) -> list[Order]:
        """What the Admin API shows: without read_all_orders, the last 60 days only."""
        with self.lock:
            if shop.read_all_orders:
                return list(shop.orders.values())
            since = self.clock.now() - ORDERS_WINDOW_SECONDS
            return [order for order in shop.orders.values() if order.created_at >= since]

    # --- webhooks -------------------------------------------------------------------------------

    def _touch(self, order: Order) -> None:
        # updated_at moves forward even when two changes share a clock reading (a FakeClock).
        order.updated_at = max(self.clock.now(), order.updated_at + 1)

    def _order_webhook(self, shop: Shop, order: Order, topic: str) -> None:
        self._webhook(shop, topic, order_payload(order, shop), order_id=order.id)

    def _webhook(self, shop: Shop, topic: str, payload: Any, *, order_id: int | None) -> None:
        if not shop.installed and topic != "app/uninstalled":
            return  # an uninstalled app gets no more webhooks
        self.webhooks.send(
            topic=topic,
            shop=shop.domain,
            url=shop.webhook_url,
            secret=shop.app_secret,
            payload=payload,
            triggered_at=_iso(self.clock.now()),
            order_id=order_id,
        )

    # --- snapshot -------------------------------------------------------------------------------

    def snapshot(self) -> dict[str, Any]:
        """Everything but the webhook log and cost accounting, as JSON-able data."""
        from devstore.snapshot import store_dump

        with self.lock:
            return store_dump(self)

    def save(self, path: str | Path) -> None:
        """Write the snapshot atomically (a crash leaves the old file or the new one)."""
        path = Path(path)
        data = json.dumps(self.snapshot(), ensure_ascii=False)
        temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
        temporary.write_text(data, encoding="utf-8")
        os.replace(temporary, path)

    def load(self, path: str | Path) -> None:
        from devstore.snapshot import store_load

        data = json.loads(Path(path).read_text(encoding="utf-8"))
        with self.lock:
            store_load(self, data)

    def id_next(self) -> int:
        return self._next_id()

    def id_reset(self, first: int) -> None:
        self._next_id = _Ids(itertools.count(first))

    def token_register(self, token: str, domain: str) -> None:
        self._tokens[token] = domain

    def bucket_reset(self, domain: str) -> None:
        limits = PLANS[self.shops[domain].plan]
        self._buckets[domain] = Bucket(
            maximum=limits.bucket, restore_rate=limits.restore_rate, clock=self.clock
        )
