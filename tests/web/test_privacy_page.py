"""The Privacy page: the store's privacy requests and the data request reports to download."""

from __future__ import annotations

import json

import pytest

from imprint.shops.privacy import customer_redact_handle, data_request_handle
from tests.shops.privacy_helpers import SAMPLE_EMAIL, customer_data, privacy_sample

pytestmark = pytest.mark.django_db


def test_the_privacy_page_lists_requests_with_their_report(client_a, shop_a) -> None:
    customer_data(shop_a)
    request = data_request_handle(
        shop=shop_a, webhook_id="w1", payload=privacy_sample("customers_data_request", shop_a)
    )

    response = client_a.get("/app/privacy/")

    assert response.status_code == 200
    body = response.content.decode()
    assert f"Customer data request #{request.pk}" in body
    assert f'href="/app/privacy/{request.pk}/report"' in body
    assert SAMPLE_EMAIL not in body  # the list shows no personal data; the report does


def test_the_report_downloads_as_json(client_a, shop_a) -> None:
    data = customer_data(shop_a)
    request = data_request_handle(
        shop=shop_a, webhook_id="w1", payload=privacy_sample("customers_data_request", shop_a)
    )

    response = client_a.get(f"/app/privacy/{request.pk}/report")

    assert response.status_code == 200
    assert response["Content-Type"] == "application/json; charset=utf-8"
    assert "no-cache" in response["Cache-Control"]
    report = json.loads(response.content)
    assert [order["name"] for order in report["orders"]] == [data.by_email.name, data.by_id.name]


def test_after_the_customer_is_erased_the_report_is_gone(client_a, shop_a) -> None:
    customer_data(shop_a)
    request = data_request_handle(
        shop=shop_a, webhook_id="w1", payload=privacy_sample("customers_data_request", shop_a)
    )
    customer_redact_handle(
        shop=shop_a, webhook_id="r1", payload=privacy_sample("customers_redact", shop_a)
    )

    body = client_a.get("/app/privacy/").content.decode()

    assert "Erased with the customer" in body
    assert "Customer erasure #" in body
    assert client_a.get(f"/app/privacy/{request.pk}/report").status_code == 404


def test_the_privacy_page_needs_a_signed_in_store(client, shop_a) -> None:
    assert client.get("/app/privacy/").status_code == 403
