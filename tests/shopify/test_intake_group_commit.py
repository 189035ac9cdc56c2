"""Intake under load: the web process's threads commit their deliveries together, in one INSERT
per batch. Each delivery is recorded once with the status its own headers call for, each
request is answered only after its row is committed, and a failed batch records nothing and
answers every request in it with an error, so Shopify sends each one again."""

from __future__ import annotations

import json
import threading
from collections.abc import Sequence
from typing import Any

import pytest
from django.db import IntegrityError, connection, connections

from imprint.lib.group_commit import GroupCommit
from imprint.shopify import webhooks
from imprint.shopify.models import DeliveryStatus, WebhookDelivery
from imprint.shopify.webhooks import DUPLICATE, webhook_receive
from tests.concurrency import at_once
from tests.shopify.helpers import paid_order, webhook_headers

SHOP = "shop-a.myshopify.com"
TIMEOUT = 30


def _receive(webhook_id: str, *, shop: str = SHOP, topic: str = "orders/paid") -> str:
    body = json.dumps(paid_order()).encode()
    headers = webhook_headers(topic=topic, shop=shop, body=body, webhook_id=webhook_id)
    return webhook_receive(headers=headers, body=body).status


# Thirty requests at once: twenty orders, the same delivery four times (Shopify retrying), a
# store Imprint does not know, a topic it does not handle, and a retry of a recorded delivery.
REQUESTS = (
    [(f"order-{n}", SHOP, "orders/paid") for n in range(20)]
    + [("retried", SHOP, "orders/paid")] * 4
    + [(f"stranger-{n}", "stranger.myshopify.com", "orders/paid") for n in range(3)]
    + [("unhandled-1", SHOP, "products/update"), ("unhandled-2", SHOP, "carts/create")]
    + [("recorded-before", SHOP, "orders/paid")]
)


def _check_recorded(answers: Sequence[str], shop_a) -> None:  # type: ignore[no-untyped-def]
    by_id: dict[str, list[str]] = {}
    for (webhook_id, _, _), answer in zip(REQUESTS, answers, strict=True):
        by_id.setdefault(webhook_id, []).append(answer)
    assert all(by_id[f"order-{n}"] == [DeliveryStatus.RECEIVED] for n in range(20))
    assert sorted(by_id["retried"]) == [DUPLICATE] * 3 + [DeliveryStatus.RECEIVED]
    assert all(by_id[f"stranger-{n}"] == [DeliveryStatus.IGNORED] for n in range(3))
    assert by_id["unhandled-1"] == by_id["unhandled-2"] == [DeliveryStatus.IGNORED]
    assert by_id["recorded-before"] == [DUPLICATE]

    rows = {row.webhook_id: row for row in WebhookDelivery.objects.all()}
    assert sorted(rows) == sorted(by_id)  # each delivery once
    for n in range(20):
        row = rows[f"order-{n}"]
        assert (row.status, row.shop_id, row.outcome) == (DeliveryStatus.RECEIVED, shop_a.id, "")
        assert row.topic == "orders/paid"
        assert json.loads(row.body)["financial_status"] == "paid"
    for n in range(3):
        row = rows[f"stranger-{n}"]
        assert (row.status, row.shop_id, row.outcome) == (
            DeliveryStatus.IGNORED,
            None,
            "Unknown shop",
        )
        assert row.shop_domain == "stranger.myshopify.com"
    assert (rows["unhandled-1"].status, rows["unhandled-1"].outcome) == (
        DeliveryStatus.IGNORED,
        "Topic products/update is not handled",
    )
    assert rows["unhandled-2"].shop_id == shop_a.id


@pytest.mark.django_db(transaction=True)
def test_a_batch_records_each_delivery_once_with_its_own_status(shop_a, monkeypatch) -> None:
    assert _receive("recorded-before") == DeliveryStatus.RECEIVED
    batches: list[int] = []
    first_held = threading.Event()
    release = threading.Event()

    def write(deliveries: Sequence[dict[str, object]]) -> list[str]:
        batches.append(len(deliveries))
        if len(batches) == 1:
            first_held.set()
            assert release.wait(TIMEOUT)
        return webhooks._deliveries_insert(deliveries)

    group = GroupCommit(write, limit=50)
    monkeypatch.setattr(webhooks, "_intake", group)

    # One request leads and is held mid-write; the other 29 queue behind it and must go into
    # the database together, in one statement, when it is done.
    def request(index: int) -> str:
        if index > 0:
            assert first_held.wait(TIMEOUT)
        webhook_id, shop, topic = REQUESTS[index]
        return _receive(webhook_id, shop=shop, topic=topic)

    def release_when_all_wait() -> None:
        assert first_held.wait(TIMEOUT)
        for _ in range(TIMEOUT * 100):
            with group._lock:
                if len(group._waiting) == len(REQUESTS) - 1:
                    break
            threading.Event().wait(0.01)
        release.set()

    releaser = threading.Thread(target=release_when_all_wait)
    releaser.start()
    answers = at_once(request, len(REQUESTS))
    releaser.join(TIMEOUT)

    assert batches == [1, len(REQUESTS) - 1]
    _check_recorded(answers, shop_a)


@pytest.mark.django_db(transaction=True)
def test_threads_racing_through_intake_record_everything_once(shop_a) -> None:
    assert _receive("recorded-before") == DeliveryStatus.RECEIVED

    def request(index: int) -> str:
        webhook_id, shop, topic = REQUESTS[index]
        return _receive(webhook_id, shop=shop, topic=topic)

    answers = at_once(request, len(REQUESTS))
    _check_recorded(answers, shop_a)


def _refused(delivery: dict[str, object]) -> dict[str, object]:
    """The delivery with a value every database refuses (`attempts` is checked >= 0)."""
    return {**delivery, "attempts": -1}


@pytest.mark.django_db(transaction=True)
def test_a_delivery_the_database_refuses_fails_alone_and_the_rest_of_its_batch_is_recorded(
    shop_a, monkeypatch
) -> None:
    held = threading.Event()
    release = threading.Event()
    batches: list[list[str]] = []

    def write(deliveries: Sequence[dict[str, Any]]) -> list[str | Exception]:
        batches.append([str(d["webhook_id"]) for d in deliveries])
        if len(batches) == 1:
            held.set()
            assert release.wait(TIMEOUT)
        return webhooks._deliveries_record(
            [_refused(d) if str(d["webhook_id"]).endswith("-bad") else d for d in deliveries]
        )

    group = GroupCommit(write)
    monkeypatch.setattr(webhooks, "_intake", group)
    outcomes: dict[str, object] = {}

    def request(webhook_id: str) -> None:
        try:
            outcomes[webhook_id] = _receive(webhook_id)
        except Exception as error:
            outcomes[webhook_id] = error
        finally:
            connections.close_all()

    # A batch of one refused delivery: it raises, and nothing of it is recorded.
    first = threading.Thread(target=request, args=("first-bad",))
    first.start()
    assert held.wait(TIMEOUT)
    names = ["a", "b", "second-bad", "c", "d"]
    others = [threading.Thread(target=request, args=(name,)) for name in names]
    for thread in others:
        thread.start()
    for _ in range(TIMEOUT * 100):
        with group._lock:
            if len(group._waiting) == len(names):
                break
        threading.Event().wait(0.01)
    release.set()
    for thread in (first, *others):
        thread.join(TIMEOUT)

    # Then a batch of five with one refused: the one fails, the four are recorded.
    assert [sorted(batch) for batch in batches] == [["first-bad"], sorted(names)]
    assert isinstance(outcomes["first-bad"], IntegrityError)
    assert isinstance(outcomes["second-bad"], IntegrityError)
    assert [outcomes[name] for name in "abcd"] == [DeliveryStatus.RECEIVED] * 4
    assert sorted(WebhookDelivery.objects.values_list("webhook_id", flat=True)) == list("abcd")
    # Shopify's retry of a refused one, with nothing wrong this time, is recorded.
    monkeypatch.setattr(webhooks, "_intake", GroupCommit(webhooks._deliveries_record))
    assert _receive("first-bad") == DeliveryStatus.RECEIVED


@pytest.mark.django_db(transaction=True)
def test_a_connection_the_server_closed_is_replaced_and_the_delivery_recorded(shop_a) -> None:
    if connection.vendor != "postgresql":
        pytest.skip("PostgreSQL only: a SQLite database has no server to drop the connection")
    assert _receive("before") == DeliveryStatus.RECEIVED
    old_pid = connection.connection.info.backend_pid
    killer = connection.connection.__class__.connect(
        **{**connection.get_connection_params(), "autocommit": True}
    )
    with killer:
        killer.execute("SELECT pg_terminate_backend(%s)", [old_pid])

    assert _receive("after") == DeliveryStatus.RECEIVED
    assert connection.connection.info.backend_pid != old_pid
    assert sorted(WebhookDelivery.objects.values_list("webhook_id", flat=True)) == [
        "after",
        "before",
    ]


@pytest.mark.django_db
def test_stored_bodies_are_compressed_with_lz4_on_postgresql(shop_a) -> None:
    # SQLite stores text as it is; PostgreSQL compresses it, and lz4 costs a fraction of pglz.
    assert _receive("compressed") == DeliveryStatus.RECEIVED
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            # lz4 where the server was built with it (Debian's and the official images are);
            # elsewhere the migration leaves pglz.
            expected = "lz4" if _server_has_lz4(cursor) else "pglz"
            cursor.execute(
                "SELECT pg_column_compression(body) FROM shopify_webhookdelivery "
                "WHERE webhook_id = 'compressed'"
            )
            assert cursor.fetchone() == (expected,)
        else:
            cursor.execute(
                "SELECT length(CAST(body AS BLOB)) FROM shopify_webhookdelivery "
                "WHERE webhook_id = 'compressed'"
            )
            assert cursor.fetchone()[0] == len(json.dumps(paid_order()).encode())


def _server_has_lz4(cursor: Any) -> bool:
    cursor.execute("SELECT enumvals FROM pg_settings WHERE name = 'default_toast_compression'")
    return "lz4" in cursor.fetchone()[0]
