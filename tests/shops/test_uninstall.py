"""app/uninstalled and app/scopes_update: the store stops, keeps its data, and comes back."""

from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone

from imprint.orders.models import Order, SyncRun
from imprint.orders.sync import UNINSTALLED, orders_sync, orders_sync_schedule
from imprint.shopify.models import DeliveryStatus, WebhookDelivery
from imprint.shops.models import Shop
from imprint.shops.services import shop_token_get, shop_token_set
from tests.factories import OrderFactory
from tests.shopify.helpers import post_webhook, run_queued, sample

pytestmark = pytest.mark.django_db


def _uninstall(client, shop: Shop):  # type: ignore[no-untyped-def]
    response = post_webhook(
        client, topic="app/uninstalled", shop=shop.domain, payload=sample("app_uninstalled")
    )
    run_queued()
    return response


def _scheduled(now: dt.datetime) -> list[int]:
    """The stores whose sync the scheduler enqueues: a store's first turn is its slot, so the
    schedule is asked once to place every store and again an interval later."""
    orders_sync_schedule(now=now)
    return sorted(orders_sync_schedule(now=now + dt.timedelta(minutes=16)))


def test_app_uninstalled_marks_the_store_forgets_its_token_and_keeps_its_data(
    client, shop_a
) -> None:
    order = OrderFactory(shop=shop_a)
    shop_token_set(
        shop=shop_a,
        access_token="shpat_a",
        expires_at=timezone.now() + dt.timedelta(hours=1),
        refresh_token="shprt_a",
        refresh_expires_at=timezone.now() + dt.timedelta(days=90),
        scopes="read_orders,read_products",
    )

    assert _uninstall(client, shop_a).status_code == 200

    shop = Shop.objects.get(pk=shop_a.pk)
    assert shop.uninstalled_at is not None
    assert (
        shop.access_token_encrypted,
        shop.access_token_expires_at,
        shop.refresh_token_encrypted,
        shop.refresh_token_expires_at,
        shop_token_get(shop=shop),
    ) == ("", None, "", None, "")
    assert shop.scopes == "read_orders,read_products"
    assert list(Order.objects.filter(shop=shop).values_list("pk", flat=True)) == [order.pk]
    assert WebhookDelivery.objects.get().outcome == "Shop marked uninstalled"


def test_app_uninstalled_again_changes_nothing_more(client, shop_a) -> None:
    _uninstall(client, shop_a)
    first = Shop.objects.get(pk=shop_a.pk).uninstalled_at

    _uninstall(client, shop_a)

    assert Shop.objects.get(pk=shop_a.pk).uninstalled_at == first
    assert list(WebhookDelivery.objects.order_by("pk").values_list("outcome", flat=True)) == [
        "Shop marked uninstalled",
        "Shop was uninstalled already",
    ]


def test_an_uninstalled_store_is_not_scheduled_and_its_sync_calls_nothing(
    client, settings, shop_a, shop_b
) -> None:
    settings.SYNC_INTERVAL_MINUTES = 15
    settings.SHOPIFY_ADMIN_ORIGIN = "http://127.0.0.1:9"  # a call would fail with another error
    _uninstall(client, shop_a)
    later = timezone.now() + dt.timedelta(days=1)

    assert _scheduled(later) == [shop_b.pk]
    run = orders_sync(shop=Shop.objects.get(pk=shop_a.pk))

    assert (run.status, run.error_text) == (SyncRun.Status.FAILED, UNINSTALLED)


def test_reinstalling_with_a_new_token_restores_the_store(client, settings, shop_a) -> None:
    settings.SYNC_INTERVAL_MINUTES = 15
    _uninstall(client, shop_a)

    shop_token_set(shop=Shop.objects.get(pk=shop_a.pk), access_token="shpat_again")

    shop = Shop.objects.get(pk=shop_a.pk)
    assert (shop.uninstalled_at, shop_token_get(shop=shop)) == (None, "shpat_again")
    assert _scheduled(timezone.now() + dt.timedelta(days=1)) == [shop_a.pk]


def test_app_scopes_update_records_the_current_scopes(client, shop_a) -> None:
    response = post_webhook(
        client, topic="app/scopes_update", shop=shop_a.domain, payload=sample("app_scopes_update")
    )
    run_queued()

    assert response.status_code == 200
    assert Shop.objects.get(pk=shop_a.pk).scopes == "read_products,write_products"
    delivery = WebhookDelivery.objects.get()
    assert (delivery.status, delivery.outcome) == (
        DeliveryStatus.PROCESSED,
        "Scopes recorded: read_products,write_products",
    )


def test_app_scopes_update_without_a_scope_list_fails_and_changes_nothing(client, shop_a) -> None:
    Shop.objects.filter(pk=shop_a.pk).update(scopes="read_orders")

    post_webhook(
        client, topic="app/scopes_update", shop=shop_a.domain, payload={"current": "read_orders"}
    )
    run_queued()

    assert Shop.objects.get(pk=shop_a.pk).scopes == "read_orders"
    delivery = WebhookDelivery.objects.get()
    assert (delivery.status, delivery.outcome) == (
        DeliveryStatus.FAILED,
        "Unusable payload: current is not a list of scopes",
    )
