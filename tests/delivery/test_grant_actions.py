"""The merchant's four fixes (and Restore access) as services: effective on the next request."""

from __future__ import annotations

import datetime as dt

import pytest
import time_machine

from imprint.delivery.models import DownloadGrant
from imprint.delivery.services import (
    GrantActionError,
    GrantState,
    grant_redeem,
    grant_state,
    grants_extend,
    grants_issue,
    grants_reset,
    grants_restore,
    grants_restrict,
)
from imprint.orders.models import Order, OrderActivity
from tests.factories import AttachmentFactory, DigitalFileFactory, LineItemFactory, OrderFactory

pytestmark = pytest.mark.django_db

NOW = dt.datetime(2026, 12, 4, 12, 0, tzinfo=dt.UTC)


@pytest.fixture
def order(shop_a) -> Order:
    order = OrderFactory(shop=shop_a, has_digital_items=True)
    for name in ("a.pdf", "b.pdf"):
        line = LineItemFactory(order=order)
        AttachmentFactory(
            shop=shop_a, file=DigitalFileFactory(shop=shop_a, name=name), product_id=line.product_id
        )
    with time_machine.travel(NOW, tick=False):
        grants_issue(order=order)
    return order


def test_issue_is_idempotent(order) -> None:
    before = list(order.grants.values_list("pk", flat=True))

    grants_issue(order=order)

    assert list(order.grants.values_list("pk", flat=True)) == before
    assert len(before) == 2


def test_restrict_stops_every_link_and_restore_brings_them_back(order) -> None:
    grant = order.grants.first()

    assert grants_restrict(order=order, actor="owner@shop-a.example") == 2
    assert grant_redeem(grant_id=grant.pk, nbytes=10) is False
    grant.refresh_from_db()
    assert grant_state(grant) == GrantState.RESTRICTED
    assert Order.objects.get(pk=order.pk).delivery_status == "restricted"

    assert grants_restore(order=order, actor="owner@shop-a.example") == 2
    assert grant_redeem(grant_id=grant.pk, nbytes=10) is True
    assert list(order.activity.order_by("at", "id").values_list("actor", "action")) == [
        ("owner@shop-a.example", "restrict"),
        ("owner@shop-a.example", "restore"),
    ]


def test_restrict_keeps_a_refund_as_the_reason(order) -> None:
    first = order.grants.first()
    DownloadGrant.objects.filter(pk=first.pk).update(restriction="refunded")

    grants_restrict(order=order, actor="staff")

    assert sorted(order.grants.values_list("restriction", flat=True)) == ["merchant", "refunded"]


def test_reset_gives_back_every_download(order) -> None:
    grant = order.grants.first()
    DownloadGrant.objects.filter(order=order).update(bytes_used=grant.file_size * 5)
    assert grant_redeem(grant_id=grant.pk, nbytes=1) is False

    assert grants_reset(order=order, actor="staff") == 2

    grant.refresh_from_db()
    assert grant.bytes_used == 0
    assert grant_redeem(grant_id=grant.pk, nbytes=1) is True
    assert OrderActivity.objects.filter(order=order, action="reset").count() == 1


def test_extend_counts_from_now_when_expired(order) -> None:
    later = NOW + dt.timedelta(days=40)  # the 30-day links have expired
    grant = order.grants.first()

    with time_machine.travel(later, tick=False):
        assert grant_redeem(grant_id=grant.pk, nbytes=1) is False
        grants_extend(order=order, days=5, actor="staff")
        assert grant_redeem(grant_id=grant.pk, nbytes=1) is True

    grant.refresh_from_db()
    assert grant.expires_at == later + dt.timedelta(days=5)


def test_extend_counts_from_the_current_expiry_when_still_valid(order) -> None:
    with time_machine.travel(NOW + dt.timedelta(days=1), tick=False):
        grants_extend(order=order, days=10, actor="staff")

    assert set(order.grants.values_list("expires_at", flat=True)) == {NOW + dt.timedelta(days=40)}


def test_extend_leaves_unlimited_links_unlimited(order) -> None:
    DownloadGrant.objects.filter(order=order).update(expires_at=None)

    assert grants_extend(order=order, days=10, actor="staff") == 0

    assert set(order.grants.values_list("expires_at", flat=True)) == {None}


@pytest.mark.parametrize("days", [0, -3, 100000])
def test_extend_refuses_nonsense_days_and_changes_nothing(order, days) -> None:
    before = list(order.grants.values_list("expires_at", flat=True))

    with pytest.raises(GrantActionError):
        grants_extend(order=order, days=days, actor="staff")

    assert list(order.grants.values_list("expires_at", flat=True)) == before
    assert OrderActivity.objects.filter(order=order).count() == 0


def test_limit_counts_bytes_so_ranges_of_one_download_count_once(order) -> None:
    grant = order.grants.first()
    DownloadGrant.objects.filter(pk=grant.pk).update(max_downloads=1)
    half = grant.file_size // 2

    assert grant_redeem(grant_id=grant.pk, nbytes=half) is True
    assert grant_redeem(grant_id=grant.pk, nbytes=grant.file_size - half) is True
    assert grant_redeem(grant_id=grant.pk, nbytes=1) is False

    grant.refresh_from_db()
    assert (grant.downloads_used, grant.downloads_left, grant.downloaded_in_full) == (1, 0, True)
    assert grant_state(grant) == GrantState.EXHAUSTED
