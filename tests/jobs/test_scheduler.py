from __future__ import annotations

import datetime as dt
import threading

import pytest
from django.db import connection

from imprint.jobs.models import PeriodicJob
from imprint.jobs.reaper import jobs_reap
from imprint.jobs.scheduler import (
    Periodic,
    periodic_claim,
    periodic_jobs,
    scheduler_run,
    scheduler_tick,
)

NOW = dt.datetime(2026, 11, 2, 12, 0, tzinfo=dt.UTC)


def _at(seconds: float) -> dt.datetime:
    return NOW + dt.timedelta(seconds=seconds)


def _row(name: str) -> tuple[dt.datetime, dt.datetime | None]:
    job = PeriodicJob.objects.get(name=name)
    return job.next_run_at, job.last_run_at


@pytest.mark.django_db
def test_a_new_periodic_job_is_due_at_once() -> None:
    assert periodic_claim(name="sync", interval_seconds=30, now=NOW) is True

    assert _row("sync") == (_at(30), NOW)


@pytest.mark.django_db
def test_two_schedulers_at_the_same_instant_fire_a_job_once() -> None:
    assert periodic_claim(name="sync", interval_seconds=30, now=NOW) is True
    assert periodic_claim(name="sync", interval_seconds=30, now=NOW) is False

    assert _row("sync") == (_at(30), NOW)
    assert PeriodicJob.objects.count() == 1


@pytest.mark.django_db
def test_a_job_fires_again_once_its_interval_has_passed() -> None:
    assert periodic_claim(name="sync", interval_seconds=30, now=NOW) is True

    assert periodic_claim(name="sync", interval_seconds=30, now=_at(29.999)) is False
    assert periodic_claim(name="sync", interval_seconds=30, now=_at(30)) is True
    assert periodic_claim(name="sync", interval_seconds=30, now=_at(30)) is False

    assert _row("sync") == (_at(60), _at(30))


@pytest.mark.django_db
def test_jobs_are_claimed_independently() -> None:
    assert periodic_claim(name="a", interval_seconds=30, now=NOW) is True
    assert periodic_claim(name="b", interval_seconds=60, now=NOW) is True

    assert periodic_claim(name="a", interval_seconds=30, now=_at(30)) is True
    assert periodic_claim(name="b", interval_seconds=60, now=_at(30)) is False

    assert _row("a") == (_at(60), _at(30))
    assert _row("b") == (_at(60), NOW)


def test_concurrent_schedulers_fire_each_interval_exactly_once(transactional_db) -> None:
    """Several schedulers (threads with their own connections) claim at the same instant."""
    schedulers = 4
    rounds = 5
    barrier = threading.Barrier(schedulers, timeout=30)
    wins: list[list[bool]] = [[] for _ in range(schedulers)]
    errors: list[BaseException] = []

    def scheduler(index: int) -> None:
        try:
            for round_ in range(rounds):
                barrier.wait()
                wins[index].append(
                    periodic_claim(name="sync", interval_seconds=30, now=_at(30 * round_))
                )
        except BaseException as exc:
            errors.append(exc)
            barrier.abort()
        finally:
            connection.close()

    threads = [threading.Thread(target=scheduler, args=(i,)) for i in range(schedulers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)

    assert errors == []
    assert [sum(won[round_] for won in wins) for round_ in range(rounds)] == [1] * rounds
    assert _row("sync") == (_at(30 * rounds), _at(30 * (rounds - 1)))


@pytest.mark.django_db
def test_tick_runs_due_jobs_and_skips_the_rest() -> None:
    ran: list[str] = []
    jobs = [
        Periodic(name="a", interval_seconds=3600, run=lambda: ran.append("a")),
        Periodic(name="b", interval_seconds=3600, run=lambda: ran.append("b")),
    ]
    assert scheduler_tick(jobs) == ["a", "b"]
    assert scheduler_tick(jobs) == []

    assert ran == ["a", "b"]


@pytest.mark.django_db
def test_a_failing_job_does_not_stop_the_others(caplog) -> None:
    ran: list[str] = []

    def broken() -> None:
        raise RuntimeError("boom")

    jobs = [
        Periodic(name="broken", interval_seconds=3600, run=broken),
        Periodic(name="ok", interval_seconds=3600, run=lambda: ran.append("ok")),
    ]

    assert scheduler_tick(jobs) == ["broken", "ok"]

    assert ran == ["ok"]
    assert "periodic job broken failed" in caplog.text


def test_a_stop_finishes_the_current_job_and_runs_no_other(transactional_db) -> None:
    # transactional: the loop recycles connections between ticks, as a long-lived process must.
    stop = threading.Event()
    ran: list[str] = []

    def first() -> None:
        stop.set()  # as a SIGTERM arriving while this job runs
        ran.append("first")

    jobs = [
        Periodic(name="first", interval_seconds=0.01, run=first),
        Periodic(name="second", interval_seconds=0.01, run=lambda: ran.append("second")),
    ]
    scheduler_run(stop, jobs=jobs)  # returns: no sleep past the stop

    assert ran == ["first"]
    assert list(PeriodicJob.objects.values_list("name", flat=True)) == ["first"]


def test_the_reaper_is_scheduled_a_few_times_per_lease(settings) -> None:
    settings.JOB_LEASE_SECONDS = 300.0
    [reaper] = [job for job in periodic_jobs() if job.name == "jobs.reap"]
    assert (reaper.interval_seconds, reaper.run) == (30.0, jobs_reap)

    settings.JOB_LEASE_SECONDS = 2.0
    [reaper] = [job for job in periodic_jobs() if job.name == "jobs.reap"]
    assert reaper.interval_seconds == 0.5
