"""The whole pipeline over real sockets: `imprint serve`, a real SMTP server, a signed webhook
posted over HTTP, the email received and parsed, its link followed, the file downloaded whole and
resumed, the bytes compared with what was uploaded."""

from __future__ import annotations

import http.client
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from tests.processes import ROOT, Processes, child_env, free_port, wait_until
from tests.shopify.helpers import SECRET, paid_order, webhook_headers
from tests.smtp import SMTPServer

pytestmark = pytest.mark.slow

SHOP = "e2e-store.myshopify.com"


def _cli(env: dict[str, str], *args: str) -> str:
    done = subprocess.run(
        [sys.executable, "-m", "imprint.cli", *args],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout


def _request(
    port: int,
    method: str,
    path: str,
    *,
    body: bytes | None = None,
    headers: dict[str, str] | None = None,
):  # type: ignore[no-untyped-def]
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    conn.request(method, path, body=body, headers=headers or {})
    response = conn.getresponse()
    return response, response.read()


def _healthy(port: int) -> bool:
    try:
        return _request(port, "GET", "/healthz")[0].status == 200
    except OSError:
        return False


def test_paid_order_webhook_to_email_to_resumed_download(
    transactional_db, processes: Processes, smtp_server: SMTPServer, tmp_path: Path
) -> None:
    port = free_port()
    content = os.urandom(3 * 1024 * 1024 + 123)  # a few MB of incompressible bytes
    upload = tmp_path / "Field Guide.pdf"
    upload.write_bytes(content)
    env = child_env(
        IMPRINT_DATA_DIR=str(tmp_path / "data"),
        IMPRINT_STORAGE_URL=f"file://{tmp_path / 'files'}",
        IMPRINT_PUBLIC_URL=f"http://127.0.0.1:{port}",
        IMPRINT_EMAIL_URL=f"smtp://127.0.0.1:{smtp_server.port}",
        IMPRINT_FROM_EMAIL="downloads@imprint.test",
        IMPRINT_WORKER_POLL_SECONDS="0.05",
        SHOPIFY_API_SECRET=SECRET,
    )
    order = paid_order()
    product_id = order["line_items"][0]["product_id"]
    _cli(
        env,
        "shop",
        "add",
        SHOP,
        "--token",
        "shpat_e2e",
        "--name",
        "Field Notes",
        "--email",
        "help@fieldnotes.test",
    )
    _cli(
        env,
        "files",
        "add",
        str(upload),
        "--shop",
        SHOP,
        "--product",
        f"gid://shopify/Product/{product_id}",
    )

    serve = processes.start("serve", "--port", str(port), env=env)
    wait_until(
        lambda: _healthy(port) or not serve.alive(), timeout=60, what="imprint serve to answer"
    )
    assert serve.alive(), processes.outputs()

    body = json.dumps(order).encode()
    response, _ = _request(
        port,
        "POST",
        "/webhooks/shopify",
        body=body,
        headers={
            "Content-Type": "application/json",
            **webhook_headers(topic="orders/paid", shop=SHOP, body=body),
        },
    )
    assert response.status == 200

    [message] = smtp_server.wait_for(1, timeout=30)
    assert message["To"] == "jon@example.com"
    assert "Field Notes" in message["From"]
    assert message["Reply-To"] == "help@fieldnotes.test"
    text = message.get_body(preferencelist=("plain",)).get_content()
    links = sorted(set(re.findall(rf"http://127\.0\.0\.1:{port}/d/[A-Za-z0-9_.-]+", text)))
    # Three lines of the sample order carry the product the file is attached to.
    assert len(links) == 3
    path = links[0].removeprefix(f"http://127.0.0.1:{port}")

    page, html = _request(port, "GET", path)
    assert page.status == 200
    assert b"Field Guide.pdf" in html

    whole, data = _request(port, "GET", f"{path}/file")
    assert whole.status == 200
    assert whole.getheader("Content-Disposition") == 'attachment; filename="Field Guide.pdf"'
    assert data == content

    resume_at = 1_000_000
    part, tail = _request(
        port,
        "GET",
        f"{path}/file",
        headers={"Range": f"bytes={resume_at}-", "If-Range": whole.getheader("ETag")},
    )
    assert part.status == 206
    assert part.getheader("Content-Range") == f"bytes {resume_at}-{len(content) - 1}/{len(content)}"
    assert data[:resume_at] + tail == content
    assert smtp_server.messages == [message]  # still exactly one email
