"""How long a failed job waits before its next attempt."""

from __future__ import annotations

import random

from django.conf import settings

MAX_BACKOFF_SECONDS = 3600.0
JITTER_FRACTION = 0.1  # spreads retries of jobs that failed together (a mail server outage)


def backoff_seconds(attempt: int) -> float:
    """Delay before retrying after failed attempt number `attempt` (1 for the first failure):
    the base doubled per attempt, capped at an hour, plus up to 10% jitter."""
    if attempt < 1:
        raise ValueError(f"attempt counts from 1, not {attempt}")
    # Cap the exponent too: 2 ** 5000 as a float overflows before the cap could apply.
    delay = min(settings.JOB_RETRY_BASE_SECONDS * 2.0 ** min(attempt - 1, 64), MAX_BACKOFF_SECONDS)
    return delay + delay * JITTER_FRACTION * random.random()  # noqa: S311 (jitter, not security)
