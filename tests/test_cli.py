from __future__ import annotations

import hashlib
import os
import re
import signal
import socket
import subprocess
import sys
import urllib.request
from pathlib import Path

import pytest

from imprint.catalog.models import Attachment, DigitalFile
from imprint.catalog.storage import storage_open
from imprint.cli import main
from imprint.shops.models import Shop
from imprint.shops.services import shop_token_get
from tests.factories import AttachmentFactory, DigitalFileFactory
from tests.processes import (
    Processes,
    child_env,
    children_of,
    free_port,
    wait_until,
)

TOKEN = "shpat_0123456789abcdef0123456789abcdef"
CONSOLE_SCRIPT = Path(sys.executable).with_name("imprint")


def run(capsys, *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def _settings(shop: Shop) -> tuple[int | None, int | None, str]:
    shop.refresh_from_db()
    return shop.download_expiry_days, shop.download_max, shop.filename_mode


# --- usage ---------------------------------------------------------------------------------------


def test_no_command_is_a_usage_error(capsys) -> None:
    code, _, err = run(capsys)

    assert code == 2
    assert "the following arguments are required: COMMAND" in err


def test_help_lists_the_commands(capsys) -> None:
    code, out, _ = run(capsys, "--help")

    assert code == 0
    for command in ("serve", "web", "worker", "scheduler", "shop", "files", "manage"):
        assert f"    {command}" in out


def test_a_bad_port_is_a_usage_error(capsys) -> None:
    code, _, err = run(capsys, "serve", "--port", "70000")

    assert code == 2
    assert "argument --port: 70000 is not a port number (1-65535)" in err


def test_serve_on_a_port_in_use_fails_at_once(capsys) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]

        code, out, err = run(capsys, "serve", "--port", str(port))

    assert (code, out) == (1, "")
    assert err == f"imprint: cannot listen on 127.0.0.1:{port}: Address already in use\n"


# --- shop add ------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_shop_add_adds_a_shop_without_printing_its_token(capsys) -> None:
    code, out, err = run(
        capsys, "shop", "add", "Shop-A.myshopify.com", "--token", TOKEN, "--name", "Shop A"
    )

    assert code == 0
    assert out.splitlines()[0] == "Added shop-a.myshopify.com (Shop A)."
    assert TOKEN not in out + err
    shop = Shop.objects.get()
    assert (shop.domain, shop.name, shop_token_get(shop=shop), shop.uninstalled_at) == (
        "shop-a.myshopify.com",
        "Shop A",
        TOKEN,
        None,
    )


@pytest.mark.django_db
def test_shop_add_again_reinstalls_an_uninstalled_shop(capsys, shop_a) -> None:
    Shop.objects.filter(pk=shop_a.pk).update(
        uninstalled_at="2026-10-01T00:00:00Z", access_token_encrypted=""
    )

    code, out, err = run(capsys, "shop", "add", "shop-a.myshopify.com", "--token", TOKEN)

    assert code == 0
    assert out.splitlines()[0] == "Updated shop-a.myshopify.com (Shop A)."
    assert TOKEN not in out + err
    shop_a.refresh_from_db()
    assert (shop_a.uninstalled_at, shop_token_get(shop=shop_a)) == (None, TOKEN)
    assert Shop.objects.count() == 1


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (
            ["shop-a.example.com", "--token", TOKEN],
            "'shop-a.example.com' is not a Shopify store domain",
        ),
        (
            ["shop_a.myshopify.com", "--token", TOKEN],
            "'shop_a.myshopify.com' is not a Shopify store domain",
        ),
        (["shop-a.myshopify.com", "--token", ""], "the access token is empty"),
        (
            ["shop-a.myshopify.com", "--token", TOKEN, "--email", "nope"],
            "'nope' is not an email address",
        ),
    ],
)
def test_shop_add_refuses_bad_input_and_adds_nothing(capsys, argv, message) -> None:
    code, out, err = run(capsys, "shop", "add", *argv)

    assert code == 2
    assert f"imprint: error: {message}" in err
    assert "Traceback" not in err
    assert TOKEN not in out + err
    assert Shop.objects.count() == 0


def test_shop_add_without_a_token_is_a_usage_error(capsys) -> None:
    code, _, err = run(capsys, "shop", "add", "shop-a.myshopify.com")

    assert code == 2
    assert "the following arguments are required: --token" in err


@pytest.mark.django_db
def test_shop_list_shows_every_shop_and_its_settings(capsys, shop_a, shop_b) -> None:
    Shop.objects.filter(pk=shop_b.pk).update(
        download_expiry_days=None, uninstalled_at="2026-10-01T00:00:00Z"
    )

    code, out, _ = run(capsys, "shop", "list")

    assert code == 0
    assert [line.split() for line in out.splitlines()] == [
        ["DOMAIN", "NAME", "STATUS", "EXPIRY", "MAX", "DOWNLOADS", "FILENAME"],
        ["shop-a.myshopify.com", "Shop", "A", "installed", "30", "days", "5", "original"],
        ["shop-b.myshopify.com", "Shop", "B", "uninstalled", "unlimited", "5", "original"],
    ]
    assert shop_token_get(shop=shop_a) not in out


@pytest.mark.django_db
def test_shop_list_without_shops_says_how_to_add_one(capsys) -> None:
    code, out, _ = run(capsys, "shop", "list")

    assert (code, out) == (0, "No shops yet. Add one with: imprint shop add DOMAIN --token TOKEN\n")


# --- shop settings -------------------------------------------------------------------------------


@pytest.mark.django_db
def test_shop_settings_changes_and_prints_the_settings(capsys, shop_a) -> None:
    code, out, err = run(
        capsys,
        "shop",
        "settings",
        "shop-a.myshopify.com",
        "--expiry-days",
        "unlimited",
        "--max-downloads",
        "3",
        "--filename-mode",
        "product",
    )

    assert (code, err) == (0, "")
    assert out == (
        "Download settings of shop-a.myshopify.com:\n"
        "  Download expiry:   unlimited\n"
        "  Maximum downloads: 3\n"
        "  Download filename: product name\n"
    )
    assert _settings(shop_a) == (None, 3, "product")


@pytest.mark.django_db
def test_shop_settings_without_options_only_prints(capsys, shop_a) -> None:
    code, out, _ = run(capsys, "shop", "settings", "shop-a.myshopify.com")

    assert code == 0
    assert "  Download expiry:   30 days\n  Maximum downloads: 5\n" in out
    assert _settings(shop_a) == (30, 5, "original")


@pytest.mark.django_db
def test_shop_settings_unlimited_downloads(capsys, shop_a) -> None:
    code, out, _ = run(
        capsys, "shop", "settings", "shop-a.myshopify.com", "--max-downloads", "UNLIMITED"
    )

    assert code == 0
    assert "  Maximum downloads: unlimited\n" in out
    assert _settings(shop_a) == (30, None, "original")


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (
            ["--expiry-days", "-5"],
            "Download expiry (days) must be between 1 and 3650, or unlimited (got -5)",
        ),
        (
            ["--expiry-days", "0"],
            "Download expiry (days) must be between 1 and 3650, or unlimited (got 0)",
        ),
        (
            ["--expiry-days", "3651"],
            "Download expiry (days) must be between 1 and 3650, or unlimited (got 3651)",
        ),
        (
            ["--max-downloads", "0"],
            "Maximum downloads must be between 1 and 1000, or unlimited (got 0)",
        ),
        (
            ["--max-downloads", "1001"],
            "Maximum downloads must be between 1 and 1000, or unlimited (got 1001)",
        ),
        (
            ["--max-downloads", "-1"],
            "Maximum downloads must be between 1 and 1000, or unlimited (got -1)",
        ),
        (
            ["--expiry-days", "7", "--max-downloads", "0"],
            "Maximum downloads must be between 1 and 1000",
        ),
        (
            ["--expiry-days", "abc"],
            "argument --expiry-days: 'abc' is not a whole number or 'unlimited'",
        ),
        (
            ["--max-downloads", "2.5"],
            "argument --max-downloads: '2.5' is not a whole number or 'unlimited'",
        ),
        (["--filename-mode", "sku"], "argument --filename-mode: invalid choice: 'sku'"),
    ],
)
def test_shop_settings_refuses_bad_values_and_changes_nothing(
    capsys, shop_a, argv, message
) -> None:
    code, out, err = run(capsys, "shop", "settings", "shop-a.myshopify.com", *argv)

    assert code == 2
    assert message in err
    assert "Traceback" not in err
    assert out == ""
    assert _settings(shop_a) == (30, 5, "original")


@pytest.mark.django_db
def test_shop_settings_of_an_unknown_shop_fails(capsys, shop_a) -> None:
    code, _, err = run(capsys, "shop", "settings", "nope.myshopify.com", "--max-downloads", "3")

    assert code == 1
    assert (
        err
        == "imprint: no shop nope.myshopify.com: add it with `imprint shop add nope.myshopify.com --token TOKEN`\n"
    )
    assert _settings(shop_a) == (30, 5, "original")


# --- files ---------------------------------------------------------------------------------------


@pytest.fixture
def upload(tmp_path: Path) -> Path:
    path = tmp_path / "upload" / "Snowboard Guide.pdf"
    path.parent.mkdir()
    path.write_bytes(os.urandom(200_000))
    return path


@pytest.mark.django_db
def test_files_add_stores_the_file_and_attaches_it_to_a_product(capsys, shop_a, upload) -> None:
    code, out, err = run(
        capsys, "files", "add", str(upload), "--shop", "shop-a.myshopify.com", "--product", "7001"
    )

    assert (code, err) == (0, "")
    file = DigitalFile.objects.get()
    expected_sha = hashlib.sha256(upload.read_bytes()).hexdigest()
    assert (file.shop, file.name, file.size, file.sha256, file.content_type) == (
        shop_a,
        "Snowboard Guide.pdf",
        200_000,
        expected_sha,
        "application/pdf",
    )
    with storage_open(file.storage_name) as handle:
        assert hashlib.sha256(handle.read()).hexdigest() == expected_sha
    assert list(
        Attachment.objects.values_list("shop_id", "file_id", "product_id", "variant_id")
    ) == [(shop_a.pk, file.pk, 7001, None)]
    assert out == (
        f"Stored Snowboard Guide.pdf (200.0 KB, sha256 {expected_sha}) as file {file.pk}.\n"
        "Attached to product 7001 (every variant).\n"
    )


@pytest.mark.django_db
def test_files_add_takes_gids_for_product_and_variant(capsys, shop_a, upload) -> None:
    code, out, _ = run(
        capsys,
        "files",
        "add",
        str(upload),
        "--shop",
        "shop-a.myshopify.com",
        "--product",
        "gid://shopify/Product/632910392",
        "--variant",
        "gid://shopify/ProductVariant/808950810",
    )

    assert code == 0
    assert list(Attachment.objects.values_list("product_id", "variant_id")) == [
        (632910392, 808950810)
    ]
    assert out.endswith("Attached to variant 808950810 of product 632910392.\n")


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("ids", "message"),
    [
        (
            ["--product", "gid://shopify/ProductVariant/1"],
            "'gid://shopify/ProductVariant/1' is a ProductVariant id, not a Product id",
        ),
        (
            ["--product", "1", "--variant", "gid://shopify/Product/2"],
            "'gid://shopify/Product/2' is a Product id, not a ProductVariant id",
        ),
        (
            ["--product", "snowboard"],
            "'snowboard' is not a Product id: use a number or gid://shopify/Product/NUMBER",
        ),
        (["--product", "0"], "'0' is out of range for a Product id"),
    ],
)
def test_files_add_refuses_bad_ids_and_stores_nothing(
    capsys, shop_a, upload, tmp_path, ids, message
) -> None:
    code, out, err = run(
        capsys, "files", "add", str(upload), "--shop", "shop-a.myshopify.com", *ids
    )

    assert code == 2
    assert err == f"imprint: error: {message}\n"
    assert out == ""
    assert (DigitalFile.objects.count(), Attachment.objects.count()) == (0, 0)
    assert not (tmp_path / "files").exists()


@pytest.mark.django_db
def test_files_add_with_a_missing_file_fails(capsys, shop_a, tmp_path) -> None:
    missing = tmp_path / "nope.pdf"

    code, out, err = run(
        capsys, "files", "add", str(missing), "--shop", "shop-a.myshopify.com", "--product", "1"
    )

    assert (code, out, err) == (1, "", f"imprint: {missing}: no such file\n")
    assert DigitalFile.objects.count() == 0


@pytest.mark.django_db
def test_files_add_of_a_directory_fails(capsys, shop_a, tmp_path) -> None:
    code, _, err = run(
        capsys, "files", "add", str(tmp_path), "--shop", "shop-a.myshopify.com", "--product", "1"
    )

    assert (code, err) == (1, f"imprint: {tmp_path}: not a regular file\n")
    assert DigitalFile.objects.count() == 0


@pytest.mark.django_db
def test_files_add_for_an_unknown_shop_fails(capsys, shop_a, upload) -> None:
    code, _, err = run(
        capsys, "files", "add", str(upload), "--shop", "nope.myshopify.com", "--product", "1"
    )

    assert code == 1
    assert err.startswith("imprint: no shop nope.myshopify.com: add it with")
    assert DigitalFile.objects.count() == 0


@pytest.mark.django_db
def test_files_add_with_a_bad_shop_domain_is_a_usage_error(capsys, upload) -> None:
    code, _, err = run(
        capsys, "files", "add", str(upload), "--shop", "nope.example.com", "--product", "1"
    )

    assert (code, err) == (
        2,
        "imprint: error: 'nope.example.com' is not a Shopify store domain: expected NAME.myshopify.com\n",
    )
    assert DigitalFile.objects.count() == 0


@pytest.mark.django_db
def test_files_add_of_the_same_path_twice_keeps_two_files(capsys, shop_a, upload) -> None:
    for _ in range(2):
        assert (
            main(
                ["files", "add", str(upload), "--shop", "shop-a.myshopify.com", "--product", "7001"]
            )
            == 0
        )

    assert DigitalFile.objects.count() == 2
    assert len(set(DigitalFile.objects.values_list("storage_name", flat=True))) == 2


@pytest.mark.django_db
def test_files_list_shows_the_shops_files_only(capsys, shop_a, shop_b) -> None:
    guide = DigitalFileFactory(shop=shop_a, name="guide.pdf", content=b"x" * 1500)
    AttachmentFactory(file=guide, product_id=7001)
    AttachmentFactory(file=guide, product_id=7002, variant_id=8002)
    DigitalFileFactory(shop=shop_b, name="other-shop.pdf")

    code, out, _ = run(capsys, "files", "list", "--shop", "shop-a.myshopify.com")

    assert code == 0
    assert [line.split() for line in out.splitlines()] == [
        ["ID", "NAME", "SIZE", "TYPE", "ATTACHED", "TO"],
        [
            str(guide.pk),
            "guide.pdf",
            "1.5",
            "KB",
            "application/pdf",
            "product",
            "7001,",
            "product",
            "7002",
            "variant",
            "8002",
        ],
    ]


# --- manage --------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_manage_runs_djangos_commands(capsys) -> None:
    code, out, _ = run(capsys, "manage", "check")

    assert code == 0
    assert "System check identified no issues" in out


def test_manage_with_an_unknown_command_fails(capsys) -> None:
    code, _, err = run(capsys, "manage", "no-such-command")

    assert code == 1
    assert "Unknown command: 'no-such-command'" in err


# --- the real console script and processes -------------------------------------------------------


@pytest.mark.slow
def test_console_script_adds_a_shop(transactional_db) -> None:
    result = subprocess.run(
        [str(CONSOLE_SCRIPT), "shop", "add", "shop-a.myshopify.com", "--token", TOKEN],
        env=child_env(),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )

    assert (result.returncode, result.stderr) == (0, "")
    assert result.stdout.startswith("Added shop-a.myshopify.com (shop-a).\n")
    assert TOKEN not in result.stdout
    assert [(shop.domain, shop_token_get(shop=shop)) for shop in Shop.objects.all()] == [
        ("shop-a.myshopify.com", TOKEN)
    ]


@pytest.mark.slow
def test_console_script_reports_a_configuration_error_without_a_traceback(transactional_db) -> None:
    result = subprocess.run(
        [str(CONSOLE_SCRIPT), "shop", "list"],
        env=child_env(IMPRINT_DEBUG="maybe"),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )

    assert result.returncode == 2
    assert result.stderr == (
        "imprint: configuration error: IMPRINT_DEBUG='maybe' is not a boolean: "
        "use one of true/false, yes/no, on/off, 1/0\n"
    )


def _healthz(port: int) -> int:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=2) as response:
            return int(response.status)
    except OSError:
        return 0


def _workers_of(pid: int) -> list[int]:
    return [child for child, cmd in children_of(pid).items() if cmd.endswith("imprint.cli worker")]


@pytest.mark.slow
def test_serve_runs_web_worker_and_scheduler_restarts_a_dead_one_and_stops_them_all(
    transactional_db,
    processes: Processes,
) -> None:
    port = free_port()
    env = child_env(IMPRINT_EMAIL_URL="", IMPRINT_WEB_WORKERS="1", IMPRINT_WEB_THREADS="2")
    serve = processes.start("serve", "--port", str(port), env=env)

    try:
        wait_until(
            lambda: "press Ctrl-C to stop" in serve.output(), timeout=60, what="serve to start"
        )
        wait_until(lambda: _healthz(port) == 200, timeout=30, what="the web server")
        workers = wait_until(
            lambda: len(_workers_of(serve.pid)) == 2 and _workers_of(serve.pid),
            timeout=30,
            what="the two workers",
        )
    except TimeoutError:
        pytest.fail(processes.outputs())
    output = serve.output()
    assert f"imprint: listening on http://127.0.0.1:{port}/\n" in output
    assert (
        f"imprint: emails go to the local mailbox at http://127.0.0.1:{port}/dev/mailbox\n"
        in output
    )
    commands = sorted(cmd.split("imprint.cli ", 1)[1] for cmd in children_of(serve.pid).values())
    assert commands == ["scheduler", f"web --host 127.0.0.1 --port {port}", "worker", "worker"]

    # A child that dies is started again.
    worker = workers[0]
    os.kill(worker, signal.SIGKILL)
    wait_until(
        lambda: worker not in (now := _workers_of(serve.pid)) and len(now) == 2,
        timeout=30,
        what="the worker to be restarted",
    )
    assert re.search(
        r"imprint: worker [12] was killed by SIGKILL; restarting in 1s", serve.output()
    )

    children = list(children_of(serve.pid))
    assert serve.stop(signum=signal.SIGINT, timeout=60) == 0, processes.outputs()
    assert [pid for pid in children if Path(f"/proc/{pid}").exists()] == []
    assert "Traceback" not in serve.output()


@pytest.mark.parametrize("value", ["0", "33", "two"])
def test_serve_with_a_bad_number_of_workers_is_a_usage_error(capsys, value: str) -> None:
    code, _, err = run(capsys, "serve", "--workers", value)

    assert code == 2
    assert "argument --workers:" in err


def test_serve_runs_as_many_workers_as_asked(transactional_db, processes: Processes) -> None:
    port = free_port()
    env = child_env(IMPRINT_EMAIL_URL="", IMPRINT_WEB_WORKERS="1", IMPRINT_WEB_THREADS="2")
    serve = processes.start("serve", "--port", str(port), "--workers", "3", env=env)
    try:
        wait_until(lambda: _healthz(port) == 200, timeout=60, what="the web server")
        wait_until(
            lambda: (
                len(
                    [c for c in children_of(serve.pid).values() if c.endswith("imprint.cli worker")]
                )
                == 3
            ),
            timeout=30,
            what="three workers",
        )
    except TimeoutError:
        pytest.fail(processes.outputs())
    commands = sorted(cmd.split("imprint.cli ", 1)[1] for cmd in children_of(serve.pid).values())
    assert commands == ["scheduler", f"web --host 127.0.0.1 --port {port}"] + ["worker"] * 3
    assert serve.stop(signum=signal.SIGTERM, timeout=60) == 0, processes.outputs()
