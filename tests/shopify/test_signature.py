"""Imprint checks webhook signatures itself (shopify_app's check re-serializes the body to redact
a log line); these tests hold it to shopify_app's answers on the same requests."""

from __future__ import annotations

import json

import pytest
from shopify_app import verify_webhook_req

from imprint.shopify.webhooks import WebhookRejected, webhook_verify
from tests.shopify.helpers import SECRET, sample, sign, webhook_headers

PREVIOUS = "the-previous-secret-still-valid-during-a-rotation"
BODY = json.dumps(sample("orders_paid")).encode()


def _shopify_app_accepts(headers: dict[str, str], body: bytes) -> bool:
    config = {"client_id": "imprint", "client_secret": SECRET, "old_client_secret": PREVIOUS}
    request = {"method": "POST", "headers": headers, "url": "/webhooks/shopify"}
    return bool(verify_webhook_req({**request, "body": body.decode("utf-8")}, config).ok)  # type: ignore[arg-type, typeddict-item]


def _imprint_accepts(headers: dict[str, str], body: bytes) -> bool:
    """True when accepted; a refusal must be the 401 of a bad signature."""
    status = 200
    try:
        webhook_verify(headers=headers, body=body)
    except WebhookRejected as rejected:
        status = rejected.status
    assert status in (200, 401)
    return status == 200


def _variants() -> list[tuple[str, dict[str, str], bytes]]:
    good = webhook_headers(topic="orders/paid", shop="a.myshopify.com", body=BODY)
    signature = good["X-Shopify-Hmac-Sha256"]
    unicode_body = json.dumps({"note": "Grüße, 日本語, \u2028 and 🎉"}, ensure_ascii=False).encode()
    return [
        ("current secret", good, BODY),
        ("previous secret", {**good, "X-Shopify-Hmac-Sha256": sign(BODY, PREVIOUS)}, BODY),
        ("another secret", {**good, "X-Shopify-Hmac-Sha256": sign(BODY, "not-the-secret")}, BODY),
        ("body changed by one byte", good, BODY[:-1] + b" "),
        ("signature of another body", {**good, "X-Shopify-Hmac-Sha256": sign(b"{}")}, BODY),
        ("hex instead of base64", {**good, "X-Shopify-Hmac-Sha256": "ab" * 32}, BODY),
        ("truncated signature", {**good, "X-Shopify-Hmac-Sha256": signature[:-4]}, BODY),
        ("signature with a space", {**good, "X-Shopify-Hmac-Sha256": f" {signature}"}, BODY),
        ("non-ASCII signature", {**good, "X-Shopify-Hmac-Sha256": "é" + signature[1:]}, BODY),
        ("lower-case header name", {"x-shopify-hmac-sha256": signature}, BODY),
        (
            "unicode body",
            {**good, "X-Shopify-Hmac-Sha256": sign(unicode_body)},
            unicode_body,
        ),
    ]


@pytest.mark.parametrize(
    ("case", "headers", "body"), _variants(), ids=lambda v: v if isinstance(v, str) else ""
)
def test_imprint_and_shopify_app_agree_on_every_signature(settings, case, headers, body) -> None:
    settings.SHOPIFY_API_SECRET = SECRET
    settings.SHOPIFY_API_SECRET_PREVIOUS = PREVIOUS
    try:
        expected = _shopify_app_accepts(headers, body)
    except TypeError:
        expected = False  # shopify_app's compare_digest refuses a non-ASCII header: a rejection
    assert _imprint_accepts(headers, body) is expected, case


def test_the_previous_secret_is_refused_once_the_rotation_ends(settings) -> None:
    settings.SHOPIFY_API_SECRET = SECRET
    settings.SHOPIFY_API_SECRET_PREVIOUS = ""
    headers = webhook_headers(topic="orders/paid", shop="a.myshopify.com", body=BODY)
    headers["X-Shopify-Hmac-Sha256"] = sign(BODY, PREVIOUS)
    assert not _imprint_accepts(headers, BODY)
    headers["X-Shopify-Hmac-Sha256"] = sign(BODY)
    assert _imprint_accepts(headers, BODY)
