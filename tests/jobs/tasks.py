"""Small jobs for the tests of the job machinery (tasks must live at an importable path)."""

from __future__ import annotations

from django_tasks import task


@task()
def echo_task(value: int) -> int:
    return value


@task()
def chain_task(value: int) -> int:
    """Enqueues the next job, ready at once."""
    echo_task.enqueue(value + 1)
    return value


@task()
def broken_task() -> None:
    raise RuntimeError("this job always fails")
