"""The webhook sender: signs and POSTs like Shopify, from background threads, with Shopify's
retry schedule and switches that lose, hold, repeat or reorder deliveries for tests."""

from __future__ import annotations

import base64
import dataclasses
import hashlib
import heapq
import hmac
import http.client
import itertools
import json
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

API_VERSION = "2026-10"
# Shopify: connect within 1 s, the whole request within 5 s, or the attempt failed.
CONNECT_TIMEOUT_SECONDS = 1.0
TOTAL_TIMEOUT_SECONDS = 5.0
# Shopify retries a failed delivery 8 times over 4 hours with exponential backoff. Doubling
# delays that add up to exactly 4 h: 56.5 s, 113 s, ... 2 h 0.5 min (sum = 14,400 s).
RETRY_WINDOW_SECONDS = 4 * 3600
RETRIES = 8
RETRY_DELAYS_SECONDS = tuple(RETRY_WINDOW_SECONDS * 2**k / (2**RETRIES - 1) for k in range(RETRIES))
# One sender thread: deliveries leave in the order they were queued, which keeps "reorder"
# deterministic; a failing endpoint holds no thread while it waits for its retry.
WORKER_THREADS = 1
MODES = ("deliver", "drop", "duplicate", "delay", "reorder")


def webhook_sign(body: bytes, secret: str) -> str:
    """X-Shopify-Hmac-Sha256: base64 of HMAC-SHA256 over the raw body, keyed with the app secret."""
    return base64.b64encode(hmac.new(secret.encode(), body, hashlib.sha256).digest()).decode()


@dataclass
class Delivery:
    """One webhook (one X-Shopify-Webhook-Id) and what happened to it."""

    topic: str
    shop: str
    url: str
    body: bytes
    secret: str
    webhook_id: str
    event_id: str
    triggered_at: str
    order_id: int | None
    state: str = "queued"  # queued, held, delivered, failed (gave up), dropped
    status: int | None = None  # the last answer's status code; None: no answer (or not sent)
    attempts: int = 0
    errors: list[str] = field(default_factory=list)

    @property
    def payload(self) -> Any:
        return json.loads(self.body)

    def headers(self) -> dict[str, str]:
        return {
            "Content-Type": "application/json",
            "User-Agent": "Shopify-Captain-Hook",
            "X-Shopify-Topic": self.topic,
            "X-Shopify-Hmac-Sha256": webhook_sign(self.body, self.secret),
            "X-Shopify-Shop-Domain": self.shop,
            "X-Shopify-API-Version": API_VERSION,
            "X-Shopify-Webhook-Id": self.webhook_id,
            "X-Shopify-Triggered-At": self.triggered_at,
            "X-Shopify-Event-Id": self.event_id,
        }


@dataclass(frozen=True)
class Attempt:
    """One POST of a delivery."""

    topic: str
    order_id: int | None
    webhook_id: str
    status: int | None  # None: no answer (refused, timed out)
    attempt: int  # 1 for the first try, up to 1 + RETRIES
    at: float  # time.monotonic() when it finished
    error: str = ""


def _post(url: str, body: bytes, headers: dict[str, str]) -> int:
    """POST within Shopify's limits; the status code, or an OSError when there is no answer."""
    deadline = time.monotonic() + TOTAL_TIMEOUT_SECONDS
    parts = urlsplit(url)
    connection_class = (
        http.client.HTTPSConnection if parts.scheme == "https" else http.client.HTTPConnection
    )
    connection = connection_class(parts.netloc, timeout=CONNECT_TIMEOUT_SECONDS)
    try:
        connection.connect()
        assert connection.sock is not None  # noqa: S101 - connect() sets it or raises
        connection.sock.settimeout(max(deadline - time.monotonic(), 0.01))
        path = parts.path or "/"
        if parts.query:
            path += "?" + parts.query
        connection.request("POST", path, body=body, headers=headers)
        response = connection.getresponse()
        while response.read(65536):  # drain the answer, still within the deadline
            if time.monotonic() > deadline:
                raise TimeoutError("the answer took longer than 5 s")
            connection.sock.settimeout(max(deadline - time.monotonic(), 0.01))
        return response.status
    finally:
        connection.close()


class WebhookSender:
    """Queue of deliveries worked by a daemon thread.

    mode: "deliver" (default); "drop" (record, never send); "duplicate" (send each twice, same
    webhook id, as Shopify's at-least-once delivery may); "delay" (hold until flush()); "reorder"
    (hold, and flush() sends the held ones newest first). drop_next(n) drops the next n whatever
    the mode. Answers other than 2xx (3xx included) and no answer are retried RETRIES times on
    RETRY_DELAYS_SECONDS x retry_scale, then the delivery is given up ("failed").
    """

    def __init__(
        self,
        *,
        retry_scale: float = 1.0,
        post: Callable[[str, bytes, dict[str, str]], int] = _post,
    ) -> None:
        self.mode = "deliver"
        self.retry_scale = retry_scale
        self.deliveries: list[Delivery] = []  # every webhook, in the order it was triggered
        self.sent: list[Attempt] = []  # every POST, in the order they finished
        self.dropped: list[Delivery] = []
        self.held: list[Delivery] = []
        self._post = post
        self._drop_next = 0
        self._queue: list[tuple[float, int, Delivery]] = []  # (due, seq, delivery), a heap
        self._seq = itertools.count()
        self._in_flight = 0
        self._cond = threading.Condition()
        self._threads: list[threading.Thread] = []
        self._closed = False

    # --- what the store calls -------------------------------------------------------------------

    def send(
        self,
        *,
        topic: str,
        shop: str,
        url: str | None,
        secret: str,
        payload: Any,
        triggered_at: str,
        order_id: int | None = None,
    ) -> Delivery | None:
        """Queue one webhook (not sent when the shop has no webhook URL). Never blocks on HTTP."""
        if not url:
            return None
        delivery = Delivery(
            topic=topic,
            shop=shop,
            url=url,
            body=json.dumps(payload, ensure_ascii=False).encode(),
            secret=secret,
            webhook_id=str(uuid.uuid4()),
            event_id=str(uuid.uuid4()),
            triggered_at=triggered_at,
            order_id=order_id,
        )
        with self._cond:
            self.deliveries.append(delivery)
            if self._drop_next > 0:
                self._drop_next -= 1
                self._drop(delivery)
            elif self.mode == "drop":
                self._drop(delivery)
            elif self.mode in ("delay", "reorder"):
                delivery.state = "held"
                self.held.append(delivery)
            else:
                self._enqueue(delivery, 0.0)
                if self.mode == "duplicate":
                    # A second delivery of the same webhook: same webhook and event ids, as a
                    # redelivery by Shopify carries; its own attempts and retries.
                    twin = dataclasses.replace(delivery, errors=[])
                    self.deliveries.append(twin)
                    self._enqueue(twin, 0.0)
        return delivery

    # --- switches -------------------------------------------------------------------------------

    def set_mode(self, mode: str) -> None:
        if mode not in MODES:
            raise ValueError(f"unknown webhook mode {mode!r}: one of {', '.join(MODES)}")
        with self._cond:
            self.mode = mode

    def drop_next(self, count: int) -> None:
        with self._cond:
            self._drop_next += count

    def flush(self) -> int:
        """Send every held delivery (newest first in "reorder" mode); how many."""
        with self._cond:
            held = self.held[::-1] if self.mode == "reorder" else list(self.held)
            self.held.clear()
            for delivery in held:
                delivery.state = "queued"
                self._enqueue(delivery, 0.0)
            return len(held)

    def wait_idle(self, timeout: float) -> bool:
        """Wait until nothing is queued or in flight (held deliveries do not count, retries do);
        False if that did not happen within `timeout` seconds."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while self._queue or self._in_flight:
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self._cond.wait(left)
            return True

    def close(self) -> None:
        with self._cond:
            self._closed = True
            self._cond.notify_all()
        for thread in self._threads:
            thread.join(timeout=TOTAL_TIMEOUT_SECONDS + 1)

    # --- the machinery --------------------------------------------------------------------------

    def _drop(self, delivery: Delivery) -> None:
        delivery.state = "dropped"
        self.dropped.append(delivery)

    def _enqueue(self, delivery: Delivery, delay: float) -> None:
        """With self._cond held."""
        heapq.heappush(self._queue, (time.monotonic() + delay, next(self._seq), delivery))
        if not self._threads:
            for index in range(WORKER_THREADS):
                thread = threading.Thread(
                    target=self._work, name=f"devstore-webhooks-{index}", daemon=True
                )
                thread.start()
                self._threads.append(thread)
        self._cond.notify()

    def _next(self) -> Delivery | None:
        with self._cond:
            while not self._closed:
                if self._queue:
                    due = self._queue[0][0]
                    wait = due - time.monotonic()
                    if wait <= 0:
                        _, _, delivery = heapq.heappop(self._queue)
                        self._in_flight += 1
                        return delivery
                    self._cond.wait(wait)
                else:
                    self._cond.wait()
            return None

    def _work(self) -> None:
        while (delivery := self._next()) is not None:
            status: int | None = None
            error = ""
            try:
                status = self._post(delivery.url, delivery.body, delivery.headers())
            except (OSError, http.client.HTTPException) as exc:
                error = f"{type(exc).__name__}: {exc}"
            with self._cond:
                self._in_flight -= 1
                delivery.attempts += 1
                delivery.status = status
                if error:
                    delivery.errors.append(error)
                self.sent.append(
                    Attempt(
                        topic=delivery.topic,
                        order_id=delivery.order_id,
                        webhook_id=delivery.webhook_id,
                        status=status,
                        attempt=delivery.attempts,
                        at=time.monotonic(),
                        error=error,
                    )
                )
                if status is not None and 200 <= status < 300:
                    delivery.state = "delivered"
                elif delivery.attempts <= RETRIES:
                    delay = RETRY_DELAYS_SECONDS[delivery.attempts - 1] * self.retry_scale
                    self._enqueue(delivery, delay)
                else:
                    delivery.state = "failed"
                self._cond.notify_all()
