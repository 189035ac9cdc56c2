"""Run background jobs: django-tasks-db's worker as a process, or in-process until none are left."""

from __future__ import annotations

import logging
import os
import secrets
import socket

from django.conf import settings
from django_tasks_db.compat import DEFAULT_TASK_BACKEND_ALIAS
from django_tasks_db.management.commands.db_worker import Worker
from django_tasks_db.models import DBTaskResult
from django_tasks_db.utils import exclusive_transaction

logger = logging.getLogger(__name__)


def worker_id_new() -> str:
    """Unique across every machine and process (django-tasks-db allows 64 characters)."""
    return f"{socket.gethostname()[:40]}-{os.getpid()}-{secrets.token_hex(4)}"


def _worker(*, batch: bool) -> Worker:
    return Worker(
        queue_names=["*"],
        interval=settings.WORKER_POLL_SECONDS,
        batch=batch,
        backend_name=DEFAULT_TASK_BACKEND_ALIAS,
        startup_delay=False,
        max_tasks=None,
        worker_id=worker_id_new(),
        excluded_queue_names=[],
    )


def worker_run() -> None:
    """The `imprint worker` process: run jobs as they become ready until SIGTERM or SIGINT,
    which let the current job finish (a second signal abandons it; the reaper re-queues it)."""
    worker = _worker(batch=False)
    worker.configure_signals()
    logger.info("worker %s started: polling every %gs", worker.worker_id, worker.interval)
    try:
        worker.run()
    finally:  # an idle worker leaves through sys.exit from its signal handler
        logger.info("worker %s stopped", worker.worker_id)


def jobs_run_pending(max_jobs: int = 1000) -> int:
    """Run ready jobs in this process until none are left (or `max_jobs` ran); returns how many ran.

    Claims and runs exactly as the worker process does, but without its connection recycling
    (`close_old_connections` would close a test's connection inside its transaction) and without
    sleeping. A job that enqueues a job that is ready at once gets it run too.
    """
    worker = _worker(batch=True)
    ran = 0
    while ran < max_jobs:
        ready = DBTaskResult.objects.ready().filter(backend_name=worker.backend_name)
        with exclusive_transaction(ready.db):
            job = ready.get_locked()
            if job is None:
                break
            job.claim(worker.worker_id)
        worker.run_task(job)
        ran += 1
    return ran
