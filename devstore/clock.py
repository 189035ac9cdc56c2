"""The devstore's time, injectable so that tests of throttling and the 60-day window run fast."""

from __future__ import annotations

import threading
import time


class Clock:
    """Real time: wall-clock seconds since the epoch, and a real sleep."""

    def now(self) -> float:
        return time.time()

    def sleep(self, seconds: float) -> None:
        if seconds > 0:
            time.sleep(seconds)


class FakeClock(Clock):
    """Time that only moves when told to: `sleep(s)` and `advance(s)` move it at once.

    Shared between the devstore (bucket, timestamps) and the client under test (its waits), so a
    client that waits exactly what the bucket needs sees the bucket refilled, instantly.
    """

    # 2026-12-04T10:00:00Z: a fixed, recent instant, so timestamps in tests are reproducible.
    DEFAULT_START = 1796378400.0

    def __init__(self, start: float = DEFAULT_START) -> None:
        self._now = float(start)
        self._lock = threading.Lock()
        self.slept: list[float] = []  # every sleep asked for, for tests that check the waits

    def now(self) -> float:
        with self._lock:
            return self._now

    def sleep(self, seconds: float) -> None:
        with self._lock:
            self.slept.append(seconds)
            if seconds > 0:
                self._now += seconds

    def advance(self, seconds: float) -> None:
        with self._lock:
            self._now += seconds
