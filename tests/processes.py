"""Start Imprint's own processes (worker, scheduler, web, serve) from a test, against the test's
database, and wait for them with a bound.

    def test_x(transactional_db, processes):
        worker = processes.start("worker", env=child_env(IMPRINT_JOB_LEASE_SECONDS="2"))
        wait_until(lambda: ..., timeout=30, what="the job to run")
        worker.kill()

Children see the test's data only once it is committed: use `transactional_db`, not `db`.
Every process a test started is killed when the test ends, whatever happened.
"""

from __future__ import annotations

import http.client
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TypeVar
from urllib.parse import quote

import pytest
from django.conf import settings
from django.db import connection

T = TypeVar("T")
ROOT = Path(__file__).resolve().parent.parent
POLL_SECONDS = 0.05


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def child_database_url() -> str:
    """IMPRINT_DATABASE_URL for the database this test runs on (the test database, not the
    configured one: pytest-django has renamed it by now)."""
    db = connection.settings_dict
    if connection.vendor == "sqlite":
        return f"sqlite:///{db['NAME']}"
    if connection.vendor == "postgresql":
        user = quote(db["USER"] or "", safe="")
        password = f":{quote(db['PASSWORD'], safe='')}" if db["PASSWORD"] else ""
        port = f":{db['PORT']}" if db["PORT"] else ""
        return f"postgres://{user}{password}@{db['HOST'] or '127.0.0.1'}{port}/{db['NAME']}"
    raise NotImplementedError(f"no URL for a {connection.vendor} test database")


def child_env(**overrides: str) -> dict[str, str]:
    """The environment of a child process: this test's database, data directory, secret key,
    storage and public URL, then `overrides`."""
    storage = settings.STORAGES["default"].get("OPTIONS", {}).get("location", settings.STORAGE_DIR)
    env = {
        **os.environ,
        "IMPRINT_DATABASE_URL": child_database_url(),
        "IMPRINT_DATA_DIR": str(settings.DATA_DIR),
        "IMPRINT_SECRET_KEY": settings.SECRET_KEY,
        "IMPRINT_STORAGE_URL": f"file://{Path(storage).resolve()}",
        "IMPRINT_PUBLIC_URL": settings.PUBLIC_URL,
        "PYTHONUNBUFFERED": "1",
    }
    env.pop("DJANGO_SETTINGS_MODULE", None)
    env.update(overrides)
    return env


def healthy(port: int) -> bool:
    """Whether an Imprint web server on `port` answers /healthz with 200 (False while it starts)."""
    try:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
        conn.request("GET", "/healthz")
        return conn.getresponse().status == 200
    except OSError:
        return False


def wait_until(
    condition: Callable[[], T], *, timeout: float, what: str, interval: float = POLL_SECONDS
) -> T:
    """Poll `condition` until it returns something truthy (returned), at most `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        result = condition()
        if result:
            return result
        if time.monotonic() > deadline:
            raise TimeoutError(f"gave up after {timeout} s waiting for {what}")
        time.sleep(interval)


def children_of(pid: int) -> dict[int, str]:
    """The live child processes of `pid` and their command lines (Linux /proc)."""
    found = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            # The command name in stat is in parentheses and may hold spaces: split after it.
            fields = (entry / "stat").read_text().rpartition(")")[2].split()
            cmdline = (
                (entry / "cmdline")
                .read_bytes()
                .replace(b"\0", b" ")
                .decode(errors="replace")
                .strip()
            )
        except OSError:
            continue  # exited meanwhile
        state, ppid = fields[0], int(fields[1])
        if ppid == pid and state != "Z":
            found[int(entry.name)] = cmdline
    return found


class Child:
    """One running process, its output kept in a file (a pipe nobody reads would fill and block)."""

    def __init__(self, args: list[str], *, env: dict[str, str], log: Path) -> None:
        self.args = args
        self.log = log
        with log.open("wb") as out:
            self.popen = subprocess.Popen(
                args,
                cwd=ROOT,
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
            )

    @property
    def pid(self) -> int:
        return self.popen.pid

    def alive(self) -> bool:
        return self.popen.poll() is None

    def output(self) -> str:
        return self.log.read_text(errors="replace")

    def kill(self) -> None:
        """SIGKILL: the process gets no chance to clean up, as in a crash or an OOM kill."""
        self.popen.kill()
        self.popen.wait(timeout=10)

    def stop(self, *, timeout: float = 30.0, signum: int = signal.SIGTERM) -> int:
        """Ask the process to stop and wait (bounded) for its exit code."""
        if self.alive():
            self.popen.send_signal(signum)
        try:
            return self.popen.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.popen.kill()
            self.popen.wait(timeout=10)
            raise AssertionError(
                f"{self} did not stop within {timeout} s:\n{self.output()}"
            ) from None

    def __str__(self) -> str:
        return " ".join(self.args[2:] if self.args[:2] == [sys.executable, "-m"] else self.args)


class Processes:
    """The processes of one test."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.children: list[Child] = []

    def start(self, *command: str, env: dict[str, str]) -> Child:
        """`python -m imprint.cli COMMAND...` with `env` (see child_env)."""
        return self.run_args([sys.executable, "-m", "imprint.cli", *command], env=env)

    def run_args(self, args: list[str], *, env: dict[str, str]) -> Child:
        log = self.directory / f"process-{len(self.children)}-{Path(args[0]).name}.log"
        child = Child(args, env=env, log=log)
        self.children.append(child)
        return child

    def close(self) -> None:
        for child in self.children:
            if child.alive():
                child.kill()

    def outputs(self) -> str:
        """Everything the processes printed, for an assertion message."""
        return "\n".join(
            f"--- {child} (exit {child.popen.returncode})\n{child.output()}"
            for child in self.children
        )


@pytest.fixture
def processes(tmp_path: Path) -> Iterator[Processes]:
    group = Processes(tmp_path)
    try:
        yield group
    finally:
        group.close()
