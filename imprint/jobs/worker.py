"""Run background work: the queues whose rows are their own jobs (webhook deliveries, emails),
then django-tasks-db's jobs, as a process or in-process until nothing is left."""

from __future__ import annotations

import logging
import os
import secrets
import socket
import time

from django.conf import settings
from django.db import OperationalError, close_old_connections
from django_tasks_db.compat import DEFAULT_TASK_BACKEND_ALIAS
from django_tasks_db.management.commands.db_worker import Worker
from django_tasks_db.models import DBTaskResult
from django_tasks_db.utils import exclusive_transaction, is_locked_database_exception

logger = logging.getLogger(__name__)


def worker_id_new() -> str:
    """Unique across every machine and process (django-tasks-db allows 64 characters)."""
    return f"{socket.gethostname()[:40]}-{os.getpid()}-{secrets.token_hex(4)}"


def queues_drain_once() -> int:
    """One batch from each row queue: webhook deliveries first (they queue emails), then emails.
    Returns how many rows were claimed."""
    from imprint.emails.services import emails_send_ready
    from imprint.shopify.webhooks import webhooks_process_ready

    return webhooks_process_ready() + emails_send_ready()


class ImprintWorker(Worker):
    """django-tasks-db's worker with Imprint's row queues drained before each job.

    Its signal handling is the library's: SIGTERM or SIGINT lets the current batch or job finish
    (an idle worker leaves at once); a second signal abandons it, and its claims run out with
    their lease.
    """

    def _queues_run(self) -> int:
        self.running_task = True
        try:
            return queues_drain_once()
        except Exception:
            # The database gone or locked, most likely: the worker stays up and tries again
            # after its pause. Rows claimed before the error come back after their lease.
            logger.exception("worker %s: claiming or processing a batch failed", self.worker_id)
            close_old_connections()
            return 0
        finally:
            self.running_task = False

    def _job_run_one(self) -> bool:
        jobs = DBTaskResult.objects.ready().filter(backend_name=self.backend_name)
        if not jobs.exists():  # a plain read: no write lock taken just to find nothing
            return False
        with exclusive_transaction(jobs.db):
            try:
                job = jobs.get_locked()
                if job is not None:
                    job.claim(self.worker_id)
            except OperationalError as error:
                if not is_locked_database_exception(error):
                    raise
                job = None  # SQLite is busy: try again on the next round
        if job is None:
            return False
        self.run_task(job)
        return True

    def run(self) -> None:
        while self.running:
            close_old_connections()
            claimed = self._queues_run()
            ran = self.running and self._job_run_one()
            if self.running and not claimed and not ran:
                time.sleep(self.interval)


def _worker() -> ImprintWorker:
    return ImprintWorker(
        queue_names=["*"],
        interval=settings.WORKER_POLL_SECONDS,
        batch=False,
        backend_name=DEFAULT_TASK_BACKEND_ALIAS,
        startup_delay=False,
        max_tasks=None,
        worker_id=worker_id_new(),
        excluded_queue_names=[],
    )


def worker_run() -> None:
    """The `imprint worker` process: work as it becomes ready until SIGTERM or SIGINT."""
    worker = _worker()
    worker.configure_signals()
    logger.info("worker %s started: polling every %gs", worker.worker_id, worker.interval)
    try:
        worker.run()
    finally:  # an idle worker leaves through sys.exit from its signal handler
        logger.info("worker %s stopped", worker.worker_id)


def jobs_run_pending(max_jobs: int = 1000) -> int:
    """Run ready work in this process until none is left (or about `max_jobs` ran); returns how
    many deliveries, emails and jobs ran.

    Claims and runs exactly as the worker process does, but without its connection recycling
    (`close_old_connections` would close a test's connection inside its transaction) and without
    sleeping. Work that queues work that is ready at once gets it run too.
    """
    worker = _worker()
    ran = 0
    while ran < max_jobs:
        done = queues_drain_once() + worker._job_run_one()
        if not done:
            break
        ran += done
    return ran


def job_run_one() -> bool:
    """Claim and run one ready django-tasks job in this process, leaving the row queues alone;
    False when no job is ready."""
    return _worker()._job_run_one()
