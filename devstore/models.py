"""The devstore's records: plain dataclasses held in memory by DevStore (no database)."""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal


def gid(kind: str, id_: int) -> str:
    return f"gid://shopify/{kind}/{id_}"


@dataclass
class Variant:
    id: int
    product_id: int
    title: str  # "Default Title" for a product without options, as Shopify names it
    price: Decimal
    sku: str

    @property
    def gid(self) -> str:
        return gid("ProductVariant", self.id)


@dataclass
class Product:
    id: int
    title: str
    handle: str
    vendor: str
    created_at: float
    updated_at: float
    variants: list[Variant] = field(default_factory=list)

    @property
    def gid(self) -> str:
        return gid("Product", self.id)


@dataclass
class Customer:
    id: int
    email: str
    first_name: str
    last_name: str
    created_at: float

    @property
    def gid(self) -> str:
        return gid("Customer", self.id)


@dataclass
class LineItem:
    id: int
    product_id: int | None
    variant_id: int | None
    title: str
    variant_title: str | None
    quantity: int
    price: Decimal
    sku: str
    vendor: str
    order_id: int = 0

    @property
    def gid(self) -> str:
        return gid("LineItem", self.id)

    @property
    def name(self) -> str:
        return f"{self.title} - {self.variant_title}" if self.variant_title else self.title


@dataclass
class RefundLine:
    id: int
    line_item_id: int
    quantity: int


@dataclass
class Refund:
    id: int
    order_id: int
    created_at: float
    lines: list[RefundLine]
    note: str = ""

    @property
    def gid(self) -> str:
        return gid("Refund", self.id)


@dataclass
class Order:
    id: int
    number: int  # 1001, 1002, ... per shop; the name is "#" + number
    token: str
    email: str
    customer: Customer | None
    first_name: str
    last_name: str
    line_items: list[LineItem]
    financial_status: str  # REST's lowercase value: paid, pending, partially_refunded, ...
    test: bool
    created_at: float
    updated_at: float
    processed_at: float
    cancelled_at: float | None = None
    cancel_reason: str | None = None
    closed_at: float | None = None
    refunds: list[Refund] = field(default_factory=list)
    currency: str = "USD"

    @property
    def gid(self) -> str:
        return gid("Order", self.id)

    @property
    def name(self) -> str:
        return f"#{self.number}"

    @property
    def subtotal(self) -> Decimal:
        return sum((line.price * line.quantity for line in self.line_items), Decimal("0.00"))

    def refunded_quantity(self, line_item_id: int) -> int:
        return sum(
            line.quantity
            for refund in self.refunds
            for line in refund.lines
            if line.line_item_id == line_item_id
        )


@dataclass
class Shop:
    id: int
    domain: str
    name: str
    email: str
    plan: str
    access_token: str
    app_secret: str
    webhook_url: str | None
    read_all_orders: bool
    timezone: str
    created_at: float
    installed: bool = True
    token_valid: bool = True
    next_order_number: int = 1001
    products: dict[int, Product] = field(default_factory=dict)
    customers: dict[str, Customer] = field(default_factory=dict)  # by lowercased email
    orders: dict[int, Order] = field(default_factory=dict)
    # Admin API requests that answer an error status instead of running (fail_next).
    failures: list[int] = field(default_factory=list)

    @property
    def gid(self) -> str:
        return gid("Shop", self.id)
