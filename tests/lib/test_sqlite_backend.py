"""Imprint's SQLite backend waits for the write lock in fine steps at BEGIN. Tested on its own
SQLite file, so it runs whatever database the suite uses."""

from __future__ import annotations

import sqlite3
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from django.db import OperationalError
from django.db.utils import ConnectionHandler

from imprint.lib.sqlite.base import DatabaseWrapper


@pytest.fixture
def sqlite_file(tmp_path: Path) -> Path:
    path = tmp_path / "lock.sqlite3"
    setup = sqlite3.connect(path, isolation_level=None)
    setup.execute("PRAGMA journal_mode=WAL")
    setup.execute("CREATE TABLE t (x INTEGER)")
    setup.close()
    return path


def _wrapper(path: Path, timeout: float) -> Iterator[DatabaseWrapper]:
    handler = ConnectionHandler(
        {
            "default": {
                "ENGINE": "imprint.lib.sqlite",
                "NAME": str(path),
                "OPTIONS": {"transaction_mode": "IMMEDIATE", "timeout": timeout},
            }
        }
    )
    wrapper = handler["default"]
    wrapper.ensure_connection()
    try:
        yield wrapper
    finally:
        wrapper.close()


@pytest.fixture
def patient(sqlite_file: Path, django_db_blocker) -> Iterator[DatabaseWrapper]:
    with django_db_blocker.unblock():  # our own SQLite file, not the test database
        yield from _wrapper(sqlite_file, timeout=30)


@pytest.fixture
def impatient(sqlite_file: Path, django_db_blocker) -> Iterator[DatabaseWrapper]:
    with django_db_blocker.unblock():
        yield from _wrapper(sqlite_file, timeout=0.1)


def _hold_write_lock(path: Path, seconds: float, held: threading.Event) -> None:
    other = sqlite3.connect(path, isolation_level=None)
    other.execute("BEGIN IMMEDIATE")
    held.set()
    time.sleep(seconds)
    other.execute("ROLLBACK")
    other.close()


def _holder(path: Path, seconds: float) -> threading.Thread:
    held = threading.Event()
    thread = threading.Thread(target=_hold_write_lock, args=(path, seconds, held))
    thread.start()
    assert held.wait(timeout=5)
    return thread


def _busy_timeout(wrapper: DatabaseWrapper) -> int:
    return wrapper.connection.execute("PRAGMA busy_timeout").fetchone()[0]


def test_a_transaction_waits_for_the_write_lock_then_runs(patient, sqlite_file) -> None:
    holder = _holder(sqlite_file, 0.2)
    started = time.monotonic()

    patient._start_transaction_under_autocommit()
    waited = time.monotonic() - started
    patient.cursor().execute("INSERT INTO t VALUES (1)")
    patient.cursor().execute("COMMIT")
    holder.join()

    assert patient.cursor().execute("SELECT count(*) FROM t").fetchone()[0] == 1
    # It waited for the lock, and not much longer than the lock was held.
    assert 0.15 <= waited < 1.0
    assert _busy_timeout(patient) == 30000


def test_a_transaction_gives_up_after_its_timeout(impatient, sqlite_file) -> None:
    holder = _holder(sqlite_file, 0.5)

    with pytest.raises(OperationalError, match="locked"):
        impatient._start_transaction_under_autocommit()
    holder.join()

    assert _busy_timeout(impatient) == 100
    assert impatient.cursor().execute("SELECT count(*) FROM t").fetchone()[0] == 0
