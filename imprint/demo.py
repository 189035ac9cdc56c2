"""`imprint demo`: the whole product on one machine, in one command.

It starts the devstore (a local Shopify, in a thread of this process) with a demo store, installs
that store in Imprint with a file on two of its three products, and runs `imprint serve` beside it
with the Admin API pointed at the devstore and the devstore's app secret, so that an order placed
in the devstore's storefront arrives as a signed webhook, is delivered, and its email can be read
in the local mailbox. The devstore keeps its state in the data directory, so its order ids go on
where the last demo stopped (Imprint would otherwise take a new order for one it has seen).
"""

from __future__ import annotations

import io
import os
import signal
import subprocess
import sys
import threading
import time
import urllib.request
import zipfile
from pathlib import Path
from types import FrameType
from typing import Any

from django.conf import settings

DEMO_SECRET = "imprint-demo-app-secret"  # noqa: S105 (a local, public demo value)
READY_TIMEOUT_SECONDS = 60.0
STOP_TIMEOUT_SECONDS = 45.0

# The demo store's products (devstore/demo.py) and the file each one delivers.
DEMO_FILES = {
    "Snowboard Guide": "Snowboard Guide.pdf",
    "Ünïcode Sound Pack — 東京 Nights": "Tokyo Nights Sound Pack.zip",
    # "Gift Wrapping" has no file: its orders are recorded and left alone.
}


def demo_file_content(name: str) -> bytes:
    """Small demo files made on the spot: a PDF-like text file and a zip of two tracks."""
    if name.endswith(".pdf"):
        body = "".join(
            f"Chapter {n}: carving, waxing and staying upright, part {n}.\n" for n in range(1, 41)
        )
        return f"%PDF-1.7\n% Imprint demo file: not a real PDF.\n{body}%%EOF\n".encode()
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("01 Shibuya Rain.txt", "A demo track: imagine rain on neon.\n" * 50)
        archive.writestr("02 Last Train.txt", "A demo track: the doors close softly.\n" * 50)
    return buffer.getvalue()


def demo_install(*, domain: str, token: str, name: str, email: str, products: list[Any]) -> None:
    """Add the demo store to Imprint (or update its token) and attach a file to each product
    that has one, unless a demo run attached it already."""
    from imprint.catalog.models import Attachment
    from imprint.catalog.services import file_attach, file_store
    from imprint.shops.services import shop_add

    shop = shop_add(domain=domain, token=token, name=name, email=email)
    for product in products:
        filename = DEMO_FILES.get(product.title)
        if filename is None or Attachment.objects.filter(shop=shop, product_id=product.id).exists():
            continue
        content = demo_file_content(filename)
        stored = file_store(shop=shop, source=io.BytesIO(content), name=filename, content_type=None)
        file_attach(file=stored, product_id=product.id, variant_id=None)


def _healthy(url: str) -> bool:
    try:
        with urllib.request.urlopen(f"{url}/healthz", timeout=2) as response:  # noqa: S310 (our own http URL)
            return bool(response.status == 200)
    except OSError:
        return False


def demo_main(*, host: str, port: int, devstore_port: int) -> int:
    from django.core.management import call_command
    from django.db import connections

    from devstore.demo import demo_seed
    from devstore.server import devstore_serve
    from devstore.store import DevStore
    from imprint.cli import PROG, CommandFailed, _port_check, _url_host

    _port_check(host, port)
    _port_check("127.0.0.1", devstore_port)
    base = f"http://{_url_host(host)}:{port}"
    state = Path(settings.DATA_DIR) / "demo" / "devstore.json"
    state.parent.mkdir(parents=True, exist_ok=True)

    print(f"{PROG}: applying database migrations…", flush=True)  # noqa: T201
    call_command("migrate", interactive=False, verbosity=0)
    store = DevStore()
    if state.exists():
        store.load(state)
    shop, products = demo_seed(
        store, app_secret=DEMO_SECRET, webhook_url=f"{base}/webhooks/shopify"
    )
    with store.lock:  # a state from an earlier demo may name another port
        shop.webhook_url = f"{base}/webhooks/shopify"
        shop.app_secret = DEMO_SECRET
    server = devstore_serve(store, host="127.0.0.1", port=devstore_port, state_path=state)
    store.save(state)
    demo_install(
        domain=shop.domain,
        token=shop.access_token,
        name=shop.name,
        email=shop.email,
        products=products,
    )
    connections.close_all()  # serve's processes open their own

    env = {
        **os.environ,
        "IMPRINT_SHOPIFY_ADMIN_ORIGIN": server.url,
        "SHOPIFY_API_SECRET": DEMO_SECRET,
        "IMPRINT_PUBLIC_URL": base,
        "IMPRINT_EMAIL_URL": "",  # the local mailbox, whatever the shell says
    }
    serve = subprocess.Popen(  # noqa: S603 (our own command)
        [sys.executable, "-m", "imprint.cli", "serve", "--host", host, "--port", str(port)],
        env=env,
        process_group=0,  # a Ctrl-C reaches the demo, which stops serve once, gracefully
    )
    stop = threading.Event()

    def on_signal(signum: int, frame: FrameType | None) -> None:
        stop.set()

    for signum in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        signal.signal(signum, on_signal)
    try:
        deadline = time.monotonic() + READY_TIMEOUT_SECONDS
        while not _healthy(base):
            if serve.poll() is not None or time.monotonic() > deadline or stop.is_set():
                raise CommandFailed("imprint serve did not start; see its messages above")
            stop.wait(0.2)
        storefront = f"{server.url}/?shop={shop.domain}"
        print(  # noqa: T201
            f"""
{PROG}: the demo is running.
  1. Place an order in the demo store:   {storefront}
  2. Read the customer's email:          {base}/dev/mailbox
  3. Download the file:                  follow the link in the email
  The devstore's admin (orders, webhooks, switches to drop them): {server.url}/admin
  Heal orders whose webhooks were dropped:
      IMPRINT_SHOPIFY_ADMIN_ORIGIN={server.url} {PROG} sync --shop {shop.domain}
{PROG}: press Ctrl-C to stop""",
            flush=True,
        )
        while not stop.is_set() and serve.poll() is None:
            stop.wait(0.5)
    finally:
        print(f"{PROG}: stopping…", flush=True)  # noqa: T201
        if serve.poll() is None:
            serve.send_signal(signal.SIGTERM)
        try:
            serve.wait(timeout=STOP_TIMEOUT_SECONDS)
        except subprocess.TimeoutExpired:
            serve.kill()
            serve.wait()
        server.stop()
        store.close()
    return 0 if serve.returncode in (0, -signal.SIGTERM) else 1
