from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone
from django_tasks_db.compat import TaskResultStatus
from django_tasks_db.models import DBTaskResult

from imprint.jobs.reaper import jobs_reap
from imprint.jobs.worker import jobs_run_pending
from tests.jobs.tasks import echo_task

pytestmark = pytest.mark.django_db

NOW = dt.datetime(2026, 11, 2, 12, 0, tzinfo=dt.UTC)


@pytest.fixture(autouse=True)
def _lease(settings) -> None:
    settings.JOB_LEASE_SECONDS = 300.0


def _job(value: int, *, status: str, started_at: dt.datetime | None) -> DBTaskResult:
    """A job as a worker left it: claimed at `started_at` by a worker now gone."""
    row = echo_task.enqueue(value).db_result
    DBTaskResult.objects.filter(pk=row.pk).update(
        status=status, started_at=started_at, worker_ids=["gone-1-a"]
    )
    return row


def _status(row: DBTaskResult) -> str:
    return DBTaskResult.objects.get(pk=row.pk).status


def test_reaper_requeues_a_running_job_past_its_lease() -> None:
    stuck = _job(1, status=TaskResultStatus.RUNNING, started_at=NOW - dt.timedelta(seconds=301))

    assert jobs_reap(now=NOW) == 1

    assert _status(stuck) == TaskResultStatus.READY


def test_reaper_leaves_a_job_running_within_its_lease() -> None:
    fresh = _job(1, status=TaskResultStatus.RUNNING, started_at=NOW - dt.timedelta(seconds=299))
    stuck = _job(2, status=TaskResultStatus.RUNNING, started_at=NOW - dt.timedelta(seconds=600))

    assert jobs_reap(now=NOW) == 1

    assert _status(fresh) == TaskResultStatus.RUNNING
    assert _status(stuck) == TaskResultStatus.READY


def test_reaper_leaves_finished_and_waiting_jobs_alone() -> None:
    old = NOW - dt.timedelta(days=1)
    done = _job(1, status=TaskResultStatus.SUCCESSFUL, started_at=old)
    failed = _job(2, status=TaskResultStatus.FAILED, started_at=old)
    ready = _job(3, status=TaskResultStatus.READY, started_at=None)

    assert jobs_reap(now=NOW) == 0

    assert [_status(done), _status(failed), _status(ready)] == ["SUCCESSFUL", "FAILED", "READY"]


def test_reaper_follows_the_configured_lease(settings) -> None:
    settings.JOB_LEASE_SECONDS = 2.0
    stuck = _job(1, status=TaskResultStatus.RUNNING, started_at=NOW - dt.timedelta(seconds=3))

    assert jobs_reap(now=NOW) == 1

    assert _status(stuck) == TaskResultStatus.READY


def test_a_reaped_job_runs_again() -> None:
    stuck = _job(
        7, status=TaskResultStatus.RUNNING, started_at=timezone.now() - dt.timedelta(hours=1)
    )

    assert jobs_reap() == 1
    assert jobs_run_pending() == 1

    row = DBTaskResult.objects.get(pk=stuck.pk)
    assert (row.status, row.return_value) == ("SUCCESSFUL", 7)
    assert len(row.worker_ids) == 2  # the worker that died, then the one that ran it
    assert jobs_reap() == 0
