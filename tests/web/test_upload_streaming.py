"""A large upload through real gunicorn is streamed into storage: the web worker's memory stays
flat whatever the file's size (the Files page accepts 5 GB and more)."""

from __future__ import annotations

import hashlib
import http.client
import time
from pathlib import Path

import pytest
from django.contrib.sessions.backends.db import SessionStore

from imprint.catalog.models import DigitalFile
from imprint.web.auth import SESSION_LABEL_KEY, SESSION_SHOP_KEY
from tests.factories import ShopFactory
from tests.processes import child_env, children_of, free_port, healthy, wait_until

pytestmark = pytest.mark.slow

MIB = 1024**2
UPLOAD_BYTES = 512 * MIB
PEAK_GROWTH_LIMIT = 64 * MIB  # far below the file, far above allocator noise
CSRF = "k" * 32  # the cookie's secret; Django accepts it unmasked in the header


def _peak_rss(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) * 1024
    raise AssertionError(f"no VmHWM for process {pid}")


def test_a_large_upload_streams_in_constant_memory(transactional_db, processes, tmp_path):
    shop = ShopFactory(domain="big.myshopify.com", name="Big", access_token="shpat_big")
    session = SessionStore()
    session[SESSION_SHOP_KEY] = shop.pk
    session[SESSION_LABEL_KEY] = "test"
    session.create()
    port = free_port()
    web = processes.start("web", "--port", str(port), env=child_env(IMPRINT_WEB_WORKERS="1"))
    wait_until(lambda: healthy(port), timeout=30, what="imprint web to answer")
    (worker,) = children_of(web.pid)
    before = _peak_rss(worker)

    source = tmp_path / "big.bin"
    with source.open("wb") as handle:
        handle.truncate(UPLOAD_BYTES)  # sparse: costs no disk to read from
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
    started = time.monotonic()
    with source.open("rb") as body:
        conn.request(
            "PUT",
            "/app/files/upload",
            body=body,
            headers={
                "Content-Length": str(UPLOAD_BYTES),
                "Content-Type": "application/octet-stream",
                "X-File-Name": "course%20video.mp4",
                "X-CSRFToken": CSRF,
                "Cookie": f"sessionid={session.session_key}; csrftoken={CSRF}",
            },
        )
    response = conn.getresponse()
    answer = response.read()
    assert response.status == 200, (answer, processes.outputs())
    elapsed = time.monotonic() - started

    stored = DigitalFile.objects.get()
    assert (stored.name, stored.size, stored.content_type) == (
        "course video.mp4",
        UPLOAD_BYTES,
        "video/mp4",
    )
    zeros = hashlib.sha256()
    chunk = bytes(MIB)
    for _ in range(UPLOAD_BYTES // MIB):
        zeros.update(chunk)
    assert stored.sha256 == zeros.hexdigest()
    growth = _peak_rss(worker) - before
    assert growth < PEAK_GROWTH_LIMIT, (
        f"worker peak memory grew by {growth / MIB:.0f} MiB in {elapsed:.1f} s"
    )
