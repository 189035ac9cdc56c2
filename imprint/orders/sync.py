"""The order sync: find recent paid orders Imprint never saw (lost webhooks) and deliver them.

It spends Shopify's rate limit on what it needs: one cheap listing of ids (about one point per
order), one query per page to see which of them Imprint already has, and full details only for
the rest, each handed to the same `order_ingest` as webhooks. Ingest's unique constraints make an
order already known a no-op, so a sync is safe to run any number of times and to race webhooks.
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
import zlib
from collections.abc import Callable
from dataclasses import dataclass, field

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone

from imprint.orders.models import Order, SyncRun
from imprint.orders.selectors import orders_known
from imprint.orders.services import order_ingest
from imprint.shopify.admin import AdminClient, Clock, OrderRef, ShopifyError, SystemClock
from imprint.shopify.oauth import admin_client_for
from imprint.shops.models import Shop

logger = logging.getLogger(__name__)

DEFAULT_LOOKBACK_DAYS = 60
# Without the read_all_orders scope (which Imprint does not ask for) Shopify shows an app only
# the orders of the last 60 days; looking further back would silently find nothing.
VISIBLE_DAYS = 60
# A running sync moves its heartbeat after every order and page. The longest gap is one query
# that keeps failing (5 attempts x 35 s of timeouts + 15 s of backoff) or one bucket wait (20 s
# on Standard), so a heartbeat older than this belongs to a process that died.
SYNC_LEASE_SECONDS = 300.0
MAX_ERROR_LINES = 20  # per-order errors kept in the run's text; the count keeps them all

UNINSTALLED = "The app is uninstalled from this store"
NO_TOKEN = "The store has no access token; reinstall the app"  # noqa: S105 (a message)

Progress = Callable[[SyncRun], None]


class _Failed(Exception):
    """The run cannot go on; the message is for the merchant."""


@dataclass
class _Tally:
    scanned: int = 0
    already_known: int = 0
    delivered: int = 0
    skipped_no_digital: int = 0
    recorded: int = 0
    error_lines: list[str] = field(default_factory=list)
    errors: int = 0

    def error(self, line: str) -> None:
        self.errors += 1
        if len(self.error_lines) < MAX_ERROR_LINES:
            self.error_lines.append(line)


def sync_window(*, since: dt.datetime, now: dt.datetime) -> tuple[dt.datetime, str]:
    """Where the scan starts, and a note when that is later than asked."""
    earliest = now - dt.timedelta(days=VISIBLE_DAYS)
    if since >= earliest:
        return since, ""
    return earliest, (
        f"Shopify shows apps only the last {VISIBLE_DAYS} days of orders: checked orders since "
        f"{earliest:%Y-%m-%d %H:%M} UTC instead of {since:%Y-%m-%d %H:%M} UTC."
    )


def _run_start(
    *, shop: Shop, trigger: str, window_start: dt.datetime, note: str
) -> tuple[SyncRun, bool]:
    """A new running run, or the one already running for this store (False: joined).

    The partial unique constraint (one running run per shop) decides between two callers at
    once; a running run whose heartbeat is older than the lease is closed as failed and replaced.
    """
    for _ in range(5):
        now = timezone.now()
        try:
            with transaction.atomic():
                run = SyncRun.objects.create(
                    shop=shop,
                    trigger=trigger,
                    window_start=window_start,
                    started_at=now,
                    heartbeat_at=now,
                    note=note,
                )
            return run, True
        except IntegrityError:
            running = SyncRun.objects.filter(shop=shop, status=SyncRun.Status.RUNNING).first()
            if running is None:
                continue  # it finished meanwhile: try again
            if running.heartbeat_at >= now - dt.timedelta(seconds=SYNC_LEASE_SECONDS):
                return running, False
            taken = SyncRun.objects.filter(
                pk=running.pk, status=SyncRun.Status.RUNNING, heartbeat_at=running.heartbeat_at
            ).update(
                status=SyncRun.Status.FAILED,
                finished_at=now,
                error_text="The sync stopped without finishing (its process ended); "
                "a later sync took over.",
            )
            if taken:
                logger.warning("sync %s of %s abandoned past its lease", running.pk, shop.domain)
    raise RuntimeError(f"could not start or join a sync of {shop.domain}")


def _save(run: SyncRun, tally: _Tally, *, points: float, **final: object) -> None:
    """Write the counters (every order and page, so the UI and the CLI see live progress)."""
    values: dict[str, object] = {
        "scanned": tally.scanned,
        "already_known": tally.already_known,
        "delivered": tally.delivered,
        "skipped_no_digital": tally.skipped_no_digital,
        "recorded": tally.recorded,
        "errors": tally.errors,
        "points_spent": round(points),
        "heartbeat_at": timezone.now(),
        "scanned_through": run.scanned_through,
        **final,
    }
    # Only our own running row: a run taken over by another process is no longer ours to write.
    SyncRun.objects.filter(pk=run.pk, status=SyncRun.Status.RUNNING).update(**values)
    for name, value in values.items():
        setattr(run, name, value)


def _newer(shopify: dt.datetime, imprint: dt.datetime) -> bool:
    """Shopify has a newer state than Imprint applied. Whole seconds: the REST webhook and
    GraphQL may write one instant with different sub-second precision."""
    return shopify.replace(microsecond=0) > imprint.replace(microsecond=0)


def _scan(
    *,
    run: SyncRun,
    shop: Shop,
    client: AdminClient,
    tally: _Tally,
    progress: Progress | None,
    stop: threading.Event | None,
) -> bool:
    """Page through the window; True when it got to the end, False when asked to stop."""
    after: str | None = None
    while True:
        if stop is not None and stop.is_set():
            return False
        page = client.order_refs_page(since=run.window_start, after=after)
        known = orders_known(shop=shop, shopify_ids=[ref.shopify_id for ref in page.orders])
        todo: list[OrderRef] = []
        for ref in page.orders:
            if ref.shopify_id in known and not _newer(ref.updated_at, known[ref.shopify_id]):
                tally.already_known += 1
            else:
                todo.append(ref)
        tally.scanned += len(page.orders)
        if page.orders:
            run.scanned_through = page.orders[-1].created_at
        if todo:
            orders = client.orders_fetch(
                todo,
                on_error=lambda order_id, message: tally.error(
                    f"Order {order_id} could not be read: {message}"
                ),
            )
            for data in orders:
                if stop is not None and stop.is_set():
                    return False
                unknown = data.shopify_id not in known
                result = order_ingest(shop=shop, data=data, source="sync")
                if result.delivered:
                    tally.delivered += 1
                elif not Order.objects.filter(pk=result.order_id, has_digital_items=True).exists():
                    tally.skipped_no_digital += 1
                elif unknown and not result.created:
                    tally.already_known += 1  # a webhook brought it in meanwhile
                else:
                    tally.recorded += 1
                _save(run, tally, points=client.stats.points)
        _save(run, tally, points=client.stats.points)
        if progress is not None:
            progress(run)
        if not page.has_next_page or not page.end_cursor:
            return True
        after = page.end_cursor


def orders_sync(
    *,
    shop: Shop,
    since: dt.datetime | None = None,
    trigger: str = SyncRun.Trigger.MANUAL,
    progress: Progress | None = None,
    stop: threading.Event | None = None,
    clock: Clock | None = None,
) -> SyncRun:
    """Find the paid orders created since `since` (default: 60 days ago) that Imprint does not
    have, or has in an older state, and ingest them. Returns the run, recorded whatever happens;
    when a sync of this store is already running, returns that one instead (it joins it).

    `stop` ends the run early after the current order (recorded as partial); `progress` is called
    with the run after each page; `clock` paces the waits for Shopify's rate limit.
    """
    now = timezone.now()
    since = since or now - dt.timedelta(days=DEFAULT_LOOKBACK_DAYS)
    window_start, note = sync_window(since=since, now=now)
    run, started = _run_start(shop=shop, trigger=trigger, window_start=window_start, note=note)
    if not started:
        logger.info("sync of %s joins run %s, already running", shop.domain, run.pk)
        return run
    clock = clock or SystemClock()
    began = clock.now()
    tally = _Tally()
    client: AdminClient | None = None
    status, fatal = SyncRun.Status.SUCCEEDED, ""
    try:
        if shop.uninstalled_at is not None:
            raise _Failed(UNINSTALLED)
        if not shop.has_token:
            raise _Failed(NO_TOKEN)
        client = admin_client_for(shop=shop, clock=clock)  # refreshes an expiring token
        with client:
            finished = _scan(
                run=run, shop=shop, client=client, tally=tally, progress=progress, stop=stop
            )
        if not finished:
            status = SyncRun.Status.PARTIAL
        elif tally.errors:
            status = SyncRun.Status.FAILED
    except (_Failed, ShopifyError) as error:
        status, fatal = SyncRun.Status.FAILED, str(error)
    except Exception:
        logger.exception("sync %s of %s failed", run.pk, shop.domain)
        # The merchant sees this text: the exception itself goes to the server log only.
        status, fatal = (
            SyncRun.Status.FAILED,
            "Imprint hit an unexpected error and stopped the sync. It is recorded in the server "
            "log; run the sync again, and contact support if it keeps happening.",
        )
    except BaseException:
        # Killed from the terminal mid-order (a second Ctrl-C): record what was done, then go.
        _finish(run, tally, client, SyncRun.Status.PARTIAL, "Interrupted.", began, clock)
        raise
    _finish(run, tally, client, status, fatal, began, clock)
    logger.info(
        "sync %s of %s %s: scanned=%d known=%d delivered=%d no_digital=%d errors=%d points=%s",
        run.pk,
        shop.domain,
        run.status,
        run.scanned,
        run.already_known,
        run.delivered,
        run.skipped_no_digital,
        run.errors,
        run.points_spent,
    )
    return run


def _finish(
    run: SyncRun,
    tally: _Tally,
    client: AdminClient | None,
    status: str,
    fatal: str,
    began: float,
    clock: Clock,
) -> None:
    lines = [fatal] if fatal else []
    lines += tally.error_lines
    if tally.errors > len(tally.error_lines):
        lines.append(f"… and {tally.errors - len(tally.error_lines)} more.")
    _save(
        run,
        tally,
        points=client.stats.points if client is not None else 0.0,
        status=status,
        error_text="\n".join(lines),
        finished_at=timezone.now(),
        duration_seconds=max(clock.now() - began, 0.0),
    )


# --- the schedule --------------------------------------------------------------------------------

SCHEDULE_PREFIX = "orders.sync:"  # one PeriodicJob row per store holds its next turn
SCHEDULE_TICK_SECONDS = 30.0  # how often the scheduler looks for stores whose turn has come


def sync_turn_next(*, domain: str, after: dt.datetime, interval_seconds: int) -> dt.datetime:
    """The store's next turn strictly after `after`. Each store has a fixed slot in the
    interval (a hash of its domain), so stores are spread over it instead of all syncing at
    once, and a store keeps its slot however late a scheduler wakes."""
    slot = zlib.crc32(domain.encode()) % interval_seconds
    stamp = int(after.timestamp())
    turn = stamp - stamp % interval_seconds + slot
    if turn <= stamp:
        turn += interval_seconds
    return dt.datetime.fromtimestamp(turn, tz=dt.UTC)


def orders_sync_schedule(*, now: dt.datetime | None = None) -> list[int]:
    """Enqueue a sync job for every installed store whose turn has come; returns their ids.

    Several schedulers may run: a turn is claimed with a conditional update of the store's row
    (moved only from the value read), so exactly one of them enqueues it.
    """
    from imprint.jobs.models import PeriodicJob
    from imprint.orders.tasks import orders_sync_task

    interval = settings.SYNC_INTERVAL_MINUTES * 60
    if interval <= 0:
        return []
    now = now or timezone.now()
    shops = {
        f"{SCHEDULE_PREFIX}{domain}": (pk, domain)
        for pk, domain in Shop.objects.filter(uninstalled_at__isnull=True)
        .exclude(access_token_encrypted="")
        .values_list("pk", "domain")
    }
    have = set(PeriodicJob.objects.filter(name__in=shops).values_list("name", flat=True))
    PeriodicJob.objects.bulk_create(
        [
            PeriodicJob(
                name=name,
                # A new store's first turn is its slot, not now: a fresh deployment with
                # thousands of stores must not sync them all in the same minute.
                next_run_at=sync_turn_next(
                    domain=domain, after=now - dt.timedelta(seconds=1), interval_seconds=interval
                ),
            )
            for name, (_, domain) in shops.items()
            if name not in have
        ],
        ignore_conflicts=True,  # another scheduler created it first
    )
    enqueued = []
    for job in PeriodicJob.objects.filter(name__in=shops, next_run_at__lte=now):
        shop_id, domain = shops[job.name]
        turn = sync_turn_next(domain=domain, after=now, interval_seconds=interval)
        claimed = PeriodicJob.objects.filter(pk=job.pk, next_run_at=job.next_run_at).update(
            next_run_at=turn, last_run_at=now
        )
        if claimed:
            orders_sync_task.enqueue(
                shop_id=shop_id, days=settings.SYNC_LOOKBACK_DAYS, trigger=SyncRun.Trigger.SCHEDULE
            )
            enqueued.append(shop_id)
    return enqueued
