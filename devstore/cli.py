"""`imprint devstore` (run the devstore) and `imprint devstore order` (place an order in a running
one through its control endpoint). imprint/cli.py registers these with add_subcommands(); the
devstore needs nothing of Imprint's and also runs as `python -m devstore`."""

from __future__ import annotations

import argparse
import json
import os
import signal
import sys
import threading
import urllib.error
import urllib.request
from collections.abc import Sequence
from pathlib import Path
from types import FrameType
from typing import Any

PROG = "devstore"
DEFAULT_PORT = 8100
DEFAULT_WEBHOOK_URL = "http://127.0.0.1:8000/webhooks/shopify"
DEFAULT_SECRET = "devstore-app-secret"
REQUEST_TIMEOUT_SECONDS = 10.0


def _port(text: str) -> int:
    try:
        port = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a port number") from None
    if not 0 <= port <= 65535:
        raise argparse.ArgumentTypeError(f"{port} is not a port number (0-65535)")
    return port


def _positive(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"{value} must be at least 1")
    return value


def add_subcommands(commands: Any) -> argparse.ArgumentParser:
    """Add `devstore` (and `devstore order`) to an argparse subparsers object."""
    from devstore.store import PLANS

    parser: argparse.ArgumentParser = commands.add_parser(
        "devstore", help="run the devstore, a local Shopify for development, tests and demos"
    )
    parser.add_argument(
        "--host", default="127.0.0.1", help="address to listen on (default: %(default)s)"
    )
    parser.add_argument(
        "--port", type=_port, default=DEFAULT_PORT, help="port to listen on (default: %(default)s)"
    )
    parser.add_argument(
        "--state",
        metavar="FILE",
        help="keep the shops and orders in this JSON file across restarts",
    )
    parser.add_argument(
        "--plan",
        choices=sorted(PLANS),
        default="standard",
        help="the demo shop's plan (API limits)",
    )
    parser.add_argument(
        "--seed-demo",
        action="store_true",
        help="create the demo shop (demo.myshopify.com) and its products",
    )
    parser.add_argument(
        "--webhook-url",
        default=DEFAULT_WEBHOOK_URL,
        help="where the demo shop sends its webhooks (default: %(default)s)",
    )
    parser.add_argument(
        "--app-secret",
        default=None,
        help="the secret that signs the demo shop's webhooks (default: $SHOPIFY_API_SECRET, "
        f"else {DEFAULT_SECRET!r})",
    )
    parser.add_argument(
        "--client-id",
        default=None,
        help="the app's client id, the `aud` of its session tokens (default: $SHOPIFY_API_KEY, "
        "else 'devstore-client-id')",
    )
    parser.add_argument(
        "--app-url",
        default="http://127.0.0.1:8000/app/",
        help="what its admin page /admin/apps/NAME frames (default: %(default)s)",
    )
    parser.add_argument(
        "--retry-scale",
        type=float,
        default=1.0,
        help="multiply Shopify's webhook retry delays by this (0.001: 4 hours in 14 s)",
    )
    parser.set_defaults(handler=run, devstore_command=None)
    sub = parser.add_subparsers(dest="devstore_command", metavar="DEVSTORE_COMMAND")
    order = sub.add_parser("order", help="place an order in a running devstore")
    order.add_argument(
        "--url",
        default=f"http://127.0.0.1:{DEFAULT_PORT}",
        help="the running devstore (default: %(default)s, where `imprint devstore` listens)",
    )
    order.add_argument("--shop", required=True, metavar="DOMAIN", help="NAME.myshopify.com")
    order.add_argument("--product", required=True, metavar="ID", help="product id or gid")
    order.add_argument("--variant", metavar="ID", help="variant id or gid (default: the first)")
    order.add_argument("--quantity", type=_positive, default=1)
    order.add_argument("--paid", action="store_true", help="paid at once (default: pending)")
    order.add_argument("--test", action="store_true", help="a test order")
    order.add_argument("--email", default="jon@example.com")
    order.add_argument("--first-name", default="Jon")
    order.add_argument("--last-name", default="Snow")
    order.set_defaults(handler=run)
    return parser


def run(args: argparse.Namespace) -> int:
    if args.devstore_command == "order":
        return _order(args)
    return _serve(args)


def _serve(args: argparse.Namespace) -> int:
    from devstore.demo import DEMO_DOMAIN, demo_seed
    from devstore.server import devstore_serve
    from devstore.store import DevStore

    store = DevStore(retry_scale=args.retry_scale)
    state = Path(args.state) if args.state else None
    if state is not None and state.exists():
        try:
            store.load(state)
        except (OSError, ValueError, KeyError) as exc:
            print(f"{PROG}: cannot read the state file {state}: {exc}", file=sys.stderr)
            return 2
    secret = args.app_secret or os.environ.get("SHOPIFY_API_SECRET", "").split(",")[0]
    secret = secret or DEFAULT_SECRET
    store.oauth.client_id = (
        args.client_id or os.environ.get("SHOPIFY_API_KEY", "") or store.oauth.client_id
    )
    store.oauth.app_url = args.app_url
    if args.seed_demo:
        demo_seed(store, app_secret=secret, webhook_url=args.webhook_url, plan=args.plan)
    try:
        server = devstore_serve(store, host=args.host, port=args.port, state_path=state)
    except OSError as exc:
        print(
            f"{PROG}: cannot listen on {args.host}:{args.port}: {exc.strerror or exc}",
            file=sys.stderr,
        )
        return 1
    stop = threading.Event()

    def on_signal(signum: int, frame: FrameType | None) -> None:
        stop.set()

    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, on_signal)
    print(
        f"{PROG}: storefront on {server.url}/ , orders and webhooks on {server.url}/admin",
        flush=True,
    )
    print(f"{PROG}: Admin API at {server.url}/admin/api/2026-10/graphql.json", flush=True)
    for shop in store.shops.values():
        mark = " (demo)" if shop.domain == DEMO_DOMAIN else ""
        print(
            f"{PROG}: shop {shop.domain}{mark}: token {shop.access_token}, webhooks to "
            f"{shop.webhook_url or 'nowhere'}",
            flush=True,
        )
        for product in shop.products.values():
            variants = ", ".join(f"{v.title} {v.id}" for v in product.variants)
            print(f"{PROG}:   product {product.id} {product.title} ({variants})", flush=True)
    print(f"{PROG}: press Ctrl-C to stop", flush=True)
    stop.wait()
    print(f"{PROG}: stopping…", flush=True)
    server.stop()
    store.close()
    return 0


def _order(args: argparse.Namespace) -> int:
    body = {
        "shop": args.shop,
        "product": args.product,
        "variant": args.variant,
        "quantity": args.quantity,
        "paid": args.paid,
        "test": args.test,
        "email": args.email,
        "first_name": args.first_name,
        "last_name": args.last_name,
    }
    if not args.url.startswith(("http://", "https://")):
        print(f"{PROG}: --url must be the devstore's http:// address", file=sys.stderr)
        return 2
    request = urllib.request.Request(  # noqa: S310 - http(s) only, checked above
        args.url.rstrip("/") + "/_devstore/orders",
        data=json.dumps(body).encode(),
        headers={"Content-Type": "application/json"},
        method="POST",
    )
    try:
        with urllib.request.urlopen(request, timeout=REQUEST_TIMEOUT_SECONDS) as response:  # noqa: S310 - checked above
            order = json.loads(response.read())
    except urllib.error.HTTPError as exc:
        try:
            message = json.loads(exc.read()).get("error", exc.reason)
        except ValueError:
            message = exc.reason
        print(f"{PROG}: the devstore refused the order: {message}", file=sys.stderr)
        return 2 if exc.code in (400, 404) else 1
    except (urllib.error.URLError, OSError) as exc:
        reason = getattr(exc, "reason", exc)
        print(f"{PROG}: cannot reach the devstore at {args.url}: {reason}", file=sys.stderr)
        return 1
    items = ", ".join(f"{line['quantity']} x {line['name']}" for line in order["line_items"])
    print(
        f"Placed order {order['name']} (id {order['id']}) for {order['email']}: {items}; "
        f"{order['financial_status']}."
    )
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog=PROG, description="A local Shopify.")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    add_subcommands(commands)
    args = parser.parse_args(list(sys.argv[1:] if argv is None else argv))
    try:
        return int(args.handler(args))
    except KeyboardInterrupt:
        return 130
