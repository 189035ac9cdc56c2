"""End to end: the devstore's webhooks are accepted by Imprint's real /webhooks/shopify."""

from __future__ import annotations

import pytest
from django.core import mail

from imprint.orders.models import Order
from imprint.shopify.models import WebhookDelivery
from tests.factories import AttachmentFactory, DigitalFileFactory, ShopFactory
from tests.shopify.helpers import run_queued

WAIT_SECONDS = 10.0


@pytest.mark.slow
def test_imprint_accepts_and_delivers_a_devstore_order(
    transactional_db, live_server, devstore, devstore_shop
) -> None:
    """The shop's secret is the tests' SHOPIFY_API_SECRET (tests/conftest.py), as in production
    where the app's client secret signs every store's webhooks."""
    shop = ShopFactory(domain=devstore_shop.domain, name="Devstore A")
    product = devstore.product_create(shop=devstore_shop.domain, title="Snowboard Guide")
    AttachmentFactory(file=DigitalFileFactory(shop=shop), product_id=product.id)
    devstore.shop_update(
        shop=devstore_shop.domain, webhook_url=f"{live_server.url}/webhooks/shopify"
    )

    order = devstore.order_create(
        shop=devstore_shop.domain,
        lines=[(product.variants[0].id, 1)],
        email="zoe@example.com",
        first_name="Zoë",
        last_name="Ångström",
    )
    assert devstore.webhooks.wait_idle(WAIT_SECONDS)
    run_queued()
    run_queued()  # the email job the ingest queued

    assert [(a.topic, a.status) for a in devstore.webhooks.sent] == [
        ("orders/create", 200),
        ("orders/paid", 200),
    ]
    assert sorted(WebhookDelivery.objects.values_list("topic", "status")) == [
        ("orders/create", "processed"),
        ("orders/paid", "processed"),
    ]
    saved = Order.objects.get(shop=shop, shopify_id=order.id)
    assert (saved.name, saved.email, saved.customer_first_name, saved.financial_status) == (
        "#1001",
        "zoe@example.com",
        "Zoë",
        "paid",
    )
    assert [m.to for m in mail.outbox] == [["zoe@example.com"]]


@pytest.mark.slow
def test_imprint_refuses_a_devstore_webhook_signed_with_another_secret(
    transactional_db, live_server, devstore, devstore_shop
) -> None:
    ShopFactory(domain=devstore_shop.domain)
    product = devstore.product_create(shop=devstore_shop.domain, title="Snowboard Guide")
    devstore.shop_update(
        shop=devstore_shop.domain,
        webhook_url=f"{live_server.url}/webhooks/shopify",
        app_secret="not-the-app-secret",
    )
    devstore.webhooks.retry_scale = 0.0  # no need to wait through the retries
    devstore.order_create(
        shop=devstore_shop.domain, lines=[(product.variants[0].id, 1)], financial_status="pending"
    )
    assert devstore.webhooks.wait_idle(WAIT_SECONDS)

    assert {a.status for a in devstore.webhooks.sent} == {401}
    assert WebhookDelivery.objects.count() == 0
    assert Order.objects.count() == 0
