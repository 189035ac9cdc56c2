"""Request ids on responses and in logs; one JSON object per log line with IMPRINT_LOG_FORMAT=json."""

from __future__ import annotations

import json
import logging

import pytest
from django.http import HttpResponse
from django.test import Client

from imprint.lib.logging import JsonFormatter, RequestIdFilter, RequestIdMiddleware, request_id_var

pytestmark = pytest.mark.django_db


def test_a_request_gets_a_new_id_on_its_response(client: Client) -> None:
    first = client.get("/healthz")["X-Request-Id"]
    second = client.get("/healthz")["X-Request-Id"]

    assert len(first) == 32
    assert first != second


def test_a_well_formed_forwarded_id_is_kept(client: Client) -> None:
    response = client.get("/healthz", HTTP_X_REQUEST_ID="lb-7f3a.91:2")

    assert response["X-Request-Id"] == "lb-7f3a.91:2"


def test_a_malformed_forwarded_id_is_replaced(client: Client) -> None:
    response = client.get("/healthz", HTTP_X_REQUEST_ID='bad"id\nwith newline')

    assert response["X-Request-Id"] != 'bad"id\nwith newline'
    assert len(response["X-Request-Id"]) == 32


def test_log_lines_of_a_request_carry_its_id(rf) -> None:
    seen: list[str | None] = []

    def view(request):  # type: ignore[no-untyped-def]
        seen.append(RequestIdFilter().filter(record := _record("inside")) and record.request_id)
        return HttpResponse("ok")

    response = RequestIdMiddleware(view)(rf.get("/", HTTP_X_REQUEST_ID="trace-42"))

    assert response["X-Request-Id"] == "trace-42"
    assert seen == ["trace-42"]
    assert request_id_var.get() is None  # gone once the request is over


def _record(message: str, **extra: object) -> logging.LogRecord:
    record = logging.getLogger("imprint.test").makeRecord(
        "imprint.test", logging.WARNING, __file__, 1, message, (), None, extra=extra
    )
    record.created = 1767225600.25  # 2026-01-01T00:00:00.250Z
    return record


def test_json_lines_hold_time_level_logger_message_and_request_id() -> None:
    token = request_id_var.set("req-1")
    try:
        line = JsonFormatter().format(_record("order %s delivered", shop="a.myshopify.com"))
    finally:
        request_id_var.reset(token)

    assert json.loads(line) == {
        "time": "2026-01-01T00:00:00.250+00:00",
        "level": "WARNING",
        "logger": "imprint.test",
        "message": "order %s delivered",
        "request_id": "req-1",
        "shop": "a.myshopify.com",
    }


def test_json_lines_outside_a_request_have_no_request_id_and_keep_tracebacks() -> None:
    try:
        raise ValueError("boom")
    except ValueError:
        record = logging.getLogger("x").makeRecord(
            "x", logging.ERROR, __file__, 1, "failed", (), __import__("sys").exc_info()
        )

    entry = json.loads(JsonFormatter().format(record))

    assert "request_id" not in entry
    assert entry["message"] == "failed"
    assert entry["exception"].splitlines()[-1] == "ValueError: boom"
