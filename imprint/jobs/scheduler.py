"""A small periodic runner: each registered job fires once per interval, however many schedulers run.

A run is claimed with one conditional UPDATE on the job's `PeriodicJob` row (move `next_run_at`
forward only if it is due), so of several schedulers that wake at the same moment exactly one
wins; the others see the row already moved and skip it.
"""

from __future__ import annotations

import datetime as dt
import logging
import signal
import threading
from collections.abc import Callable
from dataclasses import dataclass
from types import FrameType

from django.conf import settings
from django.db import close_old_connections
from django.utils import timezone

from imprint.jobs.models import PeriodicJob
from imprint.jobs.reaper import jobs_reap
from imprint.orders.sync import SCHEDULE_TICK_SECONDS, orders_sync_schedule

logger = logging.getLogger(__name__)

MAX_SLEEP_SECONDS = 1.0  # how late a due job may start; also how fast a stop is noticed


@dataclass(frozen=True)
class Periodic:
    name: str
    interval_seconds: float
    run: Callable[[], object]


def reap_interval_seconds() -> float:
    """Check for lost jobs a few times per lease, at most every 30 s."""
    return min(30.0, max(settings.JOB_LEASE_SECONDS / 4, 0.5))


def periodic_jobs() -> list[Periodic]:
    """Every periodic job, checked in this order. To add one, append it here."""
    return [
        Periodic(name="jobs.reap", interval_seconds=reap_interval_seconds(), run=jobs_reap),
        Periodic(
            name="orders.sync", interval_seconds=SCHEDULE_TICK_SECONDS, run=orders_sync_schedule
        ),
    ]


def periodic_claim(*, name: str, interval_seconds: float, now: dt.datetime) -> bool:
    """True when this caller won the run of `name` due at `now`; the next one is due an
    interval later. A job never seen before is due at once."""
    due = PeriodicJob.objects.filter(name=name, next_run_at__lte=now)
    moved = {"next_run_at": now + dt.timedelta(seconds=interval_seconds), "last_run_at": now}
    if due.update(**moved) == 1:
        return True
    # Not due, or never seen: get_or_create is safe against a racing scheduler (the unique name
    # decides), and whoever created the row still has to win the conditional update.
    _, created = PeriodicJob.objects.get_or_create(name=name, defaults={"next_run_at": now})
    return created and due.update(**moved) == 1


def scheduler_tick(jobs: list[Periodic], *, stop_event: threading.Event | None = None) -> list[str]:
    """Run every job that is due and won by this scheduler; returns their names."""
    ran = []
    for job in jobs:
        if stop_event is not None and stop_event.is_set():
            break
        now = timezone.now()
        if not periodic_claim(name=job.name, interval_seconds=job.interval_seconds, now=now):
            continue
        # The claimed instant: tests/test_many_processes.py reads these lines from several
        # schedulers to check that no run was fired twice in one interval.
        logger.debug("periodic job %s fired at %s", job.name, now.isoformat())
        try:
            job.run()
        except Exception:
            # One failing job must not stop the others; it runs again next interval.
            logger.exception("periodic job %s failed", job.name)
        ran.append(job.name)
    return ran


def scheduler_run(stop_event: threading.Event, *, jobs: list[Periodic] | None = None) -> None:
    """Fire periodic jobs until `stop_event` is set. A job being run is finished first."""
    jobs = periodic_jobs() if jobs is None else jobs
    sleep = min([MAX_SLEEP_SECONDS, *(job.interval_seconds for job in jobs)])
    logger.info(
        "scheduler started: %s",
        ", ".join(f"{job.name} every {job.interval_seconds:g}s" for job in jobs),
    )
    while not stop_event.is_set():
        close_old_connections()  # drop a connection the database closed while we slept
        scheduler_tick(jobs, stop_event=stop_event)
        stop_event.wait(sleep)
    logger.info("scheduler stopped")


def scheduler_main() -> None:
    """The `imprint scheduler` process: run until SIGTERM or SIGINT."""
    stop_event = threading.Event()

    def stop(signum: int, frame: FrameType | None) -> None:
        logger.info("received %s: stopping after the current job", signal.strsignal(signum))
        stop_event.set()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    scheduler_run(stop_event)
