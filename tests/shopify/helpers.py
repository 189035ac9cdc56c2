"""Shopify as the tests see it: published sample payloads, signed and posted like Shopify does."""

from __future__ import annotations

import base64
import copy
import hashlib
import hmac
import json
import uuid
from pathlib import Path
from typing import Any

from django.test import Client
from django_tasks_db.models import DBTaskResult

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


def run_queued(task_name: str | None = None) -> int:
    """Run every ready job (optionally only one task's) in this process, as a worker would."""
    count = 0
    while True:
        rows = DBTaskResult.objects.ready().order_by("enqueued_at")
        if task_name:
            rows = rows.filter(task_path__endswith=task_name)
        row = rows.first()
        if row is None:
            return count
        DBTaskResult.objects.filter(pk=row.pk).update(status="SUCCESSFUL")
        result = row.task_result
        row.task.call(*result.args, **result.kwargs)
        count += 1
