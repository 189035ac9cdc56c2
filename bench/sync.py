"""The order sync on a large store: 10,000 paid orders of which 1% never reached Imprint, on the
Standard plan's limits (bucket 2,000 points, 100 points/s), against the devstore over HTTP.

Prints the points spent per order scanned, the sync's duration on the devstore's clock beside
the least time the restore rate allows for the points it spent ((spent - bucket) / rate), and
Imprint's own CPU time per order (the sync's thread; the devstore serves from other threads of
the same process, shown apart).

    .venv/bin/python bench/sync.py [--orders 10000] [--missing 0.01] [--clock fake|real]
                                   [--database-url postgres://...]

--clock fake (the default) runs the devstore's clock only when the client waits, so the bucket's
waits take no wall time and the run shows Imprint's own cost; --clock real waits for real (about
(points - 2000) / 100 seconds).
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--orders", type=int, default=10_000)
    parser.add_argument("--missing", type=float, default=0.01)
    parser.add_argument("--clock", choices=["fake", "real"], default="fake")
    parser.add_argument("--database-url", default="")
    args = parser.parse_args()

    data_dir = tempfile.mkdtemp(prefix="imprint-bench-sync-")
    os.environ.update(
        IMPRINT_DATA_DIR=data_dir,
        IMPRINT_DATABASE_URL=args.database_url,
        IMPRINT_LOG_LEVEL="WARNING",
        DJANGO_SETTINGS_MODULE="imprint.settings",
    )
    import django

    django.setup()
    from django.conf import settings
    from django.core.files.base import ContentFile
    from django.core.management import call_command
    from django.utils import timezone

    from devstore.clock import Clock, FakeClock
    from devstore.server import devstore_serve
    from devstore.store import PLANS, DevStore
    from imprint.catalog.services import file_attach, file_store
    from imprint.orders.sync import orders_sync
    from imprint.shops.services import shop_add
    from tests.orders.sync_helpers import orders_record_delivered

    call_command("migrate", interactive=False, verbosity=0)
    clock = FakeClock(start=time.time()) if args.clock == "fake" else Clock()
    store = DevStore(clock=clock)
    domain, token = "bench-sync.myshopify.com", "shpat_bench_sync_0000000000000000"
    record = store.shop_create(
        domain=domain,
        plan="standard",
        access_token=token,
        app_secret="bench-secret",  # noqa: S106
    )
    product = store.product_create(shop=domain, title="Field Guide", variants=["PDF"])
    orders = store.orders_bulk_create(shop=domain, count=args.orders, product_ids=[product.id])
    shop = shop_add(domain=domain, token=token, name="Bench Sync")
    stored = file_store(
        shop=shop, source=ContentFile(b"%PDF-1.7 bench\n" * 64), name="guide.pdf", content_type=None
    )
    file_attach(file=stored, product_id=product.id)

    # The orders whose webhooks did arrive, recorded in bulk from the same REST payloads.
    step = round(1 / args.missing) if args.missing > 0 else len(orders) + 1
    missing = orders[::step]
    lost_ids = {o.id for o in missing}
    known = [o for o in orders if o.id not in lost_ids]
    orders_record_delivered(shop=shop, orders=known, record=record)

    server = devstore_serve(store, host="127.0.0.1", port=0)
    settings.SHOPIFY_ADMIN_ORIGIN = server.url
    try:
        wall0, cpu0, thread0 = time.perf_counter(), time.process_time(), time.thread_time()
        run = orders_sync(
            shop=shop, since=timezone.now() - dt.timedelta(days=60), trigger="cli", clock=clock
        )
        wall = time.perf_counter() - wall0
        thread_cpu = time.thread_time() - thread0
        process_cpu = time.process_time() - cpu0
    finally:
        server.stop()
        store.close()

    log = [entry for entry in store.cost_log if entry["shop"] == domain]
    spent = sum(entry["actual"] or 0 for entry in log)
    plan = PLANS["standard"]
    minimum = max(0.0, spent - plan.bucket) / plan.restore_rate
    duration = run.duration_seconds or 0.0
    print(
        f"database:                   {settings.DATABASES['default']['ENGINE'].rsplit('.', 1)[-1]}"
    )
    print(f"clock:                      {args.clock}")
    print(f"run:                        {run.status}, {run.error_text or 'no errors'}")
    print(
        f"orders scanned:             {run.scanned:,} ({run.already_known:,} known, "
        f"{run.delivered:,} delivered, {len(missing):,} missing)"
    )
    print(
        f"requests:                   {len(log)} ({sum(e['throttled'] for e in log)} throttled, "
        f"{sum(1 for e in log if e['error'])} with an error)"
    )
    print(
        f"points spent:               {spent:,.0f} ({spent / max(run.scanned, 1):.3f} per order scanned)"
    )
    print(
        f"sync duration (store clock): {duration:.2f} s; bucket minimum {minimum:.2f} s "
        f"({(duration / minimum - 1) * 100 if minimum else 0:+.1f}%)"
    )
    print(f"wall time:                  {wall:.2f} s")
    print(
        f"Imprint CPU (sync thread):  {thread_cpu:.2f} s, "
        f"{thread_cpu / max(run.scanned, 1) * 1e6:.0f} µs per order scanned, "
        f"{thread_cpu / max(run.delivered, 1) * 1e3:.1f} ms per order delivered (upper bound)"
    )
    print(f"process CPU (with devstore): {process_cpu:.2f} s")
    shutil.rmtree(data_dir, ignore_errors=True)
    return 0 if run.status == "succeeded" else 1


if __name__ == "__main__":
    sys.exit(main())
