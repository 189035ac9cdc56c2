"""Shopify's privacy webhooks, from the published payloads: report, erase a customer, erase a
store. Each is idempotent, and a bad signature changes nothing."""

from __future__ import annotations

import json

import pytest
from django.core.files.storage import default_storage

from imprint.catalog.models import DigitalFile
from imprint.delivery.models import DownloadEvent, DownloadGrant
from imprint.emails.models import EmailLog, MailboxMessage
from imprint.orders.models import Order, OrderActivity
from imprint.shopify.models import DeliveryStatus, WebhookDelivery
from imprint.shops.models import PrivacyRequest, PrivacyRequestKind, Shop
from imprint.shops.privacy import customer_redact_handle, data_request_handle
from tests.shopify.helpers import post_webhook, run_queued
from tests.shops.privacy_helpers import SAMPLE_EMAIL, customer_data, db_snapshot, privacy_sample

pytestmark = pytest.mark.django_db


def _deliver(client, shop: Shop, topic: str, sample_name: str, **kwargs):  # type: ignore[no-untyped-def]
    response = post_webhook(
        client, topic=topic, shop=shop.domain, payload=privacy_sample(sample_name, shop), **kwargs
    )
    run_queued()
    return response


def test_data_request_reports_the_customers_orders_emails_and_downloads(client, shop_a) -> None:
    data = customer_data(shop_a)

    response = _deliver(client, shop_a, "customers/data_request", "customers_data_request")

    assert response.status_code == 200
    request = PrivacyRequest.objects.get()
    assert (request.shop_id, request.kind, request.status) == (
        shop_a.pk,
        PrivacyRequestKind.DATA_REQUEST,
        "completed",
    )
    report = request.report
    assert report["customer"]["email"] == SAMPLE_EMAIL
    assert [o["name"] for o in report["orders"]] == [data.by_email.name, data.by_id.name]
    first, second = report["orders"]
    assert (first["email"], first["first_name"], first["last_name"]) == (
        "John@Example.com",
        "Johnathan",
        "Smithers",
    )
    assert [line["title"] for line in second["line_items"]] == ["Poster pack"]
    assert [(e["to"], e["status"]) for e in first["emails"]] == [("john@example.com", "sent")]
    assert [d["file"] for d in first["downloads"]] == ["guide.pdf"]
    assert [(e["ip"], e["user_agent"]) for e in first["downloads"][0]["events"]] == [
        ("203.0.113.7", "Firefox/133")
    ]
    assert "ann@example.org" not in json.dumps(report)
    delivery = WebhookDelivery.objects.get(topic="customers/data_request")
    assert delivery.status == DeliveryStatus.PROCESSED
    assert delivery.outcome == (
        f"Data request {request.pk}: report ready in the admin's Privacy page"
    )


def test_the_same_data_request_twice_keeps_one_report(shop_a) -> None:
    customer_data(shop_a)
    payload = privacy_sample("customers_data_request", shop_a)

    first = data_request_handle(shop=shop_a, webhook_id="w1", payload=payload)
    again = data_request_handle(shop=shop_a, webhook_id="w1", payload=payload)

    assert first.pk == again.pk
    assert PrivacyRequest.objects.count() == 1


def test_customer_redact_erases_personal_data_and_keeps_the_counts(client, shop_a) -> None:
    data = customer_data(shop_a)
    _deliver(client, shop_a, "customers/data_request", "customers_data_request")
    counts_before = (
        Order.objects.count(),
        DownloadGrant.objects.count(),
        DownloadEvent.objects.count(),
        EmailLog.objects.count(),
        OrderActivity.objects.count(),
    )
    other_before = (
        Order.objects.filter(pk=data.other.pk).values().get(),
        list(DownloadEvent.objects.filter(grant__order=data.other).values()),
        list(EmailLog.objects.filter(order=data.other).values()),
        list(OrderActivity.objects.filter(order=data.other).values()),
    )

    response = _deliver(client, shop_a, "customers/redact", "customers_redact")

    assert response.status_code == 200
    customer_orders = Order.objects.filter(pk__in=[data.by_email.pk, data.by_id.pk])
    assert list(
        customer_orders.values_list("email", "customer_first_name", "customer_last_name")
    ) == [("", "", ""), ("", "", "")]
    assert list(
        DownloadEvent.objects.filter(grant__order=data.by_email).values_list("ip", "user_agent")
    ) == [(None, "")]
    assert list(EmailLog.objects.filter(order=data.by_email).values_list("to", "subject")) == [
        ("", "Your files, [erased]")
    ]
    assert list(
        OrderActivity.objects.filter(order=data.by_email, action="email_resent").values_list(
            "detail", flat=True
        )
    ) == ["Resend of the delivery email to [erased] queued."]
    assert list(MailboxMessage.objects.values_list("recipients", flat=True)) == ["ann@example.org"]
    bodies = dict(WebhookDelivery.objects.values_list("webhook_id", "body"))
    assert bodies[f"order-{data.by_email.pk}"] == ""
    assert json.loads(bodies[f"order-{data.other.pk}"])["email"] == "ann@example.org"
    assert all(
        SAMPLE_EMAIL not in body.lower()
        for body in WebhookDelivery.objects.values_list("body", flat=True)
    )
    # The earlier data request is kept as a fact, its report (the customer's data) is not.
    data_request = PrivacyRequest.objects.get(kind=PrivacyRequestKind.DATA_REQUEST)
    assert data_request.report is None
    assert SAMPLE_EMAIL not in json.dumps(data_request.payload)
    redact = PrivacyRequest.objects.get(kind=PrivacyRequestKind.CUSTOMER_REDACT)
    assert redact.report == {
        "orders_erased": 2,
        "download_events_erased": 1,
        "webhook_bodies_erased": 3,  # the order, the data request and the redact itself
        "mailbox_messages_deleted": 1,
        "data_request_reports_erased": 1,
    }
    assert SAMPLE_EMAIL not in json.dumps(redact.payload)
    # Anonymous counts stay, and the other customer is untouched.
    assert (
        Order.objects.count(),
        DownloadGrant.objects.count(),
        DownloadEvent.objects.count(),
        EmailLog.objects.count(),
        OrderActivity.objects.count(),
    ) == counts_before
    assert (
        Order.objects.filter(pk=data.other.pk).values().get(),
        list(DownloadEvent.objects.filter(grant__order=data.other).values()),
        list(EmailLog.objects.filter(order=data.other).values()),
        list(OrderActivity.objects.filter(order=data.other).values()),
    ) == other_before


def test_customer_redact_again_changes_nothing_more(shop_a) -> None:
    customer_data(shop_a)
    payload = privacy_sample("customers_redact", shop_a)
    customer_redact_handle(shop=shop_a, webhook_id="r1", payload=payload)
    before = db_snapshot()

    repeated = customer_redact_handle(shop=shop_a, webhook_id="r1", payload=payload)
    assert db_snapshot() == before
    second = customer_redact_handle(shop=shop_a, webhook_id="r2", payload=payload)

    # The order found by its address before has none now: only the one Shopify names by id.
    assert second.report == {
        "orders_erased": 1,
        "download_events_erased": 0,
        "webhook_bodies_erased": 0,
        "mailbox_messages_deleted": 0,
        "data_request_reports_erased": 0,
    }
    assert repeated.webhook_id == "r1"
    after = db_snapshot()
    after.pop("shops.PrivacyRequest")
    before.pop("shops.PrivacyRequest")
    assert after == before


def test_customer_redact_in_one_store_leaves_the_same_customer_in_another(
    client, shop_a, shop_b
) -> None:
    customer_data(shop_a)
    customer_data(shop_b, prefix="b-")
    before_b = list(Order.objects.filter(shop=shop_b).order_by("pk").values())

    _deliver(client, shop_a, "customers/redact", "customers_redact")

    assert list(Order.objects.filter(shop=shop_b).order_by("pk").values()) == before_b
    assert Order.objects.filter(shop=shop_b, email="John@Example.com").count() == 1


def test_shop_redact_erases_every_row_and_file_of_the_store_and_nothing_else(
    client, shop_a, shop_b
) -> None:
    customer_data(shop_a)
    customer_data(shop_b, prefix="b-")
    files_a = list(DigitalFile.objects.filter(shop=shop_a).values_list("storage_name", flat=True))
    files_b = list(DigitalFile.objects.filter(shop=shop_b).values_list("storage_name", flat=True))
    before_b = {
        label: [row for row in rows if row.get("shop_id") == shop_b.pk]
        for label, rows in db_snapshot().items()
    }

    response = _deliver(client, shop_a, "shop/redact", "shop_redact")

    assert response.status_code == 200
    assert not Shop.objects.filter(domain=shop_a.domain).exists()
    assert Order.objects.filter(shop_id=shop_a.pk).count() == 0
    assert [default_storage.exists(name) for name in files_a] == [False, False]
    assert [default_storage.exists(name) for name in files_b] == [True, True]
    # The redact's own delivery stays, without its body or store, as the erasure's record.
    record = WebhookDelivery.objects.get(shop_domain=shop_a.domain)
    assert (record.topic, record.shop_id, record.body, record.status) == (
        "shop/redact",
        None,
        "",
        DeliveryStatus.PROCESSED,
    )
    assert record.outcome.startswith(f"Store {shop_a.domain} erased: ")
    assert MailboxMessage.objects.filter(recipients="ann@example.org").count() == 0
    after_b = {
        label: [row for row in rows if row.get("shop_id") == shop_b.pk]
        for label, rows in db_snapshot().items()
    }
    assert after_b == before_b


def test_shop_redact_again_is_recorded_as_ignored(client, shop_a) -> None:
    _deliver(client, shop_a, "shop/redact", "shop_redact")

    response = _deliver(client, shop_a, "shop/redact", "shop_redact")

    assert response.status_code == 200
    assert list(WebhookDelivery.objects.order_by("pk").values_list("status", "outcome"))[1] == (
        DeliveryStatus.IGNORED,
        "Unknown shop",
    )


@pytest.mark.parametrize(
    ("topic", "sample_name"),
    [
        ("customers/data_request", "customers_data_request"),
        ("customers/redact", "customers_redact"),
        ("shop/redact", "shop_redact"),
    ],
)
def test_a_bad_signature_on_a_privacy_webhook_is_refused_and_changes_nothing(
    client, shop_a, topic, sample_name
) -> None:
    customer_data(shop_a)
    before = db_snapshot()

    response = _deliver(client, shop_a, topic, sample_name, secret="not-the-secret")

    assert response.status_code == 401
    assert db_snapshot() == before


def test_a_privacy_payload_without_a_customer_is_marked_failed_and_changes_nothing(
    client, shop_a
) -> None:
    customer_data(shop_a)
    before = {k: v for k, v in db_snapshot().items() if k != "shopify.WebhookDelivery"}

    post_webhook(client, topic="customers/redact", shop=shop_a.domain, payload={"shop_id": 1})
    run_queued()

    delivery = WebhookDelivery.objects.get(topic="customers/redact")
    assert (delivery.status, delivery.outcome) == (
        DeliveryStatus.FAILED,
        "Unusable payload: customer is missing",
    )
    after = {k: v for k, v in db_snapshot().items() if k != "shopify.WebhookDelivery"}
    after.pop("django_tasks_database.DBTaskResult", None)
    before.pop("django_tasks_database.DBTaskResult", None)
    assert after == before
