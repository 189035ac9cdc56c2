from __future__ import annotations

import datetime as dt
import json

import pytest
from django.utils import timezone
from django_tasks_db.models import DBTaskResult
from shopify_app import verify_webhook_req

from imprint.emails.models import EmailLog
from imprint.orders.models import Order
from imprint.shopify.models import DeliveryStatus, WebhookDelivery
from tests.factories import AttachmentFactory, DigitalFileFactory
from tests.shopify.helpers import SECRET, paid_order, post_webhook, run_queued, sample, sign

pytestmark = pytest.mark.django_db

SHOP = "shop-a.myshopify.com"


def _nothing_recorded() -> None:
    assert WebhookDelivery.objects.count() == 0
    assert DBTaskResult.objects.count() == 0
    assert Order.objects.count() == 0


def _attach_sample_product(shop) -> None:  # type: ignore[no-untyped-def]
    product_id = paid_order()["line_items"][0]["product_id"]
    AttachmentFactory(shop=shop, file=DigitalFileFactory(shop=shop), product_id=product_id)


def test_published_signature_vectors_verify() -> None:
    vectors = sample("hmac_test_vectors")["webhook_hmac"]
    for vector in vectors:
        result = verify_webhook_req(
            {
                "method": "POST",
                "headers": {"X-Shopify-Hmac-Sha256": vector["x_shopify_hmac_sha256"]},
                "body": vector["raw_body"],
            },
            {"client_id": "x", "client_secret": vector["secret"]},
        )
        assert result.ok is True
        assert (
            sign(vector["raw_body"].encode(), vector["secret"]) == vector["x_shopify_hmac_sha256"]
        )


def test_signed_orders_paid_is_recorded_and_queued(client, shop_a) -> None:
    response = post_webhook(
        client, topic="orders/paid", shop=SHOP, payload=paid_order(), webhook_id="w-1"
    )

    assert response.status_code == 200
    delivery = WebhookDelivery.objects.get()
    assert (delivery.webhook_id, delivery.topic, delivery.shop_id, delivery.status) == (
        "w-1",
        "orders/paid",
        shop_a.pk,
        DeliveryStatus.RECEIVED,
    )
    assert delivery.api_version == "2026-10"
    assert delivery.triggered_at is not None
    # The RECEIVED row is the queue entry, due now and never tried; no job is enqueued for it.
    assert (delivery.attempts, delivery.claimed_at, delivery.next_attempt_at) == (0, None, None)
    assert DBTaskResult.objects.count() == 0
    # Intake answers at once: nothing is ingested until a worker claims the delivery.
    assert Order.objects.count() == 0


def test_processing_a_paid_order_delivers_it(client, shop_a) -> None:
    _attach_sample_product(shop_a)
    post_webhook(client, topic="orders/paid", shop=SHOP, payload=paid_order())

    assert run_queued("webhooks") == 1

    order = Order.objects.get()
    assert order.shopify_id == 820982911946154508
    assert order.financial_status == "paid"
    # The sample has three lines of the product the file is attached to, and two without files.
    assert order.grants.count() == 3
    assert EmailLog.objects.filter(order=order, kind="delivery").count() == 1
    assert WebhookDelivery.objects.get().status == DeliveryStatus.PROCESSED


def test_same_webhook_three_times_sends_one_email(client, shop_a) -> None:
    _attach_sample_product(shop_a)
    for _ in range(3):
        response = post_webhook(
            client, topic="orders/paid", shop=SHOP, payload=paid_order(), webhook_id="same"
        )
        assert response.status_code == 200

    run_queued("webhooks")

    assert WebhookDelivery.objects.count() == 1
    assert EmailLog.objects.count() == 1


def test_previous_secret_is_accepted_during_rotation(client, shop_a, settings) -> None:
    settings.SHOPIFY_API_SECRET = "the-new-secret-after-rotation-32-bytes"
    settings.SHOPIFY_API_SECRET_PREVIOUS = SECRET

    response = post_webhook(client, topic="orders/paid", shop=SHOP, payload=paid_order())

    assert response.status_code == 200
    assert WebhookDelivery.objects.count() == 1


@pytest.mark.parametrize("secret", ["wrong-secret", ""])
def test_bad_signature_is_refused_and_changes_nothing(client, shop_a, secret) -> None:
    response = post_webhook(
        client, topic="orders/paid", shop=SHOP, payload=paid_order(), secret=secret
    )

    assert response.status_code == 401
    _nothing_recorded()


def test_missing_signature_is_refused(client, shop_a) -> None:
    body = json.dumps(paid_order()).encode()
    response = client.post(
        "/webhooks/shopify",
        data=body,
        content_type="application/json",
        headers={
            "X-Shopify-Topic": "orders/paid",
            "X-Shopify-Shop-Domain": SHOP,
            "X-Shopify-Webhook-Id": "x",
        },
    )

    assert response.status_code == 401
    _nothing_recorded()


def test_signature_over_another_body_is_refused(client, shop_a) -> None:
    body = json.dumps(paid_order()).encode()
    tampered = body.replace(b'"paid"', b'"refunded"')
    response = post_webhook(
        client,
        topic="orders/paid",
        shop=SHOP,
        body=tampered,
        headers={"X-Shopify-Hmac-Sha256": sign(body)},
    )

    assert response.status_code == 401
    _nothing_recorded()


def test_no_secret_configured_refuses_everything(client, shop_a, settings) -> None:
    settings.SHOPIFY_API_SECRET = ""

    response = post_webhook(client, topic="orders/paid", shop=SHOP, payload=paid_order())

    assert response.status_code == 401
    _nothing_recorded()


@pytest.mark.parametrize(
    "header", ["X-Shopify-Topic", "X-Shopify-Shop-Domain", "X-Shopify-Webhook-Id"]
)
def test_missing_header_is_a_bad_request(client, shop_a, header) -> None:
    response = post_webhook(
        client, topic="orders/paid", shop=SHOP, payload=paid_order(), headers={header: ""}
    )

    assert response.status_code == 400
    assert header in response.content.decode()
    _nothing_recorded()


def test_malformed_shop_domain_is_a_bad_request(client, shop_a) -> None:
    response = post_webhook(
        client, topic="orders/paid", shop="evil.example.com", payload=paid_order()
    )

    assert response.status_code == 400
    _nothing_recorded()


@pytest.mark.parametrize(
    "body",
    [
        b"",
        b"not json",
        b"{",
        b"[1, 2]",
        b'"a string"',
        b"null",
        b"\xff\xfe\x00garbage",
        b'{"id": NaN',
        # UTF-16 without a byte-order mark is valid UTF-8 full of NULs, which json would read
        # from bytes; PostgreSQL cannot store a NUL in text.
        '{"id": 1}'.encode("utf-16-le"),
    ],
)
def test_garbage_body_is_a_bad_request(client, shop_a, body) -> None:
    response = post_webhook(client, topic="orders/paid", shop=SHOP, body=body)

    assert response.status_code == 400
    _nothing_recorded()


def test_huge_body_is_refused_with_413(client, shop_a, settings) -> None:
    settings.WEBHOOK_MAX_BYTES = 10_000
    body = json.dumps(paid_order(note="x" * 20_000)).encode()

    response = post_webhook(client, topic="orders/paid", shop=SHOP, body=body)

    assert response.status_code == 413
    _nothing_recorded()


@pytest.mark.parametrize("method", ["get", "put", "delete", "patch"])
def test_other_methods_get_405(client, shop_a, method) -> None:
    response = getattr(client, method)("/webhooks/shopify")

    assert response.status_code == 405
    assert response["Allow"] == "POST"
    _nothing_recorded()


def test_unknown_shop_is_recorded_and_ignored(client, shop_a) -> None:
    response = post_webhook(
        client, topic="orders/paid", shop="stranger.myshopify.com", payload=paid_order()
    )

    assert response.status_code == 200
    delivery = WebhookDelivery.objects.get()
    assert (delivery.status, delivery.outcome, delivery.shop_id) == (
        DeliveryStatus.IGNORED,
        "Unknown shop",
        None,
    )
    assert DBTaskResult.objects.count() == 0
    assert Order.objects.count() == 0


def test_unknown_topic_is_recorded_and_ignored(client, shop_a) -> None:
    response = post_webhook(client, topic="products/update", shop=SHOP, payload={"id": 1})

    assert response.status_code == 200
    delivery = WebhookDelivery.objects.get()
    assert (delivery.status, delivery.outcome) == (
        DeliveryStatus.IGNORED,
        "Topic products/update is not handled",
    )
    assert DBTaskResult.objects.count() == 0


@pytest.mark.parametrize(
    "changes",
    [
        {"id": "not-a-number"},
        {"id": True},
        {"id": None},
        {"created_at": "yesterday"},
        {"line_items": "many"},
        {"line_items": [{"id": 1, "quantity": -2, "product_id": 5}]},
        {"customer": ["not", "an", "object"]},
        {"test": "maybe"},
        {"email": 42},
    ],
)
def test_wrong_types_are_recorded_as_failed_and_ingest_nothing(client, shop_a, changes) -> None:
    response = post_webhook(client, topic="orders/paid", shop=SHOP, payload=paid_order(**changes))
    assert response.status_code == 200

    run_queued("webhooks")

    delivery = WebhookDelivery.objects.get()
    assert delivery.status == DeliveryStatus.FAILED
    assert delivery.outcome.startswith("Unusable payload: ")
    assert Order.objects.count() == 0
    assert EmailLog.objects.count() == 0


def test_odd_unicode_in_payload_is_stored_safely(client, shop_a) -> None:
    _attach_sample_product(shop_a)
    customer = {**paid_order()["customer"], "first_name": "Zoë\u0000 \ud800 😀"}
    post_webhook(client, topic="orders/paid", shop=SHOP, payload=paid_order(customer=customer))

    run_queued("webhooks")

    assert Order.objects.get().customer_first_name == "Zoë ? 😀"


def test_refunds_create_sample_restricts_the_refunded_lines(client, shop_a) -> None:
    _attach_sample_product(shop_a)
    post_webhook(client, topic="orders/paid", shop=SHOP, payload=paid_order())
    post_webhook(client, topic="refunds/create", shop=SHOP, payload=sample("refunds_create"))

    run_queued("webhooks")

    restrictions = dict(
        Order.objects.get().grants.values_list("line_item__shopify_id", "restriction")
    )
    # The published refund refunds every line of the published order.
    assert restrictions == {
        487817672276298554: "refunded",
        976318377106520349: "refunded",
        315789986012684393: "refunded",
    }
    assert Order.objects.get().delivery_status == "restricted"


def test_app_uninstalled_marks_the_shop(client, shop_a) -> None:
    post_webhook(client, topic="app/uninstalled", shop=SHOP, payload=sample("app_uninstalled"))

    run_queued("webhooks")

    shop_a.refresh_from_db()
    assert shop_a.uninstalled_at is not None


def test_published_samples_of_every_handled_topic_are_accepted(client, shop_a) -> None:
    for topic, name in [
        ("orders/create", "orders_create"),
        ("orders/paid", "orders_paid"),
        ("orders/updated", "orders_paid"),
        ("orders/cancelled", "orders_paid"),
        ("refunds/create", "refunds_create"),
    ]:
        assert post_webhook(client, topic=topic, shop=SHOP, payload=sample(name)).status_code == 200

    run_queued("webhooks")

    assert set(WebhookDelivery.objects.values_list("status", flat=True)) == {
        DeliveryStatus.PROCESSED
    }
    order = Order.objects.get()
    # The canned sample is voided and cancelled: recorded, never delivered.
    assert (order.financial_status, order.cancelled_at is not None, order.test) == (
        "voided",
        True,
        True,
    )
    assert EmailLog.objects.count() == 0


def test_a_briefly_unavailable_database_is_retried_later(
    client, shop_a, monkeypatch, settings
) -> None:
    from django.db import OperationalError

    from imprint.shopify import webhooks

    settings.JOB_RETRY_BASE_SECONDS = 60
    _attach_sample_product(shop_a)
    post_webhook(client, topic="orders/paid", shop=SHOP, payload=paid_order())
    real_ingest = webhooks.order_ingest
    monkeypatch.setattr(
        webhooks,
        "order_ingest",
        lambda **kw: (_ for _ in ()).throw(OperationalError("database is locked")),
    )

    before = timezone.now()
    assert run_queued("webhooks") == 1

    retry = WebhookDelivery.objects.get()
    assert (retry.status, retry.attempts) == (DeliveryStatus.RECEIVED, 1)
    assert retry.outcome == "Attempt 1 failed: the database was unavailable; it will be retried."
    # Backoff after the first failure: the base (60s) plus up to 10% jitter (and the moment the
    # attempt took).
    assert retry.next_attempt_at is not None
    assert 60 <= (retry.next_attempt_at - before).total_seconds() < 67
    assert Order.objects.count() == 0
    assert DBTaskResult.objects.count() == 0

    monkeypatch.setattr(webhooks, "order_ingest", real_ingest)
    assert run_queued("webhooks") == 0  # not due yet
    WebhookDelivery.objects.filter(pk=retry.pk).update(
        next_attempt_at=timezone.now() - dt.timedelta(seconds=1)
    )
    assert run_queued("webhooks") == 1

    delivery = WebhookDelivery.objects.get()
    assert (delivery.status, delivery.attempts) == (DeliveryStatus.PROCESSED, 2)
    assert EmailLog.objects.count() == 1


def test_an_unexpected_error_is_retried_then_marked_failed_without_internals(
    client, shop_a, monkeypatch, settings
) -> None:
    from imprint.shopify import webhooks

    settings.JOB_MAX_ATTEMPTS = 2
    post_webhook(client, topic="orders/paid", shop=SHOP, payload=paid_order())

    def broken(**kwargs):  # type: ignore[no-untyped-def]
        raise KeyError("secret internals")

    monkeypatch.setattr(webhooks, "order_ingest", broken)
    assert run_queued("webhooks") == 1
    retry = WebhookDelivery.objects.get()
    assert (retry.status, retry.attempts) == (DeliveryStatus.RECEIVED, 1)
    assert retry.next_attempt_at is not None
    assert retry.outcome == "Attempt 1 failed: an internal error; it will be retried."

    WebhookDelivery.objects.filter(pk=retry.pk).update(
        next_attempt_at=timezone.now() - dt.timedelta(seconds=1)
    )
    assert run_queued("webhooks") == 1

    delivery = WebhookDelivery.objects.get()
    assert (delivery.status, delivery.attempts) == (DeliveryStatus.FAILED, 2)
    assert delivery.outcome == "Gave up after 2 attempts: an internal error (see the server log)."
    assert "secret internals" not in delivery.outcome
    assert run_queued("webhooks") == 0
    assert DBTaskResult.objects.count() == 0
    assert Order.objects.count() == 0


@pytest.mark.parametrize(
    "body",
    [
        b'{"id": 1, "total": NaN}',  # Python's json reads NaN and Infinity; orjson does not
        b'{"id": 123456789012345678901234567890}',  # beyond 64 bits
        b'{"id": 1, "note": "\\ud800 alone"}',  # an unpaired surrogate escape
        b'  {"id": 1}\n',
    ],
)
def test_json_the_standard_library_accepts_is_accepted(client, shop_a, body) -> None:
    # Intake checks bodies with orjson first, for speed, and falls back to the standard
    # library, so that what counts as JSON does not depend on which one answered.
    response = post_webhook(client, topic="orders/paid", shop=SHOP, body=body)

    assert (response.status_code, response.content) == (200, b"received")
    assert WebhookDelivery.objects.get().body == body.decode()


def test_a_shop_domain_longer_than_the_column_is_a_bad_request(client, shop_a) -> None:
    domain = "a" * 250 + ".myshopify.com"
    response = post_webhook(client, topic="orders/paid", shop=domain, payload={"id": 1})

    assert response.status_code == 400
    _nothing_recorded()


@pytest.mark.parametrize(
    "triggered",
    ["9999-12-31T23:59:59-10:00", "0001-01-01T00:00:00+10:00", "2026-13-45T10:00:00Z", "soon"],
)
def test_an_unusable_triggered_at_header_is_recorded_as_unknown(client, shop_a, triggered) -> None:
    # The header is not covered by the signature: it must never keep a delivery from being
    # recorded (nor, committed in a group, the deliveries that arrive with it).
    response = post_webhook(
        client,
        topic="orders/paid",
        shop=SHOP,
        payload={"id": 1},
        headers={"X-Shopify-Triggered-At": triggered},
    )

    assert (response.status_code, response.content) == (200, b"received")
    assert WebhookDelivery.objects.get().triggered_at is None
