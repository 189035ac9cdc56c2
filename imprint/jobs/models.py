from __future__ import annotations

from django.db import models


class PeriodicJob(models.Model):
    """When a periodic job is next due. Schedulers claim a run with a conditional update,
    so several schedulers fire each job once per interval."""

    name = models.CharField(max_length=100, unique=True)
    next_run_at = models.DateTimeField()
    last_run_at = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return self.name
