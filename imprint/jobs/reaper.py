"""Put jobs that a killed worker left running back on the queue."""

from __future__ import annotations

import datetime as dt
import logging

from django.conf import settings
from django.utils import timezone
from django_tasks_db.compat import TaskResultStatus
from django_tasks_db.models import DBTaskResult

logger = logging.getLogger(__name__)


def jobs_reap(*, now: dt.datetime | None = None) -> int:
    """Set RUNNING jobs whose lease has run out back to READY; returns how many.

    A worker that is SIGKILLed (or loses its machine) never marks its job finished, so the row
    stays RUNNING forever. Past the lease the job is presumed lost and runs again: jobs are
    written to be safe to run twice. The update is conditional on the row still being RUNNING
    with the same start, so a job that finishes meanwhile, or that another reaper already put
    back, is left alone.
    """
    now = now or timezone.now()
    cutoff = now - dt.timedelta(seconds=settings.JOB_LEASE_SECONDS)
    count = DBTaskResult.objects.filter(
        status=TaskResultStatus.RUNNING, started_at__lt=cutoff
    ).update(status=TaskResultStatus.READY)
    if count:
        logger.warning(
            "re-queued %d job(s) left running past the %ss lease", count, settings.JOB_LEASE_SECONDS
        )
    return count
