"""Webhook intake under sustained load, against `imprint serve`, beside the same server's /healthz.

Starts Imprint in a fresh data directory (SQLite by default, PostgreSQL with --postgres), adds a
store, then sends signed `orders/paid` webhooks (each with its own X-Shopify-Webhook-Id, so every
one is recorded and queued) from N client processes with keep-alive connections for a fixed time,
and does the same with GET /healthz. Prints requests per second, p50 and p99 latency of each, and
the ratio of intake to /healthz throughput, measured in the same run on the same machine.

    .venv/bin/python bench/webhook_intake.py [--seconds 10] [--clients 8] [--postgres] [--scale 10]

--until-p99 then steps a steady rate up (by --step, x1.5 by default) from --rate until p99
passes 100 ms, for /healthz and for intake alike, and reports the highest rate of each that
kept p99 under it, and their ratio.
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import hmac
import http.client
import json
import multiprocessing
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

from common import ROOT, SAMPLE, SECRET, SHOP, django_run, free_port, imprint, wait_ready


def order_body(index: int) -> bytes:
    order = json.loads(SAMPLE.read_text())
    order.update(financial_status="paid", cancelled_at=None, test=False, id=5_000_000_000 + index)
    return json.dumps(order).encode()


def client(args: tuple[int, str, float, int, float]) -> list[float]:
    """One client connection. With `interval` > 0 it sends on a fixed schedule (open loop) and
    measures each latency from the scheduled time, so a stalled server is not hidden by the
    client waiting for it; with 0 it sends as fast as answers come back (closed loop)."""
    port, kind, seconds, seed, interval = args
    body = order_body(seed)
    signature = base64.b64encode(hmac.new(SECRET.encode(), body, hashlib.sha256).digest()).decode()
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    latencies: list[float] = []
    start = time.perf_counter() + interval * (seed % 1000) / 1000
    deadline = start + seconds
    sent = 0
    while time.perf_counter() < deadline:
        started = time.perf_counter()
        if interval:
            scheduled = start + sent * interval
            if scheduled > started:
                time.sleep(scheduled - started)
            started = scheduled
        sent += 1
        if kind == "webhook":
            headers = {
                "Content-Type": "application/json",
                "X-Shopify-Topic": "orders/paid",
                "X-Shopify-Hmac-Sha256": signature,
                "X-Shopify-Shop-Domain": SHOP,
                "X-Shopify-Webhook-Id": str(uuid.uuid4()),
                "X-Shopify-API-Version": "2026-10",
            }
            conn.request("POST", "/webhooks/shopify", body=body, headers=headers)
        else:
            conn.request("GET", "/healthz")
        response = conn.getresponse()
        response.read()
        if response.status != 200:
            raise RuntimeError(f"{kind}: HTTP {response.status}")
        latencies.append(time.perf_counter() - started)
    return latencies


def measure(
    port: int, kind: str, clients: int, seconds: float, rate: float = 0.0
) -> dict[str, float]:
    interval = clients / rate if rate else 0.0
    with multiprocessing.Pool(clients) as pool:
        results = pool.map(client, [(port, kind, seconds, i, interval) for i in range(clients)])
    latencies = sorted(x for chunk in results for x in chunk)
    quantiles = statistics.quantiles(latencies, n=100, method="inclusive")
    return {
        "requests": len(latencies),
        "rps": len(latencies) / seconds,
        "p50_ms": quantiles[49] * 1000,
        "p99_ms": quantiles[98] * 1000,
    }


# --scale N: the data already there when intake is measured, N times over: deliveries received
# and processed earlier (small bodies: the indexes grow, not the disk) and other stores.
GROWTH_DELIVERIES = 20_000
GROWTH_STORES = 100

SEED_GROWTH = """
import datetime as dt
from django.utils import timezone
from imprint.shopify.models import DeliveryStatus, WebhookDelivery
from imprint.shops.models import Shop
Shop.objects.bulk_create(
    [Shop(domain=f"other-{n}.myshopify.com", name=f"Other {n}") for n in range(STORES)]
)
shops = list(Shop.objects.values_list("id", "domain"))
now = timezone.now()
WebhookDelivery.objects.bulk_create(
    (
        WebhookDelivery(
            webhook_id=f"earlier-{n}",
            topic="orders/paid",
            shop_id=shops[n % len(shops)][0],
            shop_domain=shops[n % len(shops)][1],
            received_at=now - dt.timedelta(seconds=n),
            body='{"id": %d}' % n,
            status=DeliveryStatus.PROCESSED,
        )
        for n in range(DELIVERIES)
    ),
    batch_size=2000,
)
result = WebhookDelivery.objects.count()
"""


def climb(port: int, kind: str, options: argparse.Namespace) -> list[tuple[float, dict]]:
    """Steady (open-loop) runs from --rate up by --step, until p99 passes 100 ms."""
    steps: list[tuple[float, dict]] = []
    rate = options.rate
    while len(steps) < 40:
        steps.append((rate, measure(port, kind, options.clients, options.seconds, rate=rate)))
        if steps[-1][1]["p99_ms"] > 100:
            break
        rate *= options.step
    return steps


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument(
        "--rate",
        type=float,
        default=100.0,
        help="requests per second of the steady (open-loop) run; the saturation run has no limit",
    )
    parser.add_argument("--postgres", action="store_true", help="use PostgreSQL at 127.0.0.1:5432")
    parser.add_argument(
        "--web-only",
        action="store_true",
        help="run `imprint web` alone (intake without the worker processing what it queues)",
    )
    parser.add_argument(
        "--until-p99",
        action="store_true",
        help="step steady rates of both up (by --step from --rate) until p99 passes 100 ms",
    )
    parser.add_argument(
        "--scale",
        type=int,
        default=0,
        help=f"first load N x {GROWTH_DELIVERIES} earlier deliveries and N x {GROWTH_STORES} "
        "other stores (the growth figure)",
    )
    parser.add_argument(
        "--step", type=float, default=1.5, help="factor between --until-p99 rates (above 1)"
    )
    options = parser.parse_args()
    if options.step <= 1:
        parser.error("--step must be above 1")

    data_dir = Path(tempfile.mkdtemp(prefix="imprint-bench-"))
    port = free_port()
    env = {
        **os.environ,
        "IMPRINT_DATA_DIR": str(data_dir),
        "IMPRINT_PUBLIC_URL": f"http://127.0.0.1:{port}",
        "SHOPIFY_API_SECRET": SECRET,
        "IMPRINT_LOG_LEVEL": "WARNING",
    }
    if options.postgres:
        name = f"imprint_bench_{os.getpid()}"
        subprocess.run(
            ["psql", "-h", "127.0.0.1", "-U", "postgres", "-c", f"CREATE DATABASE {name}"],
            check=True,
            stdout=subprocess.DEVNULL,
        )
        env["IMPRINT_DATABASE_URL"] = f"postgres://postgres@127.0.0.1:5432/{name}"
    imprint(env, "manage", "migrate", "--verbosity", "0")
    imprint(env, "shop", "add", SHOP, "--token", "shpat_bench", "--name", "Bench")
    if options.scale:
        django_run(
            env,
            SEED_GROWTH.replace("DELIVERIES", str(options.scale * GROWTH_DELIVERIES)).replace(
                "STORES", str(options.scale * GROWTH_STORES)
            ),
        )
    server = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "imprint.cli",
            "web" if options.web_only else "serve",
            "--port",
            str(port),
        ],
        env=env,
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        wait_ready(port)
        measure(port, "healthz", options.clients, 1.0)  # warm up every gunicorn worker
        health = measure(port, "healthz", options.clients, options.seconds)
        intake = measure(port, "webhook", options.clients, options.seconds)
        steady = measure(port, "webhook", options.clients, options.seconds, rate=options.rate)
        climbs = {}
        if options.until_p99:
            for kind in ("healthz", "webhook"):
                climbs[kind] = climb(port, kind, options)
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(timeout=30)
        if options.postgres:
            subprocess.run(
                [
                    "psql",
                    "-h",
                    "127.0.0.1",
                    "-U",
                    "postgres",
                    "-c",
                    f"DROP DATABASE IF EXISTS {name} WITH (FORCE)",
                ],
                check=False,
                stdout=subprocess.DEVNULL,
            )
    database = "PostgreSQL" if options.postgres else "SQLite"
    command = "imprint web" if options.web_only else "imprint serve"
    grown = (
        f", {options.scale * GROWTH_DELIVERIES} deliveries and {options.scale * GROWTH_STORES + 1} "
        "stores already there"
        if options.scale
        else ""
    )
    print(
        f"{command}, {database}, {options.clients} clients, {options.seconds:g} s each, "
        f"{os.cpu_count()} cores{grown}"
    )
    rows = (
        ("GET /healthz, saturated", health),
        ("POST /webhooks/shopify, saturated", intake),
        (f"POST /webhooks/shopify at {options.rate:g}/s", steady),
    )
    for label, figures in rows:
        print(
            f"{label:40s} {figures['rps']:8.1f} req/s  p50 {figures['p50_ms']:6.1f} ms"
            f"  p99 {figures['p99_ms']:6.1f} ms  ({int(figures['requests'])} requests)"
        )
    print(f"intake / healthz throughput, saturated: {intake['rps'] / health['rps']:.2f}")
    if options.until_p99:
        best = {}
        for kind, steps in climbs.items():
            for rate, figures in steps:
                print(
                    f"{kind + ' at ' + format(rate, '.0f') + '/s':40s} {figures['rps']:8.1f} req/s  "
                    f"p50 {figures['p50_ms']:6.1f} ms  p99 {figures['p99_ms']:6.1f} ms"
                )
            kept = [figures["rps"] for _, figures in steps if figures["p99_ms"] <= 100]
            best[kind] = max(kept, default=0.0)
        if not best["webhook"] or not best["healthz"]:
            print("p99 was over 100 ms already at the first rate: lower --rate")
        else:
            print(
                f"highest rate with p99 <= 100 ms: intake {best['webhook']:.1f} req/s, /healthz "
                f"{best['healthz']:.1f} req/s: {best['webhook'] / best['healthz']:.2f} "
                f"(target >= 0.40)"
            )


if __name__ == "__main__":
    main()
