"""A 2 GiB download through real gunicorn stays in constant memory (invariant 7).

The file is sparse, so it costs no disk; the worker hands it to sendfile, so its bytes never pass
through Python. If the response ever lost `file_to_stream` (or read the file into memory), the
worker's resident memory would grow with the file, and this test would see it.
"""

from __future__ import annotations

import http.client
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from django.db import connection

from imprint.catalog.models import DigitalFile
from imprint.delivery.models import DownloadGrant
from imprint.delivery.services import grant_link_token
from tests.factories import LineItemFactory, OrderFactory, ShopFactory

pytestmark = pytest.mark.slow

GIB = 1024**3
MIB = 1024**2
FILE_BYTES = 2 * GIB
READ_BYTES = 1 * MIB  # the client's buffer, reused: the test process itself stays small
RSS_GROWTH_LIMIT = 50 * MIB  # far below the file, far above allocator noise
# Read system calls the worker may make while sending 2 GiB: ~20 sendfile calls on loopback,
# against 32,768 reads if the bytes went through Python.
SENDFILE_MAX_CALLS = 2048
START_TIMEOUT_SECONDS = 30.0
REPO = Path(__file__).resolve().parents[2]


@dataclass
class Server:
    port: int
    master: subprocess.Popen[bytes]
    log: Path

    def worker_pid(self) -> int:
        deadline = time.monotonic() + START_TIMEOUT_SECONDS
        while time.monotonic() < deadline:
            children = _children(self.master.pid)
            if children:
                return children[0]
            time.sleep(0.05)
        raise AssertionError(f"gunicorn started no worker:\n{self.log.read_text()}")


def _children(pid: int) -> list[int]:
    found: list[int] = []
    for task in Path(f"/proc/{pid}/task").iterdir():
        found += [int(child) for child in (task / "children").read_text().split()]
    return found


def _rss_bytes(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    raise AssertionError(f"no VmRSS for process {pid}")


def _read_syscalls(pid: int) -> int:
    """Read-like system calls so far (sendfile counts as one each)."""
    for line in Path(f"/proc/{pid}/io").read_text().splitlines():
        if line.startswith("syscr:"):
            return int(line.split()[1])
    raise AssertionError(f"no syscr for process {pid}")


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _database_url() -> str:
    config = connection.settings_dict
    if connection.vendor == "sqlite":
        return f"sqlite:///{config['NAME']}"
    password = f":{config['PASSWORD']}" if config.get("PASSWORD") else ""
    host = config.get("HOST") or "127.0.0.1"
    port = config.get("PORT") or 5432
    return f"postgres://{config['USER']}{password}@{host}:{port}/{config['NAME']}"


def _get(
    port: int, path: str, headers: dict[str, str] | None = None
) -> tuple[int, dict[str, str], bytes]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        conn.request("GET", path, headers=headers or {})
        response = conn.getresponse()
        return response.status, dict(response.getheaders()), response.read()
    finally:
        conn.close()


def _wait_until_healthy(server: Server) -> None:
    deadline = time.monotonic() + START_TIMEOUT_SECONDS
    while time.monotonic() < deadline:
        if server.master.poll() is not None:
            raise AssertionError(f"gunicorn exited early:\n{server.log.read_text()}")
        try:
            if _get(server.port, "/healthz")[0] == 200:
                return
        except OSError:
            pass
        time.sleep(0.1)
    raise AssertionError(f"gunicorn did not answer /healthz in time:\n{server.log.read_text()}")


@pytest.fixture
def storage_dir(tmp_path: Path) -> Path:
    path = tmp_path / "storage"
    path.mkdir()
    return path


@pytest.fixture
def server(transactional_db: None, settings, tmp_path: Path, storage_dir: Path) -> Iterator[Server]:  # type: ignore[no-untyped-def]
    port = _free_port()
    log = tmp_path / "gunicorn.log"
    env = {
        **os.environ,
        "IMPRINT_DATA_DIR": str(tmp_path / "data"),
        "IMPRINT_DATABASE_URL": _database_url(),
        "IMPRINT_STORAGE_URL": f"file://{storage_dir}",
        # The links are signed by this process: the server must check them with the same key.
        "IMPRINT_SECRET_KEY": settings.SECRET_KEY,
        "IMPRINT_SECRET_KEY_FALLBACKS": "",
    }
    command = [
        sys.executable,
        "-m",
        "gunicorn",
        "imprint.wsgi",
        "-k",
        "gthread",
        "--threads",
        "4",
        "-w",
        "1",
        "-b",
        f"127.0.0.1:{port}",
    ]
    with log.open("wb") as output:
        master = subprocess.Popen(
            command, cwd=REPO, env=env, stdout=output, stderr=subprocess.STDOUT
        )
    running = Server(port=port, master=master, log=log)
    try:
        _wait_until_healthy(running)
        yield running
    finally:
        master.terminate()
        try:
            master.wait(timeout=15)
        except subprocess.TimeoutExpired:
            master.kill()
            master.wait(timeout=15)


def _sparse_grant(storage_dir: Path) -> DownloadGrant:
    (storage_dir / "big").mkdir()
    with (storage_dir / "big" / "big.bin").open("wb") as handle:
        handle.truncate(FILE_BYTES)  # a hole: 2 GiB long, no disk blocks
    shop = ShopFactory()
    file = DigitalFile.objects.create(
        shop=shop,
        name="big.bin",
        storage_name="big/big.bin",
        size=FILE_BYTES,
        content_type="application/octet-stream",
        sha256="",
    )
    order = OrderFactory(shop=shop)
    line = LineItemFactory(order=order)
    return DownloadGrant.objects.create(
        shop=shop, order=order, line_item=line, file=file, filename="big.bin", file_size=FILE_BYTES
    )


def _download(
    port: int, path: str, headers: dict[str, str], *, worker: int
) -> tuple[int, dict[str, str], int, int]:
    """Status, headers, bytes received and the worker's peak RSS seen while sending."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    buffer = bytearray(READ_BYTES)
    view = memoryview(buffer)
    received = 0
    peak = _rss_bytes(worker)
    try:
        conn.request("GET", path, headers=headers)
        response = conn.getresponse()
        while count := response.readinto(view):
            received += count
            if received % (64 * MIB) < READ_BYTES:
                peak = max(peak, _rss_bytes(worker))
        peak = max(peak, _rss_bytes(worker))
        return response.status, dict(response.getheaders()), received, peak
    finally:
        conn.close()


def test_a_2_gib_file_is_served_in_constant_memory_through_gunicorn(
    server: Server, storage_dir: Path
) -> None:
    grant = _sparse_grant(storage_dir)
    path = f"/d/{grant_link_token(grant)}/file"
    worker = server.worker_pid()
    # Warm up: the first download imports and compiles what every later one reuses.
    assert _get(server.port, f"/d/{grant_link_token(grant)}")[0] == 200
    status, _, body = _get(server.port, path, {"Range": "bytes=0-0"})
    assert (status, body) == (206, b"\0")
    baseline = _rss_bytes(worker)
    reads_before = _read_syscalls(worker)

    status, headers, received, peak = _download(server.port, path, {}, worker=worker)

    assert status == 200
    assert headers["Content-Length"] == str(FILE_BYTES)
    assert received == FILE_BYTES
    assert peak - baseline < RSS_GROWTH_LIMIT, f"worker grew {(peak - baseline) / MIB:.1f} MiB"
    # sendfile moves the whole file in a handful of calls; reading it through Python would take
    # one read() per block (32,768 of 64 KiB for 2 GiB).
    assert _read_syscalls(worker) - reads_before < SENDFILE_MAX_CALLS
    reads_before = _read_syscalls(worker)

    status, headers, received, peak = _download(
        server.port, path, {"Range": f"bytes={GIB}-"}, worker=worker
    )

    assert status == 206
    assert headers["Content-Range"] == f"bytes {GIB}-{FILE_BYTES - 1}/{FILE_BYTES}"
    assert headers["Content-Length"] == str(GIB)
    assert received == GIB
    assert peak - baseline < RSS_GROWTH_LIMIT, f"worker grew {(peak - baseline) / MIB:.1f} MiB"
    assert _read_syscalls(worker) - reads_before < SENDFILE_MAX_CALLS
    grant.refresh_from_db()
    assert grant.bytes_used == 1 + FILE_BYTES + GIB
