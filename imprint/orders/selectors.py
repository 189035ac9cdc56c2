"""Reads of orders and sync runs, always for one shop."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable

from django.db.models import QuerySet

from imprint.orders.models import Order, SyncRun
from imprint.shops.models import Shop


def orders_known(*, shop: Shop, shopify_ids: Iterable[int]) -> dict[int, dt.datetime]:
    """Which of these Shopify orders Imprint has, with the Shopify `updated_at` it last applied.
    One query, whatever the number of ids (a sync page holds at most 250)."""
    return dict(
        Order.objects.filter(shop=shop, shopify_id__in=list(shopify_ids)).values_list(
            "shopify_id", "shopify_updated_at"
        )
    )


def sync_runs_recent(*, shop: Shop, limit: int = 20) -> QuerySet[SyncRun]:
    return SyncRun.objects.filter(shop=shop).order_by("-started_at", "-pk")[:limit]


def sync_run_get(*, shop: Shop, run_id: int) -> SyncRun | None:
    return SyncRun.objects.filter(shop=shop, pk=run_id).first()


def sync_run_running(*, shop: Shop) -> SyncRun | None:
    return SyncRun.objects.filter(shop=shop, status=SyncRun.Status.RUNNING).first()
