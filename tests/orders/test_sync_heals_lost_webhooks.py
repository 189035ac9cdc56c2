"""The sync's promise end to end: the devstore loses every webhook of 50 paid orders among 500,
the other 450 arrive through Imprint's real /webhooks/shopify, and one sync delivers exactly the
50; a second delivers nothing. One email per order, whatever the path."""

from __future__ import annotations

import datetime as dt
from collections import Counter

import pytest
from django.core import mail
from django.utils import timezone

from imprint.orders.models import Order
from imprint.orders.sync import orders_sync
from imprint.shopify.models import WebhookDelivery
from tests.devstore_fixtures import DEVSTORE_TOKEN
from tests.factories import AttachmentFactory, DigitalFileFactory, ShopFactory
from tests.shopify.helpers import run_queued

ORDERS = 500
LOST_EVERY = 10  # every tenth order loses both its webhooks: 50 of 500


@pytest.mark.slow
def test_one_sync_heals_the_webhooks_the_devstore_dropped(
    transactional_db,
    live_server,
    settings,
    devstore,
    devstore_clock,
    devstore_shop,
    devstore_server,
) -> None:
    settings.SHOPIFY_ADMIN_ORIGIN = devstore_server.url
    shop = ShopFactory(domain=devstore_shop.domain, name="Devstore A", access_token=DEVSTORE_TOKEN)
    product = devstore.product_create(shop=shop.domain, title="Snowboard Guide")
    AttachmentFactory(shop=shop, file=DigitalFileFactory(shop=shop), product_id=product.id)
    devstore.shop_update(shop=shop.domain, webhook_url=f"{live_server.url}/webhooks/shopify")

    lost = set()
    for index in range(ORDERS):
        if index % LOST_EVERY == 0:
            devstore.webhooks.drop_next(2)  # orders/create and orders/paid
        order = devstore.order_create(
            shop=shop.domain, lines=[(product.variants[0].id, 1)], email=f"buyer{index}@example.com"
        )
        if index % LOST_EVERY == 0:
            lost.add(order.id)
    assert devstore.webhooks.wait_idle(120)
    run_queued()

    assert len(devstore.webhooks.dropped) == 2 * len(lost) == 100
    assert WebhookDelivery.objects.count() == 2 * (ORDERS - len(lost))
    assert Order.objects.filter(shop=shop).count() == ORDERS - len(lost)
    assert not Order.objects.filter(shop=shop, shopify_id__in=lost).exists()
    assert len(mail.outbox) == ORDERS - len(lost)

    first = orders_sync(
        shop=shop, since=timezone.now() - dt.timedelta(days=60), clock=devstore_clock
    )
    run_queued()

    assert (first.status, first.scanned, first.already_known, first.delivered) == (
        "succeeded",
        ORDERS,
        ORDERS - len(lost),
        len(lost),
    )
    assert (
        set(
            Order.objects.filter(shop=shop, delivered_at__isnull=False).values_list(
                "shopify_id", flat=True
            )
        )
        >= lost
    )
    recipients = Counter(address for message in mail.outbox for address in message.to)
    assert len(recipients) == ORDERS
    assert set(recipients.values()) == {1}

    second = orders_sync(
        shop=shop, since=timezone.now() - dt.timedelta(days=60), clock=devstore_clock
    )
    run_queued()

    assert (second.status, second.scanned, second.delivered) == ("succeeded", ORDERS, 0)
    assert len(mail.outbox) == ORDERS
