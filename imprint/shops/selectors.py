"""Reads of a store's own records; every selector is given the store."""

from __future__ import annotations

from django.db.models import BooleanField, ExpressionWrapper, Q, QuerySet

from imprint.shops.models import PrivacyRequest, PrivacyRequestKind, Shop

PRIVACY_PAGE_SIZE = 100


def privacy_requests_list(*, shop: Shop) -> QuerySet[PrivacyRequest]:
    """The store's privacy requests, newest first (without their reports: they can be large)."""
    return (
        PrivacyRequest.objects.filter(shop=shop)
        .defer("report", "payload")
        .annotate(report_held=ExpressionWrapper(Q(report__isnull=False), BooleanField()))
        .order_by("-created", "-pk")[:PRIVACY_PAGE_SIZE]
    )


def privacy_report_get(*, shop: Shop, request_id: int) -> PrivacyRequest | None:
    """A data request of this store whose report is still held (a later erasure removes it)."""
    return (
        PrivacyRequest.objects.filter(
            shop=shop, pk=request_id, kind=PrivacyRequestKind.DATA_REQUEST
        )
        .exclude(report=None)
        .first()
    )
