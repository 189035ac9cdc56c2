"""End to end: a signed `orders/paid` webhook received by `imprint serve` to its delivery email
accepted by a local SMTP server, at a steady rate (100 orders per second by default) for a minute.

Prints p50, p99 and max of that latency per order and the ratio of p99 to the 2 s target.

    .venv/bin/python bench/end_to_end.py [--rate 100] [--seconds 60] [--postgres] [--scale 10]

--scale N first loads N x rate x seconds delivered orders into the database (the growth figure).
"""

from __future__ import annotations

import argparse
import base64
import copy
import hashlib
import hmac
import http.client
import json
import os
import signal
import subprocess
import sys
import threading
import time
import uuid

from common import (
    PRODUCT_ID,
    ROOT,
    SAMPLE,
    SECRET,
    SHOP,
    SMTPSinkProcess,
    bench_env,
    free_port,
    fresh_data_dir,
    imprint,
    machine,
    quantile,
    seed_orders,
    wait_ready,
)
from postgres import postgres_database

FIRST_ID = 8_000_000_000


def _client(
    port: int, indexes: list[int], schedule: dict[int, float], sent: dict[int, float]
) -> None:
    template = json.loads(SAMPLE.read_text())
    template.update(financial_status="paid", cancelled_at=None, test=False)
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    for index in indexes:
        order = copy.deepcopy(template)
        order.update(id=FIRST_ID + index, name=f"#E{index}", email=f"e2e{index}@example.com")
        body = json.dumps(order).encode()
        signature = base64.b64encode(hmac.new(SECRET.encode(), body, hashlib.sha256).digest())
        delay = schedule[index] - time.time()
        if delay > 0:
            time.sleep(delay)
        sent[index] = time.time()
        conn.request(
            "POST",
            "/webhooks/shopify",
            body=body,
            headers={
                "Content-Type": "application/json",
                "X-Shopify-Topic": "orders/paid",
                "X-Shopify-Hmac-Sha256": signature.decode(),
                "X-Shopify-Shop-Domain": SHOP,
                "X-Shopify-Webhook-Id": str(uuid.uuid4()),
                "X-Shopify-API-Version": "2026-10",
            },
        )
        response = conn.getresponse()
        response.read()
        if response.status != 200:
            raise RuntimeError(f"webhook answered {response.status}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rate", type=float, default=100.0)
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--clients", type=int, default=16)
    parser.add_argument("--workers", type=int, default=2, help="`imprint serve --workers`")
    parser.add_argument("--postgres", action="store_true")
    parser.add_argument("--scale", type=int, default=0)
    options = parser.parse_args()
    total = int(options.rate * options.seconds)

    data_dir = fresh_data_dir("e2e")
    sink = SMTPSinkProcess()
    port = free_port()
    with postgres_database(options.postgres) as database_url:
        env = bench_env(
            data_dir,
            port,
            IMPRINT_EMAIL_URL=f"smtp://127.0.0.1:{sink.port}",
            IMPRINT_WORKER_POLL_SECONDS="0.05",
            **({"IMPRINT_DATABASE_URL": database_url} if database_url else {}),
        )
        imprint(env, "manage", "migrate", "--verbosity", "0")
        imprint(env, "shop", "add", SHOP, "--token", "shpat_bench", "--name", "Bench Prints")
        attachment = data_dir / "guide.pdf"
        attachment.write_bytes(b"%PDF-1.7 bench\n" * 100)
        imprint(env, "files", "add", str(attachment), "--shop", SHOP, "--product", PRODUCT_ID)
        if options.scale:
            # The growth figure: the same run with N times its orders already in the database
            # (delivered, their emails sent or queued before the server starts and drained).
            seed_orders(env, first=10_000_000, count=options.scale * total)
        server = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "imprint.cli",
                "serve",
                "--port",
                str(port),
                "--workers",
                str(options.workers),
            ],
            env=env,
            cwd=ROOT,
            stdout=subprocess.DEVNULL,
            start_new_session=True,
        )
        try:
            wait_ready(port)
            if options.scale:
                # Let the worker send the seeded emails first: only the run's orders are timed.
                seeded = options.scale * total
                deadline = time.monotonic() + 60 + seeded / 20
                while sink.count() < seeded and time.monotonic() < deadline:
                    time.sleep(0.2)
            with sink.lock:
                sink.arrivals.clear()
            start = time.time() + 0.5
            schedule = {i: start + i / options.rate for i in range(total)}
            sent: dict[int, float] = {}
            threads = [
                threading.Thread(
                    target=_client,
                    args=(port, list(range(c, total, options.clients)), schedule, sent),
                )
                for c in range(options.clients)
            ]
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join()
            deadline = time.monotonic() + 120
            while sink.count() < total and time.monotonic() < deadline:
                time.sleep(0.05)
        finally:
            os.killpg(server.pid, signal.SIGTERM)
            server.wait(timeout=60)
    sink.stop()
    arrived = {
        int(rcpt.removeprefix("e2e").split("@")[0]): at
        for at, rcpt in sink.arrivals
        if rcpt.startswith("e2e")
    }
    latencies = [arrived[i] - schedule[i] for i in range(total) if i in arrived]
    database = "PostgreSQL" if options.postgres else "SQLite"
    print(
        f"end to end: {total} orders at {options.rate:g}/s for {options.seconds:g} s, {database}, "
        f"{options.workers} worker(s)"
        f"{f', {options.scale}x orders already in the database' if options.scale else ''}; "
        f"{machine()}"
    )
    print(f"delivered {len(latencies)} of {total}")
    print(
        f"webhook sent -> email accepted: p50 {quantile(latencies, 50) * 1000:.0f} ms, "
        f"p99 {quantile(latencies, 99) * 1000:.0f} ms, max {max(latencies) * 1000:.0f} ms"
    )
    print(f"p99 / 2 s target: {quantile(latencies, 99) / 2.0:.2f} (target < 1)")
    lag = [sent[i] - schedule[i] for i in sent]
    print(f"client lag behind schedule: p99 {quantile(lag, 99) * 1000:.0f} ms")


if __name__ == "__main__":
    main()
