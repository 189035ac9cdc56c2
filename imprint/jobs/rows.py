"""Queues whose rows are their own jobs (webhook deliveries, emails): the claim they share.

Such a model has `status`, `attempts`, `claimed_at` and `next_attempt_at`. A row waits in its
waiting status until due (`next_attempt_at` empty or past); a worker marks it claimed, counting
the attempt; a claim older than the lease belongs to a worker that died and may be taken again.
"""

from __future__ import annotations

import datetime as dt
from typing import TypeVar

from django.conf import settings
from django.db import models, transaction
from django.db.models import F, Q, QuerySet
from django.utils import timezone

M = TypeVar("M", bound=models.Model)


def rows_due(*, waiting: str, now: dt.datetime) -> Q:
    """Rows waiting whose time has come: never tried, or past their retry's back-off."""
    return Q(status=waiting) & (Q(next_attempt_at__isnull=True) | Q(next_attempt_at__lte=now))


def rows_ready(*, waiting: str, claimed: str, now: dt.datetime) -> Q:
    """Rows a worker may claim: waiting and due, or claimed by a worker whose lease ran out."""
    lease_expired = now - dt.timedelta(seconds=settings.JOB_LEASE_SECONDS)
    return rows_due(waiting=waiting, now=now) | Q(status=claimed, claimed_at__lt=lease_expired)


def rows_claim(
    model: type[M],
    *,
    waiting: str,
    claimed: str,
    limit: int,
    ids: list[int] | None = None,
) -> QuerySet[M]:
    """Claim up to `limit` ready rows of `model` (among `ids` when given), oldest first, for
    this worker alone; returns them (oldest first), to be loaded as the caller needs.

    The rows are locked while they are marked (`SKIP LOCKED` on PostgreSQL, so concurrent
    workers take different rows; SQLite serializes writers), so no row is claimed twice within
    its lease.
    """
    now = timezone.now()
    rows = model._default_manager
    ready = rows.filter(rows_ready(waiting=waiting, claimed=claimed, now=now))
    if ids is not None:
        ready = ready.filter(pk__in=ids)
    # A plain read first: an idle or outpaced worker finds nothing without taking SQLite's one
    # write lock (which the claim below does), so it never holds up intake or another worker.
    if not ready.exists():
        return rows.none()
    with transaction.atomic():
        picked = list(
            ready.select_for_update(skip_locked=True)
            .order_by("pk")
            .values_list("pk", flat=True)[:limit]
        )
        if picked:
            rows.filter(pk__in=picked).update(
                status=claimed, claimed_at=now, attempts=F("attempts") + 1, next_attempt_at=None
            )
    return rows.filter(pk__in=picked).order_by("pk")
