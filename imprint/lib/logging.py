"""Logs an operator can search: one JSON object per line (IMPRINT_LOG_FORMAT=json), each with the
id of the request it belongs to.

The request id comes from the X-Request-Id header the load balancer or nginx sets (so one id
follows a request through every tier), or is made here; it is sent back on the response and kept
in a context variable for the duration of the request, where the formatters find it. Lines logged
outside a request (workers, the scheduler) have no request id.
"""

from __future__ import annotations

import contextvars
import datetime as dt
import json
import logging
import re
import secrets
from collections.abc import Callable
from typing import Any

from django.http import HttpRequest, HttpResponseBase

request_id_var: contextvars.ContextVar[str | None] = contextvars.ContextVar(
    "imprint_request_id", default=None
)

REQUEST_ID_HEADER = "X-Request-Id"
# What a forwarded id may look like: a client must not be able to write newlines, quotes or
# kilobytes of text into every log line of its request.
_VALID_ID = re.compile(r"[A-Za-z0-9._:-]{1,128}", re.ASCII)

# LogRecord's own attributes: anything else on a record came from `extra=` and is logged too.
_RECORD_FIELDS = frozenset(vars(logging.makeLogRecord({}))) | {"message", "asctime"}


def request_id_new() -> str:
    return secrets.token_hex(16)


class RequestIdMiddleware:
    """Takes X-Request-Id (when well formed) or makes one; sets it on the response and in the
    context for the log formatters. First in MIDDLEWARE, so every line of the request has it."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponseBase]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponseBase:
        given = request.headers.get(REQUEST_ID_HEADER, "")
        request_id = given if _VALID_ID.fullmatch(given) else request_id_new()
        token = request_id_var.set(request_id)
        try:
            response = self.get_response(request)
        finally:
            request_id_var.reset(token)
        response.headers[REQUEST_ID_HEADER] = request_id
        return response


class RequestIdFilter(logging.Filter):
    """Puts the current request id on every record as `request_id` ("-" outside a request), for
    the plain format too."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.request_id = request_id_var.get() or "-"
        return True


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time (UTC, ISO 8601), level, logger, message, request_id when in
    a request, the exception's traceback when there is one, and any `extra=` fields."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": dt.datetime.fromtimestamp(record.created, tz=dt.UTC).isoformat(
                timespec="milliseconds"
            ),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        request_id = request_id_var.get()
        if request_id:
            entry["request_id"] = request_id
        for key, value in vars(record).items():
            if key not in _RECORD_FIELDS and key not in entry and key != "request_id":
                entry[key] = value
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        if record.stack_info:
            entry["stack"] = self.formatStack(record.stack_info)
        return json.dumps(entry, default=str, ensure_ascii=False)


def logging_format_apply(config: dict[str, Any], *, log_format: str) -> dict[str, Any]:
    """Django's LOGGING `config` with its console handler writing `log_format` (plain or json)."""
    config.setdefault("filters", {})["request_id"] = {"()": "imprint.lib.logging.RequestIdFilter"}
    config.setdefault("formatters", {})["json"] = {"()": "imprint.lib.logging.JsonFormatter"}
    console = config["handlers"]["console"]
    console["formatter"] = log_format
    console["filters"] = [*console.get("filters", []), "request_id"]
    return config
