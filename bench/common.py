"""Shared by the bench scripts: a fresh Imprint data directory, its CLI, Django snippets run in
it, a local SMTP sink, and the memory of a process tree. Loopback only."""

from __future__ import annotations

import json
import os
import platform
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
SECRET = "bench-secret"
SHOP = "bench.myshopify.com"
SAMPLE = ROOT / "tests" / "fixtures" / "shopify" / "orders_paid.json"
PRODUCT_ID = str(json.loads(SAMPLE.read_text())["line_items"][0]["product_id"])


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_ready(port: int, timeout: float = 60) -> None:
    """Poll /healthz until Imprint answers 200, at most `timeout` seconds."""
    import http.client

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
            conn.request("GET", "/healthz")
            if conn.getresponse().status == 200:
                return
        except OSError:
            pass
        time.sleep(0.2)
    raise RuntimeError(f"Imprint did not answer on port {port} within {timeout:g} s")


def machine() -> str:
    memory_kb = int(Path("/proc/meminfo").read_text().split()[1])
    return (
        f"{os.cpu_count()} cores, {memory_kb / 1024 / 1024:.0f} GiB, "
        f"Python {platform.python_version()}, {platform.system()} {platform.release()}"
    )


def quantile(values: list[float], q: int) -> float:
    # "inclusive": the p99 of a small sample stays within it (the default extrapolates past max).
    if len(values) < 2:
        return values[0]
    return statistics.quantiles(sorted(values), n=100, method="inclusive")[q - 1]


def bench_env(data_dir: Path, port: int, **extra: str) -> dict[str, str]:
    return {
        **os.environ,
        "IMPRINT_DATA_DIR": str(data_dir),
        "IMPRINT_PUBLIC_URL": f"http://127.0.0.1:{port}",
        "SHOPIFY_API_SECRET": SECRET,
        "IMPRINT_LOG_LEVEL": "WARNING",
        **extra,
    }


def fresh_data_dir(prefix: str) -> Path:
    return Path(tempfile.mkdtemp(prefix=f"imprint-bench-{prefix}-"))


def imprint(env: dict[str, str], *args: str) -> str:
    return subprocess.run(
        [sys.executable, "-m", "imprint.cli", *args],
        env=env,
        check=True,
        cwd=ROOT,
        capture_output=True,
        text=True,
    ).stdout


def django_run(env: dict[str, str], code: str) -> Any:
    """Run `code` with Django set up in Imprint's data directory; it sets `result` (JSON)."""
    script = (
        "import json, django, os\n"
        "os.environ.setdefault('DJANGO_SETTINGS_MODULE', 'imprint.settings')\n"
        "django.setup()\n" + code + "\nprint('RESULT ' + json.dumps(result))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", script],
        env=env,
        check=True,
        cwd=ROOT,
        capture_output=True,
        text=True,
    ).stdout
    line = next(line for line in out.splitlines() if line.startswith("RESULT "))
    return json.loads(line.removeprefix("RESULT "))


SEED_ORDERS = """
from imprint.orders.services import order_ingest
from imprint.shopify.payloads import order_from_payload
from imprint.shops.models import Shop
from django.db import transaction
import copy
shop = Shop.objects.get(domain=SHOP)
template = json.loads(open(SAMPLE).read())
template.update(financial_status="paid", cancelled_at=None, test=False)
for index in range(FIRST, FIRST + COUNT):
    order = copy.deepcopy(template)
    order.update(id=6_000_000_000 + index, name=f"#{index}", email=f"customer{index}@example.com")
    order_ingest(shop=shop, data=order_from_payload(order), source="bench")
result = COUNT
"""


def seed_orders(env: dict[str, str], *, first: int, count: int) -> None:
    """Paid orders delivered as the webhook would: grants issued and their emails queued."""
    code = (
        SEED_ORDERS.replace("SHOP", repr(SHOP))
        .replace("SAMPLE", repr(str(SAMPLE)))
        .replace("FIRST", str(first))
        .replace("COUNT", str(count))
    )
    django_run(env, code)


def tree_rss_kb(pid: int) -> dict[int, int]:
    """Resident memory (KiB) of `pid` and every process below it."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                ppid = int((entry / "stat").read_text().rpartition(")")[2].split()[1])
            except OSError:
                continue
            children.setdefault(ppid, []).append(int(entry.name))
    found, todo = {}, [pid]
    while todo:
        current = todo.pop()
        try:
            for line in Path(f"/proc/{current}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    found[current] = int(line.split()[1])
        except OSError:
            continue
        todo.extend(children.get(current, []))
    return found


class RssSampler(threading.Thread):
    """Samples the memory of a process tree every 50 ms until stopped; keeps the peak of the
    largest process (a gunicorn worker) and of the tree."""

    def __init__(self, pid: int) -> None:
        super().__init__(daemon=True)
        self.pid = pid
        self.stop_event = threading.Event()
        self.peak_process_kb = 0
        self.peak_tree_kb = 0

    def run(self) -> None:
        while not self.stop_event.is_set():
            rss = tree_rss_kb(self.pid)
            if rss:
                self.peak_process_kb = max(self.peak_process_kb, max(rss.values()))
                self.peak_tree_kb = max(self.peak_tree_kb, sum(rss.values()))
            time.sleep(0.05)

    def stop(self) -> None:
        self.stop_event.set()
        self.join()


class SMTPSink:
    """An aiosmtpd server in this process that accepts everything and notes when each
    message arrived."""

    def __init__(self) -> None:
        from aiosmtpd.controller import Controller

        self.arrivals: list[tuple[float, str]] = []  # (time.time(), RCPT TO)
        self.raw: list[tuple[str, list[str], bytes]] = []
        self.keep_raw = False
        self.lock = threading.Lock()
        sink = self

        class Handler:
            async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
                with sink.lock:
                    sink.arrivals.append((time.time(), envelope.rcpt_tos[0]))
                    if sink.keep_raw:
                        sink.raw.append(
                            (envelope.mail_from, list(envelope.rcpt_tos), envelope.original_content)
                        )
                return "250 OK"

        self.port = free_port()
        self.controller = Controller(Handler(), hostname="127.0.0.1", port=self.port)
        self.controller.start()

    def count(self) -> int:
        with self.lock:
            return len(self.arrivals)

    def stop(self) -> None:
        self.controller.stop()


_SINK_PROCESS = """
import sys, time
from aiosmtpd.controller import Controller

class Handler:
    async def handle_DATA(self, server, session, envelope):
        sys.stdout.write(f"{time.time()} {envelope.rcpt_tos[0]}\\n")
        sys.stdout.flush()
        return "250 OK"

controller = Controller(Handler(), hostname="127.0.0.1", port=int(sys.argv[1]))
controller.start()
print("ready", flush=True)
sys.stdin.read()  # until the bench closes it
controller.stop()
"""


class SMTPSinkProcess:
    """SMTPSink's server in a process of its own, for benches whose own threads are busy: they
    share no interpreter lock with it, so they never delay its answers. Each arrival is stamped
    there and read back from its output."""

    def __init__(self) -> None:
        self.port = free_port()
        self.arrivals: list[tuple[float, str]] = []  # (time.time(), RCPT TO)
        self.lock = threading.Lock()
        self.process = subprocess.Popen(
            [sys.executable, "-c", _SINK_PROCESS, str(self.port)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        assert self.process.stdout is not None
        if self.process.stdout.readline().strip() != "ready":
            raise RuntimeError("the SMTP sink did not start")
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            at, rcpt = line.split(" ", 1)
            with self.lock:
                self.arrivals.append((float(at), rcpt.strip()))

    def count(self) -> int:
        with self.lock:
            return len(self.arrivals)

    def stop(self) -> None:
        assert self.process.stdin is not None
        self.process.stdin.close()
        self.process.wait(timeout=30)
