"""Imprint's own picture of a Shopify order, whatever it came from (webhook or sync)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field


@dataclass(frozen=True, kw_only=True)
class LineItemData:
    shopify_id: int
    product_id: int | None
    variant_id: int | None
    title: str
    variant_title: str = ""
    quantity: int = 1


@dataclass(frozen=True, kw_only=True)
class RefundData:
    shopify_id: int
    order_id: int
    # (line item id, quantity refunded) for each refunded line
    lines: tuple[tuple[int, int], ...] = ()


@dataclass(frozen=True, kw_only=True)
class OrderData:
    shopify_id: int
    name: str
    email: str
    first_name: str
    last_name: str
    financial_status: str
    cancelled_at: dt.datetime | None
    test: bool
    created_at: dt.datetime
    updated_at: dt.datetime
    line_items: tuple[LineItemData, ...]
    refunds: tuple[RefundData, ...] = field(default=())
