"""Email throughput: delivery emails per second from `imprint worker` to a local SMTP server,
beside a plain smtplib loop sending the very same messages to the same server.

Seeds N paid orders (grants issued, delivery emails queued, as a webhook would), starts two
workers (or --workers) and times the messages from the first to the last accepted. Then replays
the messages the server received with smtplib: one connection per message (as Django's mail
backend does) and all over one connection (as the worker does for each batch of 20).

    .venv/bin/python bench/emails.py [--messages 300] [--workers 2] [--postgres] [--scale 10]
"""

from __future__ import annotations

import argparse
import os
import signal
import smtplib
import subprocess
import sys
import time

from common import (
    PRODUCT_ID,
    ROOT,
    SHOP,
    SMTPSink,
    bench_env,
    free_port,
    fresh_data_dir,
    imprint,
    machine,
    seed_orders,
)
from postgres import postgres_database


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=300)
    parser.add_argument("--workers", type=int, default=2, help="as `imprint serve` runs")
    parser.add_argument("--postgres", action="store_true")
    parser.add_argument(
        "--scale", type=int, default=1, help="multiply the messages (and so the data) by this"
    )
    options = parser.parse_args()
    count = options.messages * options.scale

    data_dir = fresh_data_dir("email")
    sink = SMTPSink()
    with postgres_database(options.postgres) as database_url:
        env = bench_env(
            data_dir,
            free_port(),
            IMPRINT_EMAIL_URL=f"smtp://127.0.0.1:{sink.port}",
            IMPRINT_WORKER_POLL_SECONDS="0.05",
            **({"IMPRINT_DATABASE_URL": database_url} if database_url else {}),
        )
        imprint(env, "manage", "migrate", "--verbosity", "0")
        imprint(env, "shop", "add", SHOP, "--token", "shpat_bench", "--name", "Bench Prints")
        attachment = data_dir / "guide.pdf"
        attachment.write_bytes(b"%PDF-1.7 bench\n" * 100)
        imprint(env, "files", "add", str(attachment), "--shop", SHOP, "--product", PRODUCT_ID)
        seed_orders(env, first=0, count=count)

        sink.keep_raw = True
        workers = [
            subprocess.Popen(
                [sys.executable, "-m", "imprint.cli", "worker"],
                env=env,
                cwd=ROOT,
                start_new_session=True,
            )
            for _ in range(options.workers)
        ]
        deadline = time.monotonic() + 60 + count / 5
        try:
            while sink.count() < count and time.monotonic() < deadline:
                time.sleep(0.05)
        finally:
            for worker in workers:
                os.killpg(worker.pid, signal.SIGTERM)
            for worker in workers:
                worker.wait(timeout=60)
    if sink.count() < count:
        raise SystemExit(f"only {sink.count()} of {count} messages arrived")
    times = sorted(at for at, _ in sink.arrivals)
    worker_rate = (count - 1) / (times[-1] - times[0])

    messages = list(sink.raw)
    sink.arrivals.clear()
    started = time.perf_counter()
    for sender, recipients, raw in messages:
        with smtplib.SMTP("127.0.0.1", sink.port) as smtp:
            smtp.sendmail(sender, recipients, raw)
    per_connection = len(messages) / (time.perf_counter() - started)
    started = time.perf_counter()
    with smtplib.SMTP("127.0.0.1", sink.port) as smtp:
        for sender, recipients, raw in messages:
            smtp.sendmail(sender, recipients, raw)
    one_connection = len(messages) / (time.perf_counter() - started)
    sink.stop()

    database = "PostgreSQL" if options.postgres else "SQLite"
    print(f"email: {count} messages, {options.workers} worker(s), {database}; {machine()}")
    print(f"imprint worker -> SMTP                   {worker_rate:8.1f} msg/s")
    print(f"smtplib loop, a connection per message   {per_connection:8.1f} msg/s")
    print(f"smtplib loop, one connection             {one_connection:8.1f} msg/s")
    print(
        f"worker / plain loop (connection per message): {worker_rate / per_connection:.2f} "
        f"(target >= 0.70); worker / one-connection loop: {worker_rate / one_connection:.2f}"
    )


if __name__ == "__main__":
    main()
