"""A throwaway PostgreSQL database at 127.0.0.1:5432 for one bench run."""

from __future__ import annotations

import contextlib
import os
import subprocess
from collections.abc import Iterator


def _psql(sql: str, *, check: bool) -> None:
    subprocess.run(
        ["psql", "-h", "127.0.0.1", "-U", "postgres", "-c", sql],
        check=check,
        stdout=subprocess.DEVNULL,
    )


@contextlib.contextmanager
def postgres_database(enabled: bool) -> Iterator[str]:
    """Yields IMPRINT_DATABASE_URL for a new database (dropped afterwards), or "" when not
    `enabled` (SQLite in the data directory)."""
    if not enabled:
        yield ""
        return
    name = f"imprint_bench_{os.getpid()}"
    _psql(f"CREATE DATABASE {name}", check=True)
    try:
        yield f"postgres://postgres@127.0.0.1:5432/{name}"
    finally:
        _psql(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)", check=False)
