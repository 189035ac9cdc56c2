"""`imprint demo` end to end: the devstore and Imprint started together, an order placed through
the devstore, its email read in Imprint's local mailbox, and the file downloaded from its link."""

from __future__ import annotations

import json
import re
import signal
import urllib.request

import pytest

from imprint.demo import demo_file_content
from imprint.emails.models import MailboxMessage
from tests.processes import Processes, child_env, free_port, wait_until

pytestmark = pytest.mark.slow

DEMO_DOMAIN = "demo.myshopify.com"


def _get(url: str) -> tuple[int, bytes]:
    with urllib.request.urlopen(url, timeout=10) as response:  # noqa: S310 (http, ours)
        return response.status, response.read()


def _post_json(url: str, data: dict) -> dict:
    request = urllib.request.Request(  # noqa: S310 (http, ours)
        url,
        data=json.dumps(data).encode(),
        headers={"Content-Type": "application/json"},
        method="POST",
    )
    with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310 (http, ours)
        return json.loads(response.read())


def test_demo_order_arrives_in_the_mailbox_and_its_file_downloads(
    transactional_db, processes: Processes, tmp_path
) -> None:
    port, devstore_port = free_port(), free_port()
    demo = processes.start(
        "demo",
        "--port",
        str(port),
        "--devstore-port",
        str(devstore_port),
        env=child_env(IMPRINT_DATA_DIR=str(tmp_path)),
    )
    wait_until(
        lambda: "the demo is running" in demo.output() or not demo.alive(),
        timeout=90,
        what="imprint demo to start",
    )
    assert demo.alive(), processes.outputs()
    devstore = f"http://127.0.0.1:{devstore_port}"
    assert f"{devstore}/?shop={DEMO_DOMAIN}" in demo.output()
    _, body = _get(f"{devstore}/_devstore/products?shop={DEMO_DOMAIN}")
    guide = next(p for p in json.loads(body) if p["title"] == "Snowboard Guide")

    _post_json(
        f"{devstore}/_devstore/orders",
        {"shop": DEMO_DOMAIN, "product": guide["id"], "email": "zoe@example.com", "paid": True},
    )

    message = wait_until(
        lambda: MailboxMessage.objects.filter(recipients="zoe@example.com").first(),
        timeout=60,
        what=f"the delivery email in the local mailbox\n{processes.outputs()}",
    )
    status, page = _get(f"http://127.0.0.1:{port}/dev/mailbox")
    assert status == 200
    assert message.subject.encode() in page or message.subject in page.decode()
    link = re.search(rf"http://127\.0\.0\.1:{port}/d/\S+", message.text)
    assert link is not None, message.text
    status, content = _get(f"{link.group(0)}/file")
    assert (status, content) == (200, demo_file_content("Snowboard Guide.pdf"))

    assert demo.stop(signum=signal.SIGINT, timeout=60) == 0, processes.outputs()
