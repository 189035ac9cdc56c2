from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone
from django_tasks_db.compat import TaskResultStatus
from django_tasks_db.models import DBTaskResult

from imprint.jobs.worker import jobs_run_pending, worker_id_new
from tests.jobs.tasks import broken_task, chain_task, echo_task

pytestmark = pytest.mark.django_db


def _statuses() -> list[tuple[str, str, object]]:
    return sorted(
        (row.task_path.rsplit(".", 1)[1], row.status, row.return_value)
        for row in DBTaskResult.objects.all()
    )


def test_run_pending_runs_every_ready_job_and_counts_them() -> None:
    echo_task.enqueue(1)
    echo_task.enqueue(2)

    assert jobs_run_pending() == 2

    assert _statuses() == [("echo_task", "SUCCESSFUL", 1), ("echo_task", "SUCCESSFUL", 2)]


def test_run_pending_runs_jobs_enqueued_by_jobs() -> None:
    chain_task.enqueue(10)

    assert jobs_run_pending() == 2

    assert _statuses() == [("chain_task", "SUCCESSFUL", 10), ("echo_task", "SUCCESSFUL", 11)]


def test_run_pending_with_nothing_ready_runs_nothing() -> None:
    later = timezone.now() + dt.timedelta(minutes=5)
    echo_task.using(run_after=later).enqueue(1)

    assert jobs_run_pending() == 0

    assert _statuses() == [("echo_task", "READY", None)]


def test_run_pending_goes_on_after_a_failing_job() -> None:
    broken_task.enqueue()
    echo_task.enqueue(3)

    assert jobs_run_pending() == 2

    assert _statuses() == [("broken_task", "FAILED", None), ("echo_task", "SUCCESSFUL", 3)]
    failed = DBTaskResult.objects.get(status=TaskResultStatus.FAILED)
    assert failed.exception_class_path == "builtins.RuntimeError"


def test_run_pending_stops_at_max_jobs() -> None:
    for value in range(3):
        echo_task.enqueue(value)

    assert jobs_run_pending(max_jobs=2) == 2

    assert DBTaskResult.objects.filter(status=TaskResultStatus.READY).count() == 1
    assert jobs_run_pending() == 1


def test_run_pending_records_who_ran_the_job() -> None:
    echo_task.enqueue(1)

    jobs_run_pending()

    [row] = DBTaskResult.objects.all()
    [worker_id] = row.worker_ids
    assert worker_id.rsplit("-", 2)[1].isdigit()
    assert row.started_at is not None
    assert row.finished_at is not None


def test_worker_ids_are_unique_and_fit_the_column() -> None:
    ids = {worker_id_new() for _ in range(100)}
    assert len(ids) == 100
    assert all(0 < len(worker_id) <= 64 for worker_id in ids)
