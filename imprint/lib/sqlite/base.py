"""Django's SQLite backend, with a finer wait for the write lock at the start of a transaction.

SQLite's own busy handler sleeps 1, 2, 5, 10 ... up to 100 ms between tries, so under contention
a writer can sleep far longer than the lock is held: at 100 webhooks a second beside a busy
worker, intake's p99 went to hundreds of milliseconds. Transactions here begin IMMEDIATE (or
EXCLUSIVE), so the lock is taken at BEGIN, before anything is done: retrying the BEGIN every millisecond or so
is safe and keeps the wait close to the time the lock is actually held. Statements outside a
transaction keep SQLite's own busy timeout.
"""

from __future__ import annotations

import time

from django.db import OperationalError
from django.db.backends.sqlite3 import base

_FIRST_WAIT_SECONDS = 0.0005
_LONGEST_WAIT_SECONDS = 0.004


class DatabaseWrapper(base.DatabaseWrapper):
    def _start_transaction_under_autocommit(self) -> None:
        # EXCLUSIVE is what django-tasks-db's job claim asks for; in WAL mode it locks like IMMEDIATE.
        mode = getattr(self, "transaction_mode", None)  # set by Django 5.1+, unknown to the stubs
        if mode not in ("IMMEDIATE", "EXCLUSIVE"):
            super()._start_transaction_under_autocommit()  # type: ignore[misc]
            return
        timeout = float(self.settings_dict["OPTIONS"].get("timeout", 5))
        deadline = time.monotonic() + timeout
        wait = _FIRST_WAIT_SECONDS
        raw = self.connection
        raw.execute("PRAGMA busy_timeout = 0")
        try:
            while True:
                try:
                    self.cursor().execute(f"BEGIN {mode}")
                    return
                except OperationalError as error:
                    if "locked" not in str(error) or time.monotonic() + wait > deadline:
                        raise
                time.sleep(wait)
                wait = min(wait * 2, _LONGEST_WAIT_SECONDS)
        finally:
            raw.execute(f"PRAGMA busy_timeout = {int(timeout * 1000)}")
