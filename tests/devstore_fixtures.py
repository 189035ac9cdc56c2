"""Fixtures for tests that need a local Shopify: the devstore in memory, served over real HTTP,
with a fake clock, and a webhook receiver that records what the devstore sends.

    def test_x(devstore, devstore_shop, devstore_server):
        product = devstore.product_create(shop=devstore_shop.domain, title="Guide")
        ...  # Admin GraphQL at devstore_server.url, token devstore_shop.access_token

Registered in tests/conftest.py's pytest_plugins.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from devstore.clock import FakeClock
from devstore.models import Shop
from devstore.server import DevStoreServer, devstore_serve
from devstore.store import DevStore

DEVSTORE_DOMAIN = "devstore-a.myshopify.com"
DEVSTORE_TOKEN = "shpat_devstore_a_0123456789abcdef"
# Webhook retries compressed 10,000 times: Shopify's 4 hours become 1.44 s.
DEVSTORE_RETRY_SCALE = 0.0001


@dataclass
class Received:
    path: str
    headers: dict[str, str]
    body: bytes

    @property
    def payload(self) -> Any:
        return json.loads(self.body)

    @property
    def topic(self) -> str:
        return self.headers.get("X-Shopify-Topic", "")


@dataclass
class WebhookReceiver:
    """An HTTP endpoint that records every request and answers `statuses` in turn (then
    `status`), after `delay` seconds."""

    url: str = ""
    status: int = 200
    statuses: list[int] = field(default_factory=list)
    delay: float = 0.0
    received: list[Received] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def answer(self) -> int:
        with self.lock:
            return self.statuses.pop(0) if self.statuses else self.status


def _handler(receiver: WebhookReceiver) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            with receiver.lock:
                receiver.received.append(Received(self.path, dict(self.headers.items()), body))
            if receiver.delay:
                threading.Event().wait(receiver.delay)
            status = receiver.answer()
            self.send_response(status)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, format: str, *args: Any) -> None:
            pass

    return Handler


@pytest.fixture
def webhook_receiver() -> Iterator[WebhookReceiver]:
    receiver = WebhookReceiver()
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(receiver))
    server.daemon_threads = True
    receiver.url = f"http://127.0.0.1:{server.server_address[1]}/webhooks/shopify"
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05})
    thread.start()
    try:
        yield receiver
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


@pytest.fixture
def devstore_clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def devstore(devstore_clock: FakeClock) -> Iterator[DevStore]:
    store = DevStore(clock=devstore_clock, retry_scale=DEVSTORE_RETRY_SCALE)
    try:
        yield store
    finally:
        store.close()


@pytest.fixture
def devstore_shop(devstore: DevStore) -> Shop:
    """A Standard-plan shop whose webhooks are signed with the tests' SHOPIFY_API_SECRET and go
    nowhere until a test sets `webhook_url`."""
    from tests.shopify.helpers import SECRET

    return devstore.shop_create(
        domain=DEVSTORE_DOMAIN,
        name="Devstore A",
        plan="standard",
        access_token=DEVSTORE_TOKEN,
        app_secret=SECRET,
        webhook_url=None,
    )


@pytest.fixture
def devstore_server(devstore: DevStore) -> Iterator[DevStoreServer]:
    server = devstore_serve(devstore, host="127.0.0.1", port=0)
    try:
        yield server
    finally:
        server.stop()
