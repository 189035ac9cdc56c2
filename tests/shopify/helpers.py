"""Shopify as the tests see it: published sample payloads, signed and posted like Shopify does."""

from __future__ import annotations

import base64
import copy
import hashlib
import hmac
import http.client
import json
import uuid
from pathlib import Path
from typing import Any

from django.test import Client

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "shopify"
# 32 bytes or more: HS256 session tokens are signed with it too (RFC 7518 section 3.2).
SECRET = "imprint-test-secret-signing-webhooks-and-tokens"


def sample(name: str) -> dict[str, Any]:
    return json.loads((FIXTURES / f"{name}.json").read_text())


def paid_order(**changes: Any) -> dict[str, Any]:
    """Shopify's published orders/paid sample, adapted to a paid, uncancelled, live order
    (the published one is canned: voided, cancelled and a test order)."""
    order = copy.deepcopy(sample("orders_paid"))
    order.update(financial_status="paid", cancelled_at=None, cancel_reason=None, test=False)
    order.update(changes)
    return order


def sign(body: bytes, secret: str = SECRET) -> str:
    return base64.b64encode(hmac.new(secret.encode(), body, hashlib.sha256).digest()).decode()


def webhook_headers(
    *, topic: str, shop: str, body: bytes, webhook_id: str | None = None, secret: str = SECRET
) -> dict[str, str]:
    return {
        "X-Shopify-Topic": topic,
        "X-Shopify-Hmac-Sha256": sign(body, secret),
        "X-Shopify-Shop-Domain": shop,
        "X-Shopify-API-Version": "2026-10",
        "X-Shopify-Webhook-Id": webhook_id or str(uuid.uuid4()),
        "X-Shopify-Triggered-At": "2026-12-04T10:00:00.000000Z",
        "X-Shopify-Event-Id": str(uuid.uuid4()),
    }


def post_webhook(
    client: Client,
    *,
    topic: str,
    shop: str,
    payload: Any = None,
    body: bytes | None = None,
    webhook_id: str | None = None,
    secret: str = SECRET,
    headers: dict[str, str] | None = None,
):  # type: ignore[no-untyped-def]
    if body is None:
        body = json.dumps(payload).encode()
    sent = webhook_headers(topic=topic, shop=shop, body=body, webhook_id=webhook_id, secret=secret)
    sent.update(headers or {})
    return client.post(
        "/webhooks/shopify", data=body, content_type="application/json", headers=sent
    )


def webhook_post_http(port: int, *, shop: str, body: bytes, webhook_id: str) -> tuple[int, bytes]:
    """POST a signed orders/paid body to a real Imprint web server on `port`, as Shopify does;
    returns the status and the answer."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    headers = {
        "Content-Type": "application/json",
        **webhook_headers(topic="orders/paid", shop=shop, body=body, webhook_id=webhook_id),
    }
    conn.request("POST", "/webhooks/shopify", body=body, headers=headers)
    response = conn.getresponse()
    answer = (response.status, response.read())
    conn.close()
    return answer


def run_queued(queue: str | None = None) -> int:
    """Run ready work in this process as a worker would, until none is left: only the webhook
    deliveries ("webhooks"), only the emails ("emails"), or everything, jobs included (None).
    Returns how many rows and jobs ran."""
    from imprint.emails.services import emails_send_ready
    from imprint.jobs.worker import jobs_run_pending
    from imprint.shopify.webhooks import webhooks_process_ready

    # jobs_run_pending stops after about 1000 (a guard for work that requeues itself); a burst
    # of more than that is still drained here.
    drain = {
        None: jobs_run_pending,
        "webhooks": webhooks_process_ready,
        "emails": emails_send_ready,
    }[queue]
    count = 0
    while claimed := drain():
        count += claimed
    return count
