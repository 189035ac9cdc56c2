"""The `imprint` command: run the processes, add shops and files, and reach Django's own commands.

Each subcommand is a thin shell over the same services the UI calls. Arguments are parsed before
Django is set up, so `--help` and usage errors work without a database. Exit codes: 0 done,
1 the operation failed, 2 bad input or configuration.
"""

from __future__ import annotations

import argparse
import contextlib
import ctypes
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import FrameType
from typing import TYPE_CHECKING, Any

from imprint.lib.env import ConfigError, env_bool

if TYPE_CHECKING:
    from imprint.shops.models import Shop

PROG = "imprint"
SHOP_HELP = "the store's domain, NAME.myshopify.com"


class UsageError(Exception):
    """Bad input: the command was given something it cannot take (exit code 2)."""


class CommandFailed(Exception):
    """The input was fine but the operation could not be done (exit code 1)."""


# --- helpers -------------------------------------------------------------------------------------


def _django_setup() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "imprint.settings")
    import django
    from django.apps import apps

    if not apps.ready:  # called in-process (tests), Django is set up already
        django.setup()


def _port(text: str) -> int:
    try:
        port = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a port number") from None
    if not 1 <= port <= 65535:
        raise argparse.ArgumentTypeError(f"{port} is not a port number (1-65535)")
    return port


def _workers(text: str) -> int:
    try:
        count = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of workers") from None
    if not 1 <= count <= 32:
        raise argparse.ArgumentTypeError(f"{count} workers: choose from 1 to 32")
    return count


def _count_or_unlimited(text: str) -> int | None:
    """A whole number, or `unlimited` (None). The range is the service's to check."""
    if text.strip().lower() == "unlimited":
        return None
    try:
        return int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number or 'unlimited'") from None


def _human_size(size: int) -> str:
    value = float(size)
    for unit in ("bytes", "KB", "MB", "GB"):
        if value < 1000 or unit == "GB":
            return f"{size} bytes" if unit == "bytes" else f"{value:.1f} {unit}"
        value /= 1000
    raise AssertionError("unreachable")


def _reachable_host(host: str) -> str:
    """Where a server bound to `host` is reached: a wildcard bind on loopback."""
    return {"0.0.0.0": "127.0.0.1", "::": "::1", "": "127.0.0.1"}.get(host, host)  # noqa: S104


def _url_host(host: str) -> str:
    host = _reachable_host(host)
    return f"[{host}]" if ":" in host else host


def _port_check(host: str, port: int) -> None:
    """Fail at once, with a clear message, when the port is taken (a second `imprint serve`)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError as exc:
            raise CommandFailed(f"cannot listen on {host}:{port}: {exc.strerror or exc}") from None


def _table(rows: list[list[str]]) -> None:
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    for row in rows:
        print(
            "  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip()
        )


# --- serve: the embedded setup, web + worker + scheduler under one supervisor --------------------

RESTART_MAX_DELAY_SECONDS = 30.0
QUICK_EXIT_SECONDS = 10.0  # a child that dies sooner than this counts as failing to start
MAX_QUICK_EXITS = 5  # then serve gives up instead of restarting forever (port in use, bad config)
STOP_GRACE_SECONDS = 40.0  # gunicorn's graceful timeout (30 s) plus a margin
READY_TIMEOUT_SECONDS = 60.0
_PR_SET_PDEATHSIG = 1


def _die_with_parent() -> None:
    """In the child before exec (Linux): get SIGTERM when serve dies, even by SIGKILL, so no
    worker or web process outlives it unsupervised."""
    # Not Linux: serve's own signal handling still stops its children.
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)


@dataclass
class _Child:
    name: str
    args: list[str]
    process: subprocess.Popen[bytes] | None = None
    started_at: float = 0.0
    quick_exits: int = 0
    restart_at: float = 0.0

    def start(self) -> None:
        # Own process group: a Ctrl-C in the terminal reaches serve alone, which stops the
        # children once and gracefully instead of each getting the signal twice.
        self.process = subprocess.Popen(
            [sys.executable, "-m", "imprint.cli", *self.args],
            process_group=0,
            preexec_fn=_die_with_parent,  # safe: serve runs no other threads
        )
        self.started_at = time.monotonic()

    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def signal(self, signum: int) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signum)


@dataclass
class _Supervisor:
    children: list[_Child]
    stop: threading.Event = field(default_factory=threading.Event)
    signals: list[int] = field(default_factory=list)
    exit_code: int = 0

    def on_signal(self, signum: int, frame: FrameType | None) -> None:
        self.signals.append(signum)
        self.stop.set()

    def check(self) -> None:
        """Restart children that died, with a growing delay; give up on one that keeps dying."""
        now = time.monotonic()
        for child in self.children:
            if child.process is None:
                if now >= child.restart_at:
                    child.start()
                continue
            code = child.process.poll()
            if code is None:
                continue
            child.process = None
            child.quick_exits = (
                child.quick_exits + 1 if now - child.started_at < QUICK_EXIT_SECONDS else 1
            )
            how = (
                f"was killed by {signal.Signals(-code).name}"
                if code < 0
                else f"exited with code {code}"
            )
            if child.quick_exits >= MAX_QUICK_EXITS:
                print(
                    f"{PROG}: {child.name} {how}, {child.quick_exits} times in a row right after "
                    "starting; giving up (see its messages above)",
                    file=sys.stderr,
                )
                self.exit_code = 1
                self.stop.set()
                return
            delay = min(2.0 ** (child.quick_exits - 1), RESTART_MAX_DELAY_SECONDS)
            print(f"{PROG}: {child.name} {how}; restarting in {delay:g}s", file=sys.stderr)
            child.restart_at = now + delay

    def shutdown(self) -> None:
        """SIGTERM every child, wait for them to finish their current work, then SIGKILL what
        is left. Another signal meanwhile (a second Ctrl-C) kills at once."""
        seen = len(self.signals)
        for child in self.children:
            child.signal(signal.SIGTERM)
        deadline = time.monotonic() + STOP_GRACE_SECONDS
        while any(child.alive() for child in self.children):
            if time.monotonic() > deadline or len(self.signals) > seen:
                for child in self.children:
                    child.signal(signal.SIGKILL)
            time.sleep(0.1)
        for child in self.children:
            if child.process is not None:
                child.process.wait()

    def wait_for_port(self, host: str, port: int, web: _Child) -> bool:
        deadline = time.monotonic() + READY_TIMEOUT_SECONDS
        connect_host = _reachable_host(host)
        while time.monotonic() < deadline and not self.stop.is_set() and web.alive():
            try:
                with socket.create_connection((connect_host, port), timeout=1):
                    return True
            except OSError:
                self.stop.wait(0.1)
        return False


def _serve(args: argparse.Namespace) -> int:
    from django.conf import settings
    from django.core.management import call_command
    from django.db import connections

    from imprint.lib.urls import MAILBOX_BACKEND

    _port_check(args.host, args.port)
    print(f"{PROG}: applying database migrations…", flush=True)
    call_command("migrate", interactive=False, verbosity=0)
    connections.close_all()  # the children open their own

    web = _Child("web", ["web", "--host", args.host, "--port", str(args.port)])
    workers = [
        _Child("worker" if args.workers == 1 else f"worker {n}", ["worker"])
        for n in range(1, args.workers + 1)
    ]
    supervisor = _Supervisor([web, *workers, _Child("scheduler", ["scheduler"])])
    for signum in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        signal.signal(signum, supervisor.on_signal)
    for child in supervisor.children:
        child.start()
    base = f"http://{_url_host(args.host)}:{args.port}"
    if supervisor.wait_for_port(args.host, args.port, web):
        print(f"{PROG}: listening on {base}/", flush=True)
        if settings.EMAIL_BACKEND == MAILBOX_BACKEND:
            print(f"{PROG}: emails go to the local mailbox at {base}/dev/mailbox", flush=True)
        print(f"{PROG}: press Ctrl-C to stop", flush=True)
    while not supervisor.stop.is_set():
        supervisor.check()
        supervisor.stop.wait(0.2)
    print(f"{PROG}: stopping…", flush=True)
    supervisor.shutdown()
    return supervisor.exit_code


# --- the single processes ------------------------------------------------------------------------


def _web(args: argparse.Namespace) -> int:
    from django.conf import settings
    from gunicorn.app.base import BaseApplication

    bind_host = f"[{args.host}]" if ":" in args.host else args.host
    options: dict[str, Any] = {
        "bind": [f"{bind_host}:{args.port}"],
        "worker_class": "gthread",
        "workers": settings.WEB_WORKERS,
        "threads": settings.WEB_THREADS,
        # Downloads go out through sendfile: zero copy, constant memory, however large the file.
        "sendfile": True,
        # gthread workers are not killed for a slow response the way sync ones are; the timeout
        # is the heartbeat of a stuck worker, so keep it long enough for any download.
        "timeout": 3600,
        "graceful_timeout": 30,
        "keepalive": 5,
        "accesslog": "-" if env_bool("IMPRINT_ACCESS_LOG", False) else None,
        # Paths without query strings or referrers: embedded loads carry a session token in
        # `id_token`, which must not reach a log.
        "access_log_format": '%(h)s %(l)s %(u)s %(t)s "%(m)s %(U)s %(H)s" %(s)s %(b)s "%(a)s"',
        "errorlog": "-",
        "loglevel": settings.LOG_LEVEL.lower(),
        "proc_name": "imprint-web",
        # Several web processes on one machine must not fight over one control socket.
        "control_socket_disable": True,
        # Django decides what to trust from a proxy (IMPRINT_BEHIND_PROXY); gunicorn must not
        # take X-Forwarded-Proto from anyone on its own.
        "forwarded_allow_ips": "",
    }

    class WebServer(BaseApplication):
        def load_config(self) -> None:
            for key, value in options.items():
                self.cfg.set(key, value)

        def load(self) -> Callable[..., Any]:
            from imprint.wsgi import application

            return application

    WebServer().run()
    return 0


def _worker(args: argparse.Namespace) -> int:
    from imprint.jobs.worker import worker_run

    worker_run()
    return 0


def _scheduler(args: argparse.Namespace) -> int:
    from imprint.jobs.scheduler import scheduler_main

    scheduler_main()
    return 0


# --- shops ---------------------------------------------------------------------------------------


def _shop_get(domain: str) -> Shop:
    from imprint.shops.models import Shop
    from imprint.shops.services import ShopInvalid, shop_domain_clean

    try:
        cleaned = shop_domain_clean(domain)
    except ShopInvalid as exc:
        raise UsageError(str(exc)) from None
    shop = Shop.objects.filter(domain=cleaned).first()
    if shop is None:
        raise CommandFailed(
            f"no shop {cleaned}: add it with `{PROG} shop add {cleaned} --token TOKEN`"
        )
    return shop


def _shop_add(args: argparse.Namespace) -> int:
    from imprint.shops.models import Shop
    from imprint.shops.services import ShopInvalid, shop_add, shop_domain_clean

    try:
        existed = Shop.objects.filter(domain=shop_domain_clean(args.domain)).exists()
        shop = shop_add(domain=args.domain, token=args.token, name=args.name, email=args.email)
    except ShopInvalid as exc:
        raise UsageError(str(exc)) from None
    print(f"{'Updated' if existed else 'Added'} {shop.domain} ({shop.name}).")
    print(f"Attach files with: {PROG} files add PATH --shop {shop.domain} --product ID")
    return 0


def _shop_list(args: argparse.Namespace) -> int:
    from imprint.shops.models import Shop

    shops = list(Shop.objects.order_by("domain"))
    if not shops:
        print(f"No shops yet. Add one with: {PROG} shop add DOMAIN --token TOKEN")
        return 0
    rows = [["DOMAIN", "NAME", "STATUS", "EXPIRY", "MAX DOWNLOADS", "FILENAME"]]
    for shop in shops:
        rows.append(
            [
                shop.domain,
                shop.name,
                "installed" if shop.is_installed else "uninstalled",
                f"{shop.download_expiry_days} days" if shop.download_expiry_days else "unlimited",
                str(shop.download_max) if shop.download_max else "unlimited",
                shop.filename_mode,
            ]
        )
    _table(rows)
    return 0


def _shop_settings(args: argparse.Namespace) -> int:
    from imprint.shops.services import UNCHANGED, ShopSettingsInvalid, shop_settings_update

    shop = _shop_get(args.domain)
    try:
        shop = shop_settings_update(
            shop=shop,
            expiry_days=UNCHANGED if args.expiry_days is UNCHANGED_ARG else args.expiry_days,
            max_downloads=UNCHANGED if args.max_downloads is UNCHANGED_ARG else args.max_downloads,
            filename_mode=UNCHANGED if args.filename_mode is None else args.filename_mode,
        )
    except ShopSettingsInvalid as exc:
        raise UsageError(str(exc)) from None
    expiry = f"{shop.download_expiry_days} days" if shop.download_expiry_days else "unlimited"
    print(f"Download settings of {shop.domain}:")
    print(f"  Download expiry:   {expiry}")
    print(f"  Maximum downloads: {shop.download_max or 'unlimited'}")
    print(f"  Download filename: {shop.get_filename_mode_display().lower()}")
    return 0


# Told apart from None, which means "unlimited".
UNCHANGED_ARG = object()


# --- files ---------------------------------------------------------------------------------------


def _files_add(args: argparse.Namespace) -> int:
    from imprint.catalog.services import ProductIdInvalid, file_attach, file_store, product_id_parse

    try:
        product_id = product_id_parse(args.product, "Product")
        variant_id = product_id_parse(args.variant, "ProductVariant") if args.variant else None
    except ProductIdInvalid as exc:
        raise UsageError(str(exc)) from None
    shop = _shop_get(args.shop)
    path = Path(args.path)
    if not path.is_file():
        raise CommandFailed(f"{path}: {'not a regular file' if path.exists() else 'no such file'}")
    try:
        with path.open("rb") as source:
            stored = file_store(shop=shop, source=source, name=path.name, content_type=None)
    except OSError as exc:
        raise CommandFailed(f"cannot read {path}: {exc.strerror or exc}") from None
    file_attach(file=stored, product_id=product_id, variant_id=variant_id)
    target = (
        f"variant {variant_id} of product {product_id}"
        if variant_id
        else f"product {product_id} (every variant)"
    )
    print(
        f"Stored {stored.name} ({_human_size(stored.size)}, sha256 {stored.sha256}) as file {stored.pk}."
    )
    print(f"Attached to {target}.")
    return 0


def _files_list(args: argparse.Namespace) -> int:
    shop = _shop_get(args.shop)
    files = list(shop.files.order_by("name", "pk").prefetch_related("attachments"))
    if not files:
        print(
            f"No files for {shop.domain} yet. Add one with: {PROG} files add PATH --shop {shop.domain} --product ID"
        )
        return 0
    rows = [["ID", "NAME", "SIZE", "TYPE", "ATTACHED TO"]]
    for file in files:
        targets = [
            f"product {a.product_id}" + (f" variant {a.variant_id}" if a.variant_id else "")
            for a in sorted(file.attachments.all(), key=lambda a: (a.product_id, a.variant_id or 0))
        ]
        rows.append(
            [
                str(file.pk),
                file.name,
                _human_size(file.size),
                file.content_type,
                ", ".join(targets) or "-",
            ]
        )
    _table(rows)
    return 0


# --- sync and demo -------------------------------------------------------------------------------


class _SyncProgress:
    """A progress bar on a terminal (how far through the window), a plain line per page otherwise."""

    WIDTH = 30

    def __init__(self, *, tty: bool) -> None:
        self.tty = tty

    def __call__(self, run: Any) -> None:
        counts = (
            f"{run.scanned:,} orders scanned · {run.delivered:,} delivered · "
            f"{run.already_known:,} already known"
        )
        if self.tty:
            filled = round(run.fraction_done * self.WIDTH)
            bar = "#" * filled + "." * (self.WIDTH - filled)
            print(f"\r[{bar}] {run.fraction_done:4.0%}  {counts}", end="", flush=True)
        else:
            through = (
                f" (through {run.scanned_through:%Y-%m-%d %H:%M})" if run.scanned_through else ""
            )
            print(f"{counts}{through}", flush=True)

    def done(self) -> None:
        if self.tty:
            print(flush=True)


def _sync(args: argparse.Namespace) -> int:
    import datetime as dt

    from django.utils import timezone

    from imprint.orders.models import SyncRun
    from imprint.orders.sync import SYNC_LEASE_SECONDS, orders_sync

    if not 1 <= args.days <= 3650:
        raise UsageError(f"--days must be between 1 and 3650 (got {args.days})")
    shop = _shop_get(args.shop)
    stop = threading.Event()

    def on_interrupt(signum: int, frame: FrameType | None) -> None:
        if stop.is_set():
            raise KeyboardInterrupt
        stop.set()
        print("\nStopping after the current order (Ctrl-C again to abort)…", file=sys.stderr)

    progress = _SyncProgress(tty=sys.stdout.isatty())
    previous = signal.signal(signal.SIGINT, on_interrupt)
    try:
        since = timezone.now() - dt.timedelta(days=args.days)
        run = orders_sync(
            shop=shop, since=since, trigger=SyncRun.Trigger.CLI, progress=progress, stop=stop
        )
        if run.is_running:  # another sync of this store is running: follow it to its end
            print(
                f"A sync of {shop.domain} is already running (started {run.started_at:%H:%M:%S}); following it."
            )
            while run.is_running and not stop.is_set():
                progress(run)
                stop.wait(0.5)
                run.refresh_from_db()
                if run.heartbeat_at < timezone.now() - dt.timedelta(seconds=SYNC_LEASE_SECONDS):
                    break
    finally:
        signal.signal(signal.SIGINT, previous)
        progress.done()
    print(f"Sync of {shop.domain}: {run.get_status_display().lower()}.")
    print(f"  Window:            orders created since {run.window_start:%Y-%m-%d %H:%M} UTC")
    print(f"  Scanned:           {run.scanned:,}")
    print(f"  Already known:     {run.already_known:,}")
    print(f"  Delivered now:     {run.delivered:,}")
    print(f"  No digital items:  {run.skipped_no_digital:,}")
    print(f"  Recorded, updated: {run.recorded:,}")
    print(f"  Errors:            {run.errors:,}")
    print(f"  Shopify points:    {run.points_spent:,}")
    if run.duration_seconds is not None:
        print(f"  Took:              {run.duration_seconds:.1f} s")
    for text in (run.note, run.error_text):
        if text:
            print(text)
    if run.status == SyncRun.Status.SUCCEEDED:
        return 0
    return 130 if run.status == SyncRun.Status.PARTIAL else 1


def _demo(args: argparse.Namespace) -> int:
    from imprint.demo import demo_main

    return demo_main(host=args.host, port=args.port, devstore_port=args.devstore_port)


# --- sign-in ------------------------------------------------------------------------------------


def _login_link(args: argparse.Namespace) -> int:
    from imprint.web.auth import LOGIN_MAX_AGE_SECONDS, login_link_create

    shop = _shop_get(args.shop)
    if not shop.is_installed:
        raise CommandFailed(f"{shop.domain} is uninstalled: add it again before signing in")
    print(login_link_create(shop=shop, label="login link"))
    print(
        f"Open it within {LOGIN_MAX_AGE_SECONDS // 60} minutes; it signs in once.", file=sys.stderr
    )
    return 0


# --- manage --------------------------------------------------------------------------------------


def _manage(rest: Sequence[str]) -> int:
    from django.core.management import execute_from_command_line

    execute_from_command_line([f"{PROG} manage", *rest])
    return 0


# --- the parser ----------------------------------------------------------------------------------


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog=PROG, description="Imprint: digital delivery for Shopify."
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def address(sub: argparse.ArgumentParser) -> None:
        sub.add_argument(
            "--host", default="127.0.0.1", help="address to listen on (default: %(default)s)"
        )
        sub.add_argument(
            "--port", type=_port, default=8000, help="port to listen on (default: %(default)s)"
        )

    serve = commands.add_parser(
        "serve", help="migrate, then run the web server, workers and a scheduler"
    )
    address(serve)
    serve.add_argument(
        "--workers",
        type=_workers,
        default=2,
        help="worker processes to run (default: %(default)s, so that a slow mail server never "
        "holds up the next order; more help on more cores)",
    )
    serve.set_defaults(handler=_serve)
    web = commands.add_parser("web", help="run the web server (gunicorn)")
    address(web)
    web.set_defaults(handler=_web)
    commands.add_parser("worker", help="run background jobs").set_defaults(handler=_worker)
    commands.add_parser("scheduler", help="run periodic jobs").set_defaults(handler=_scheduler)

    shop = commands.add_parser("shop", help="add and configure stores").add_subparsers(
        dest="shop_command", required=True, metavar="SHOP_COMMAND"
    )
    add = shop.add_parser("add", help="add a store with its access token, or update its token")
    add.add_argument("domain", metavar="DOMAIN", help=SHOP_HELP)
    add.add_argument("--token", required=True, help="the store's Admin API access token (shpat_…)")
    add.add_argument("--name", help="the store's name (default: from the domain)")
    add.add_argument("--email", help="the store's contact address, the Reply-To of its emails")
    add.set_defaults(handler=_shop_add)
    shop.add_parser("list", help="list the stores").set_defaults(handler=_shop_list)
    settings = shop.add_parser("settings", help="show or change a store's download settings")
    settings.add_argument("domain", metavar="DOMAIN", help=SHOP_HELP)
    settings.add_argument(
        "--expiry-days",
        type=_count_or_unlimited,
        default=UNCHANGED_ARG,
        metavar="N|unlimited",
        help="how many days links work after they are issued",
    )
    settings.add_argument(
        "--max-downloads",
        type=_count_or_unlimited,
        default=UNCHANGED_ARG,
        metavar="N|unlimited",
        help="how many times each file may be downloaded",
    )
    settings.add_argument(
        "--filename-mode",
        choices=["original", "product"],
        help="the name downloaded files get: the original filename or the product's name",
    )
    settings.set_defaults(handler=_shop_settings)

    files = commands.add_parser("files", help="add and list files").add_subparsers(
        dest="files_command", required=True, metavar="FILES_COMMAND"
    )
    files_add = files.add_parser("add", help="store a file and attach it to a product or variant")
    files_add.add_argument("path", metavar="PATH", help="the file to store")
    files_add.add_argument("--shop", required=True, metavar="DOMAIN", help=SHOP_HELP)
    files_add.add_argument(
        "--product",
        required=True,
        metavar="ID",
        help="product id: 123 or gid://shopify/Product/123",
    )
    files_add.add_argument(
        "--variant", metavar="ID", help="only this variant: 456 or gid://shopify/ProductVariant/456"
    )
    files_add.set_defaults(handler=_files_add)
    files_list = files.add_parser("list", help="list a store's files")
    files_list.add_argument("--shop", required=True, metavar="DOMAIN", help=SHOP_HELP)
    files_list.set_defaults(handler=_files_list)

    sync = commands.add_parser(
        "sync", help="find recent paid orders Imprint missed (lost webhooks) and deliver them"
    )
    sync.add_argument("--shop", required=True, metavar="DOMAIN", help=SHOP_HELP)
    sync.add_argument(
        "--days", type=int, default=60, metavar="N", help="look back N days (default: %(default)s)"
    )
    sync.set_defaults(handler=_sync)
    demo = commands.add_parser(
        "demo", help="run a local Shopify (the devstore) with a demo store beside Imprint"
    )
    address(demo)
    demo.add_argument(
        "--devstore-port",
        type=_port,
        default=8100,
        help="port of the devstore (default: %(default)s)",
    )
    demo.set_defaults(handler=_demo)

    login_link = commands.add_parser(
        "login-link", help="print a one-time, 10 minute sign-in link to a store's admin pages"
    )
    login_link.add_argument("--shop", required=True, metavar="DOMAIN", help=SHOP_HELP)
    login_link.set_defaults(handler=_login_link)

    # The devstore (a local Shopify) is its own program; it only borrows the command name.
    from devstore.cli import add_subcommands as devstore_add_subcommands

    devstore_add_subcommands(commands)

    commands.add_parser(
        "manage", help="Django's own commands (imprint manage help)", add_help=False
    )
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "imprint.settings")
    from django.core.exceptions import ImproperlyConfigured
    from django.db import DatabaseError

    try:
        if argv[:1] == ["manage"]:
            return _manage(argv[1:])
        parser = _parser()
        args = parser.parse_args(argv)
        if args.handler is _web:
            # SQLite: checkpointing the WAL (and its fsync) in a request makes every writer wait
            # behind it; the worker's commits keep the WAL short instead. No effect on PostgreSQL.
            os.environ.setdefault("IMPRINT_SQLITE_CHECKPOINT", "false")
        _django_setup()
        return int(args.handler(args))
    except (
        SystemExit
    ) as exc:  # argparse's usage errors and --help, the processes, Django's commands
        if isinstance(exc.code, str):
            print(exc.code, file=sys.stderr)
            return 1
        return exc.code or 0
    except (ConfigError, ImproperlyConfigured) as exc:
        print(f"{PROG}: configuration error: {exc}", file=sys.stderr)
        return 2
    except UsageError as exc:
        print(f"{PROG}: error: {exc}", file=sys.stderr)
        return 2
    except CommandFailed as exc:
        print(f"{PROG}: {exc}", file=sys.stderr)
        return 1
    except DatabaseError as exc:
        print(f"{PROG}: database error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
