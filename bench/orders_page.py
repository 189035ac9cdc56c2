"""The Orders page with 100,000 orders: how fast it answers a search, over real HTTP.

Makes a fresh data directory (SQLite by default, PostgreSQL with --postgres), migrates, creates a
store with N orders (each with a line item and a download grant, a tenth of them downloaded, a few
failed), a second store with as many orders (so every query must really filter by store), signs in
with a server session, starts `imprint web` (one gunicorn worker) and times GET /app/ with each
kind of search. Prints p50, p95 and max per search; the target is p95 under 200 ms.

    .venv/bin/python bench/orders_page.py [--orders 100000] [--requests 30] [--postgres]
"""

from __future__ import annotations

import argparse
import http.client
import os
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from urllib.parse import urlencode

from common import free_port, wait_ready

ROOT = Path(__file__).resolve().parent.parent
TARGET_MS = 200.0
BATCH = 5000


def seed(orders: int) -> tuple[str, dict[str, str]]:
    """Two stores with `orders` orders each; returns shop A's session key and sample searches."""
    import datetime as dt

    from django.contrib.sessions.backends.db import SessionStore
    from django.core.management import call_command
    from django.utils import timezone

    from imprint.catalog.models import DigitalFile
    from imprint.delivery.models import DownloadGrant
    from imprint.orders.models import DeliveryStatus, LineItem, Order
    from imprint.shops.models import Shop
    from imprint.web.auth import SESSION_LABEL_KEY, SESSION_SHOP_KEY

    call_command("migrate", verbosity=0)
    now = timezone.now()
    first_names = ["Ada", "Alan", "Grace", "Edsger", "Barbara", "Donald", "Frances", "Ken"]
    last_names = [
        "Lovelace",
        "Turing",
        "Hopper",
        "Dijkstra",
        "Liskov",
        "Knuth",
        "Allen",
        "Thompson",
    ]
    shop_a = None
    for label in ("a", "b"):
        shop = Shop.objects.create(domain=f"bench-{label}.myshopify.com", name=f"Bench {label}")
        shop_a = shop_a or shop
        file = DigitalFile.objects.create(
            shop=shop, name="guide.pdf", storage_name=f"bench/{label}.pdf", size=1000, sha256=""
        )
        for start in range(0, orders, BATCH):
            batch = range(start, min(start + BATCH, orders))
            created = Order.objects.bulk_create(
                [
                    Order(
                        shop=shop,
                        shopify_id=i + 1,
                        name=f"#{1001 + i}",
                        email=f"customer{i}@example.com",
                        customer_first_name=first_names[i % 8],
                        customer_last_name=f"{last_names[(i // 8) % 8]}{i}",
                        financial_status="paid",
                        shopify_created_at=now - dt.timedelta(minutes=i * 5),
                        shopify_updated_at=now - dt.timedelta(minutes=i * 5),
                        has_digital_items=True,
                        delivery_status=DeliveryStatus.FAILED
                        if i % 97 == 0
                        else DeliveryStatus.PROCESSED,
                        delivered_at=now - dt.timedelta(minutes=i * 5),
                    )
                    for i in batch
                ]
            )
            if not created[0].pk:  # SQLite before 3.35 returns no ids from bulk_create
                created = list(
                    Order.objects.filter(shop=shop, shopify_id__gt=start).order_by("shopify_id")[
                        : len(batch)
                    ]
                )
            lines = LineItem.objects.bulk_create(
                [
                    LineItem(order=o, shopify_id=o.shopify_id, product_id=7, title="Guide")
                    for o in created
                ]
            )
            DownloadGrant.objects.bulk_create(
                [
                    DownloadGrant(
                        shop=shop,
                        order=line.order,
                        line_item=line,
                        file=file,
                        filename="guide.pdf",
                        file_size=1000,
                        max_downloads=5,
                        bytes_used=1000 if line.order.shopify_id % 10 == 0 else 0,
                    )
                    for line in lines
                ]
            )
    session = SessionStore()
    session[SESSION_SHOP_KEY] = shop_a.pk
    session[SESSION_LABEL_KEY] = "bench"
    session.create()
    middle = orders // 2
    searches = {
        "no search (page 1)": "",
        "order number": urlencode({"q": f"#{1001 + middle}"}),
        "email": urlencode({"q": f"customer{middle}@example.com"}),
        "customer name": urlencode({"q": f"Grace Hopper{middle + 2}"}),
        "name, no match": urlencode({"q": "Nobody Atall"}),
        "filter: email failed": urlencode({"delivery": "failed"}),
        "filter: dates, page 3": urlencode(
            {"date_from": (now - dt.timedelta(days=60)).date().isoformat(), "page": 3}
        ),
    }
    return session.session_key or "", searches


def timed(port: int, path: str, cookie: str, count: int) -> list[float]:
    samples = []
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    for _ in range(count):
        started = time.perf_counter()
        conn.request("GET", path, headers={"Cookie": f"sessionid={cookie}"})
        response = conn.getresponse()
        body = response.read()
        samples.append((time.perf_counter() - started) * 1000)
        if response.status != 200 or b"Orders" not in body:
            raise SystemExit(f"GET {path} answered {response.status}")
    conn.close()
    return samples


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--orders", type=int, default=100_000, help="orders per store")
    parser.add_argument("--requests", type=int, default=30, help="requests per search")
    parser.add_argument("--postgres", action="store_true", help="use PostgreSQL at 127.0.0.1:5432")
    options = parser.parse_args()

    data_dir = tempfile.mkdtemp(prefix="imprint-bench-")
    env = {**os.environ, "IMPRINT_DATA_DIR": data_dir, "IMPRINT_WEB_WORKERS": "1"}
    database = ""
    if options.postgres:
        database = f"imprint_bench_{uuid.uuid4().hex[:8]}"
        subprocess.run(
            ["psql", "-h", "127.0.0.1", "-U", "postgres", "-c", f"CREATE DATABASE {database}"],
            check=True,
            stdout=subprocess.DEVNULL,
        )
        env["IMPRINT_DATABASE_URL"] = f"postgres://postgres@127.0.0.1:5432/{database}"
    os.environ.update(env)
    os.environ["DJANGO_SETTINGS_MODULE"] = "imprint.settings"
    sys.path.insert(0, str(ROOT))
    import django

    django.setup()
    from django.db import connection

    started = time.monotonic()
    cookie, searches = seed(options.orders)
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("ANALYZE")
    connection.close()
    print(f"seeded 2 stores x {options.orders} orders in {time.monotonic() - started:.0f} s")

    port = free_port()
    server = subprocess.Popen(
        [sys.executable, "-m", "imprint.cli", "web", "--port", str(port)],
        env=env,
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    worst = 0.0
    try:
        wait_ready(port)
        kind = "PostgreSQL" if options.postgres else "SQLite"
        print(f"GET /app/ on {kind}, {options.requests} requests each (after 3 warm-up requests):")
        print(f"{'search':<24} {'p50 ms':>8} {'p95 ms':>8} {'max ms':>8}")
        for label, query in searches.items():
            path = "/app/" + (f"?{query}" if query else "")
            timed(port, path, cookie, 3)
            samples = sorted(timed(port, path, cookie, options.requests))
            p95 = samples[min(len(samples) - 1, int(len(samples) * 0.95))]
            worst = max(worst, p95)
            print(f"{label:<24} {statistics.median(samples):8.1f} {p95:8.1f} {samples[-1]:8.1f}")
    finally:
        server.terminate()
        server.wait(timeout=30)
        if database:
            subprocess.run(
                ["psql", "-h", "127.0.0.1", "-U", "postgres", "-c", f"DROP DATABASE {database}"],
                check=False,
                stdout=subprocess.DEVNULL,
            )
    verdict = "OK" if worst < TARGET_MS else "OVER TARGET"
    print(f"worst p95: {worst:.1f} ms (target {TARGET_MS:.0f} ms): {verdict}")
    if worst >= TARGET_MS:
        raise SystemExit(1)


if __name__ == "__main__":
    main()
