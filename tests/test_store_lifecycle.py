"""A store's whole life in Imprint: installed, orders delivered and downloaded, uninstalled,
reinstalled, then erased by Shopify's shop/redact 48 hours after it left, which leaves no row and
no file of it."""

from __future__ import annotations

import datetime as dt

import pytest
import time_machine
from django.apps import apps
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.db import models

from imprint.catalog.models import DigitalFile
from imprint.delivery.models import DownloadGrant
from imprint.delivery.services import grant_link_token
from imprint.emails.models import EmailLog
from imprint.orders.models import LineItem, Order
from imprint.shopify.models import DeliveryStatus, WebhookDelivery
from imprint.shops.models import Shop
from imprint.shops.services import shop_add, shop_token_get, shop_token_set
from tests.factories import AttachmentFactory, DigitalFileFactory
from tests.shopify.helpers import paid_order, post_webhook, run_queued, sample
from tests.shops.privacy_helpers import privacy_sample

pytestmark = pytest.mark.django_db

START = dt.datetime(2026, 12, 1, 9, 0, tzinfo=dt.UTC)
# Rows are counted through these: a model that points at one of them belongs to the store.
OWNERS = {
    Shop: "shop",
    Order: "order",
    LineItem: "line",
    DownloadGrant: "grant",
    DigitalFile: "file",
}


def _rows_of(ids: dict[str, set[int]]) -> dict[str, int]:
    """For every model with a foreign key to a store-owned model: its rows that belong to it."""
    counts: dict[str, int] = {}
    for model in apps.get_models():
        for field in model._meta.get_fields():
            if not isinstance(field, models.ForeignKey):
                continue
            owner = OWNERS.get(field.related_model)  # type: ignore[arg-type]
            if owner is None:
                continue
            found = model.objects.filter(**{f"{field.name}_id__in": ids[owner]}).count()
            counts[f"{model._meta.label}.{field.name}"] = found
    counts["shops.Shop"] = Shop.objects.filter(pk__in=ids["shop"]).count()
    return counts


def test_install_orders_uninstall_reinstall_and_shop_redact_leaves_nothing(client) -> None:
    with time_machine.travel(START, tick=False):
        shop = shop_add(domain="life.myshopify.com", token="shpat_first", name="Life")
        product_id = paid_order()["line_items"][0]["product_id"]
        AttachmentFactory(shop=shop, file=DigitalFileFactory(shop=shop), product_id=product_id)
        shop.email_logo = default_storage.save("logos/life.png", ContentFile(b"\x89PNG"))
        shop.save(update_fields=["email_logo"])

        response = post_webhook(client, topic="orders/paid", shop=shop.domain, payload=paid_order())
        run_queued()
        assert response.status_code == 200
        order = Order.objects.get(shop=shop)
        grant = DownloadGrant.objects.filter(order=order).order_by("pk").first()
        assert grant is not None
        assert EmailLog.objects.get(order=order).status == "sent"
        assert client.get(f"/d/{grant_link_token(grant)}/file").status_code == 200
        post_webhook(
            client,
            topic="customers/data_request",
            shop=shop.domain,
            payload=privacy_sample("customers_data_request", shop),
        )
        run_queued()

    with time_machine.travel(START + dt.timedelta(days=1), tick=False):
        post_webhook(
            client, topic="app/uninstalled", shop=shop.domain, payload=sample("app_uninstalled")
        )
        run_queued()
        shop.refresh_from_db()
        assert (shop.is_installed, shop_token_get(shop=shop)) == (False, "")
        assert Order.objects.filter(shop=shop).count() == 1  # data kept until shop/redact

    with time_machine.travel(START + dt.timedelta(days=2), tick=False):
        shop_token_set(shop=shop, access_token="shpat_again", scopes="read_orders,read_products")
        shop.refresh_from_db()
        assert (shop.is_installed, shop_token_get(shop=shop)) == (True, "shpat_again")
        post_webhook(
            client, topic="app/uninstalled", shop=shop.domain, payload=sample("app_uninstalled")
        )
        run_queued()

    ids = {
        "shop": {shop.pk},
        "order": set(Order.objects.filter(shop=shop).values_list("pk", flat=True)),
        "line": set(LineItem.objects.filter(order__shop=shop).values_list("pk", flat=True)),
        "grant": set(DownloadGrant.objects.filter(shop=shop).values_list("pk", flat=True)),
        "file": set(DigitalFile.objects.filter(shop=shop).values_list("pk", flat=True)),
    }
    stored = [
        *DigitalFile.objects.filter(shop=shop).values_list("storage_name", flat=True),
        shop.email_logo,
    ]
    before = _rows_of(ids)
    assert all(
        before[label] >= 1
        for label in (
            "orders.Order.shop",
            "delivery.DownloadEvent.grant",
            "emails.EmailLog.order",
            "shopify.WebhookDelivery.shop",
            "shops.PrivacyRequest.shop",
            "catalog.DigitalFile.shop",
        )
    )
    assert [default_storage.exists(name) for name in stored] == [True, True]

    # Shopify sends shop/redact 48 hours after the uninstall.
    with time_machine.travel(START + dt.timedelta(days=4), tick=False):
        response = post_webhook(
            client,
            topic="shop/redact",
            shop=shop.domain,
            payload=privacy_sample("shop_redact", shop),
        )
        run_queued()

    assert response.status_code == 200
    after = _rows_of(ids)
    assert {label: count for label, count in after.items() if count} == {}
    assert [default_storage.exists(name) for name in stored] == [False, False]
    # What is left under the store's domain: the body-less record of the erasure itself.
    assert list(
        WebhookDelivery.objects.filter(shop_domain=shop.domain).values_list(
            "topic", "body", "status"
        )
    ) == [("shop/redact", "", DeliveryStatus.PROCESSED)]
