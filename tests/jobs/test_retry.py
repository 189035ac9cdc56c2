from __future__ import annotations

import pytest

from imprint.jobs import retry
from imprint.jobs.retry import backoff_seconds


@pytest.fixture(autouse=True)
def _base(settings) -> None:
    settings.JOB_RETRY_BASE_SECONDS = 30.0


@pytest.mark.parametrize(
    ("attempt", "expected"),
    [(1, 30.0), (2, 60.0), (3, 120.0), (7, 1920.0), (8, 3600.0), (9, 3600.0), (10_000, 3600.0)],
)
def test_backoff_doubles_from_the_base_and_is_capped_at_an_hour(
    monkeypatch, attempt, expected
) -> None:
    monkeypatch.setattr(retry.random, "random", lambda: 0.0)
    assert backoff_seconds(attempt) == expected


def test_backoff_jitter_adds_at_most_ten_percent(monkeypatch) -> None:
    monkeypatch.setattr(retry.random, "random", lambda: 0.5)
    assert backoff_seconds(2) == 63.0
    monkeypatch.setattr(retry.random, "random", lambda: 0.999999)
    assert 65.99 < backoff_seconds(2) < 66.0
    assert 3600.0 < backoff_seconds(20) < 3960.0


def test_backoff_stays_within_its_jitter_bounds() -> None:
    delays = [backoff_seconds(3) for _ in range(200)]
    assert all(120.0 <= delay <= 132.0 for delay in delays)
    assert len(set(delays)) > 1  # jittered, not constant


def test_backoff_follows_the_configured_base(settings, monkeypatch) -> None:
    monkeypatch.setattr(retry.random, "random", lambda: 0.0)
    settings.JOB_RETRY_BASE_SECONDS = 0.5
    assert [backoff_seconds(n) for n in (1, 2, 3)] == [0.5, 1.0, 2.0]


@pytest.mark.parametrize("attempt", [0, -1])
def test_backoff_rejects_attempts_below_one(attempt) -> None:
    with pytest.raises(ValueError, match="attempt counts from 1"):
        backoff_seconds(attempt)
