"""The webhook sender: Shopify's signature and headers, its retry schedule, and the switches."""

from __future__ import annotations

import itertools
import uuid

import pytest
from shopify_app import verify_webhook_req

from devstore import webhooks as webhooks_module
from devstore.webhooks import RETRY_DELAYS_SECONDS, webhook_sign
from tests.devstore_fixtures import DEVSTORE_RETRY_SCALE
from tests.shopify.helpers import SECRET

WAIT_SECONDS = 10.0


@pytest.fixture
def product(devstore, devstore_shop):
    return devstore.product_create(shop=devstore_shop.domain, title="Snowboard Guide")


@pytest.fixture
def hooked(devstore, devstore_shop, webhook_receiver):
    devstore.shop_update(shop=devstore_shop.domain, webhook_url=webhook_receiver.url)
    return devstore_shop


def _order(devstore, shop, product, **kwargs):
    return devstore.order_create(shop=shop.domain, lines=[(product.variants[0].id, 1)], **kwargs)


def test_signature_matches_shopifys_published_vector() -> None:
    assert webhook_sign(b'{"foo": "bar"}', "test_secret_key") == (
        "B23tXN681gZ0qIWNRrgtzBE9XSDo5yaUu6wfmhu3a7g="
    )


def test_a_paid_order_sends_create_then_paid_signed_with_every_header(
    devstore, hooked, product, webhook_receiver
) -> None:
    order = _order(devstore, hooked, product)
    assert devstore.webhooks.wait_idle(WAIT_SECONDS)

    received = webhook_receiver.received
    assert [r.topic for r in received] == ["orders/create", "orders/paid"]
    for request in received:
        headers = request.headers
        verified = verify_webhook_req(
            {
                "method": "POST",
                "headers": headers,
                "url": request.path,
                "body": request.body.decode(),
            },
            {"client_id": "imprint", "client_secret": SECRET, "old_client_secret": None},
        )
        assert verified.ok
        assert headers["X-Shopify-Shop-Domain"] == "devstore-a.myshopify.com"
        assert headers["X-Shopify-API-Version"] == "2026-10"
        assert headers["X-Shopify-Triggered-At"] == "2026-12-04T10:00:00.000000Z"
        assert uuid.UUID(headers["X-Shopify-Webhook-Id"])
        assert uuid.UUID(headers["X-Shopify-Event-Id"])
        assert headers["Content-Type"] == "application/json"
        assert request.payload["id"] == order.id
    assert (
        received[0].headers["X-Shopify-Webhook-Id"] != received[1].headers["X-Shopify-Webhook-Id"]
    )
    assert [(a.topic, a.status, a.attempt) for a in devstore.webhooks.sent] == [
        ("orders/create", 200, 1),
        ("orders/paid", 200, 1),
    ]


def test_the_actions_send_shopifys_topics(devstore, hooked, product, webhook_receiver) -> None:
    pending = _order(devstore, hooked, product, financial_status="pending")
    devstore.order_mark_paid(shop=hooked.domain, order_id=pending.id)
    devstore.refund_create(shop=hooked.domain, order_id=pending.id)
    other = _order(devstore, hooked, product)
    devstore.order_cancel(shop=hooked.domain, order_id=other.id)
    devstore.shop_uninstall(shop=hooked.domain)
    _order(devstore, hooked, product)  # after uninstall: no webhook
    assert devstore.webhooks.wait_idle(WAIT_SECONDS)

    assert [r.topic for r in webhook_receiver.received] == [
        "orders/create",
        "orders/paid",
        "orders/updated",
        "refunds/create",
        "orders/updated",
        "orders/create",
        "orders/paid",
        "orders/cancelled",
        "orders/updated",
        "app/uninstalled",
    ]
    refund = webhook_receiver.received[3].payload
    assert refund["order_id"] == pending.id
    assert webhook_receiver.received[4].payload["financial_status"] == "refunded"
    assert webhook_receiver.received[-1].payload["myshopify_domain"] == hooked.domain


def test_the_retry_schedule_is_8_retries_over_4_hours_doubling() -> None:
    assert len(RETRY_DELAYS_SECONDS) == 8
    assert sum(RETRY_DELAYS_SECONDS) == pytest.approx(4 * 3600)
    assert [b / a for a, b in itertools.pairwise(RETRY_DELAYS_SECONDS)] == [2.0] * 7


@pytest.mark.parametrize("status", [500, 302, 404])
def test_an_answer_other_than_2xx_is_retried_on_the_scaled_schedule_then_given_up(
    devstore, hooked, product, webhook_receiver, status
) -> None:
    webhook_receiver.status = status
    _order(devstore, hooked, product, financial_status="pending")
    assert devstore.webhooks.wait_idle(WAIT_SECONDS)

    attempts = devstore.webhooks.sent
    assert [(a.status, a.attempt) for a in attempts] == [(status, n) for n in range(1, 10)]
    gaps = [b.at - a.at for a, b in itertools.pairwise(attempts)]
    for gap, delay in zip(gaps, RETRY_DELAYS_SECONDS, strict=True):
        assert delay * DEVSTORE_RETRY_SCALE <= gap < delay * DEVSTORE_RETRY_SCALE + 0.5
    assert [d.state for d in devstore.webhooks.deliveries] == ["failed"]
    assert len(webhook_receiver.received) == 9


def test_a_retry_that_succeeds_delivers_the_same_webhook(
    devstore, hooked, product, webhook_receiver
) -> None:
    webhook_receiver.statuses = [503, 503]
    _order(devstore, hooked, product, financial_status="pending")
    assert devstore.webhooks.wait_idle(WAIT_SECONDS)

    ids = {r.headers["X-Shopify-Webhook-Id"] for r in webhook_receiver.received}
    assert len(webhook_receiver.received) == 3
    assert len(ids) == 1
    assert [(d.state, d.attempts, d.status) for d in devstore.webhooks.deliveries] == [
        ("delivered", 3, 200)
    ]


def test_a_slow_endpoint_times_out(
    devstore, hooked, product, webhook_receiver, monkeypatch
) -> None:
    monkeypatch.setattr(webhooks_module, "TOTAL_TIMEOUT_SECONDS", 0.2)
    monkeypatch.setattr(webhooks_module, "RETRIES", 0)
    webhook_receiver.delay = 1.0
    _order(devstore, hooked, product, financial_status="pending")
    assert devstore.webhooks.wait_idle(WAIT_SECONDS)

    attempt = devstore.webhooks.sent[0]
    assert attempt.status is None
    assert "timed out" in attempt.error
    assert devstore.webhooks.deliveries[0].state == "failed"


def test_an_unreachable_endpoint_is_retried(devstore, devstore_shop, product) -> None:
    devstore.shop_update(shop=devstore_shop.domain, webhook_url="http://127.0.0.1:9/webhooks")
    _order(devstore, devstore_shop, product, financial_status="pending")
    assert devstore.webhooks.wait_idle(WAIT_SECONDS)

    assert [a.status for a in devstore.webhooks.sent] == [None] * 9
    assert "ConnectionRefusedError" in devstore.webhooks.sent[0].error


def test_drop_mode_sends_nothing_and_records_what_it_dropped(
    devstore, hooked, product, webhook_receiver
) -> None:
    devstore.webhooks.set_mode("drop")
    order = _order(devstore, hooked, product)
    assert devstore.webhooks.wait_idle(WAIT_SECONDS)

    assert webhook_receiver.received == []
    assert [(d.topic, d.order_id, d.state) for d in devstore.webhooks.dropped] == [
        ("orders/create", order.id, "dropped"),
        ("orders/paid", order.id, "dropped"),
    ]


def test_drop_next_drops_only_that_many(devstore, hooked, product, webhook_receiver) -> None:
    devstore.webhooks.drop_next(1)
    first = _order(devstore, hooked, product)
    assert devstore.webhooks.wait_idle(WAIT_SECONDS)

    assert [d.topic for d in devstore.webhooks.dropped] == ["orders/create"]
    assert [(r.topic, r.payload["id"]) for r in webhook_receiver.received] == [
        ("orders/paid", first.id)
    ]


def test_duplicate_mode_sends_each_webhook_twice_with_the_same_id(
    devstore, hooked, product, webhook_receiver
) -> None:
    devstore.webhooks.set_mode("duplicate")
    _order(devstore, hooked, product, financial_status="pending")
    assert devstore.webhooks.wait_idle(WAIT_SECONDS)

    received = webhook_receiver.received
    assert [r.topic for r in received] == ["orders/create", "orders/create"]
    assert (
        received[0].headers["X-Shopify-Webhook-Id"] == received[1].headers["X-Shopify-Webhook-Id"]
    )
    assert received[0].body == received[1].body


def test_delay_mode_holds_until_flush(devstore, hooked, product, webhook_receiver) -> None:
    devstore.webhooks.set_mode("delay")
    _order(devstore, hooked, product)
    assert devstore.webhooks.wait_idle(WAIT_SECONDS)
    held = [r.topic for r in webhook_receiver.received]

    flushed = devstore.webhooks.flush()
    assert devstore.webhooks.wait_idle(WAIT_SECONDS)

    assert held == []
    assert flushed == 2
    assert [r.topic for r in webhook_receiver.received] == ["orders/create", "orders/paid"]


def test_reorder_mode_flushes_newest_first(devstore, hooked, product, webhook_receiver) -> None:
    devstore.webhooks.set_mode("reorder")
    order = _order(devstore, hooked, product, financial_status="pending")
    devstore.order_mark_paid(shop=hooked.domain, order_id=order.id)

    devstore.webhooks.flush()
    assert devstore.webhooks.wait_idle(WAIT_SECONDS)

    assert [r.topic for r in webhook_receiver.received] == [
        "orders/updated",
        "orders/paid",
        "orders/create",
    ]


def test_an_unknown_mode_is_refused(devstore) -> None:
    with pytest.raises(ValueError, match="unknown webhook mode 'lose'"):
        devstore.webhooks.set_mode("lose")

    assert devstore.webhooks.mode == "deliver"
