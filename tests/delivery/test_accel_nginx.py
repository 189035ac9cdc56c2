"""docs/nginx.conf.example in front of a real `imprint web` with IMPRINT_ACCEL_REDIRECT_PREFIX:
nginx sends the bytes (whole, a range, a resumed range) after Imprint checked and charged them."""

from __future__ import annotations

import http.client
import os
import re
import shutil
from pathlib import Path

import pytest
from django.conf import settings

from imprint.delivery.models import DownloadEvent, DownloadGrant
from imprint.delivery.services import grant_link_token, grants_issue
from tests.factories import (
    AttachmentFactory,
    DigitalFileFactory,
    LineItemFactory,
    OrderFactory,
    ShopFactory,
)
from tests.processes import ROOT, Processes, child_env, free_port, wait_until

pytestmark = pytest.mark.slow

EXAMPLE = ROOT / "docs" / "nginx.conf.example"


def nginx_binary() -> str:
    found = shutil.which("nginx") or next(
        (path for path in ("/usr/sbin/nginx", "/usr/local/sbin/nginx") if os.access(path, os.X_OK)),
        None,
    )
    if found is None:
        pytest.fail(
            "nginx is not installed: this test runs docs/nginx.conf.example with Debian's nginx "
            "(apt-get install nginx-light; .ci/run installs it)"
        )
    return found


def nginx_config(*, directory: Path, port: int, upstream_port: int, storage: Path) -> Path:
    """The example with this test's ports and paths, everything else as documented."""
    text = EXAMPLE.read_text()
    replacements = {
        r"user www-data;": "user root;" if os.geteuid() == 0 else "",
        r"pid /run/nginx-imprint\.pid;": f"pid {directory}/nginx.pid;",
        r"error_log /var/log/nginx/imprint-error\.log warn;": f"error_log {directory}/error.log warn;",
        r"access_log /var/log/nginx/imprint-access\.log;": f"access_log {directory}/access.log;",
        r"server 127\.0\.0\.1:8000;": f"server 127.0.0.1:{upstream_port};",
        r"listen 80;": f"listen 127.0.0.1:{port};",
        r"alias /var/lib/imprint/files/;": f"alias {storage}/;",
    }
    for pattern, replacement in replacements.items():
        text, count = re.subn(pattern, replacement, text)
        assert count == 1, f"docs/nginx.conf.example no longer has {pattern!r}"
    # Temporary files in the test's directory, not in /var/lib/nginx.
    temp = "".join(
        f"    {kind}_temp_path {directory}/{kind};\n"
        for kind in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi")
    )
    text = text.replace("http {\n", "http {\n" + temp, 1)
    path = directory / "nginx.conf"
    path.write_text(text)
    return path


def _grant(content: bytes) -> DownloadGrant:
    shop = ShopFactory(download_max=3, download_expiry_days=30)
    file = DigitalFileFactory(
        shop=shop, name="Field Guide.pdf", content=content, content_type="application/pdf"
    )
    order = OrderFactory(shop=shop)
    line = LineItemFactory(order=order)
    AttachmentFactory(shop=shop, file=file, product_id=line.product_id)
    [grant] = grants_issue(order=order)
    return grant


def _get(port: int, path: str, headers: dict[str, str] | None = None):  # type: ignore[no-untyped-def]
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    conn.request("GET", path, headers=headers or {})
    response = conn.getresponse()
    return response, response.read()


def _answers(port: int) -> bool:
    try:
        return _get(port, "/healthz")[0].status == 200
    except OSError:
        return False


def test_nginx_sends_the_file_imprint_checked_and_charged(
    transactional_db, processes: Processes, tmp_path: Path
) -> None:
    binary = nginx_binary()
    content = os.urandom(2 * 1024 * 1024 + 77)
    grant = _grant(content)
    storage = Path(settings.STORAGES["default"]["OPTIONS"]["location"]).resolve()
    web_port, nginx_port = free_port(), free_port()
    web = processes.start(
        "web",
        "--port",
        str(web_port),
        env=child_env(
            IMPRINT_ACCEL_REDIRECT_PREFIX="/_protected/",
            IMPRINT_BEHIND_PROXY="true",
            IMPRINT_WEB_WORKERS="1",
        ),
    )
    nginx_dir = tmp_path / "nginx"
    nginx_dir.mkdir()
    config = nginx_config(
        directory=nginx_dir, port=nginx_port, upstream_port=web_port, storage=storage
    )
    nginx = processes.run_args(
        [binary, "-c", str(config), "-p", str(nginx_dir), "-g", "daemon off;"], env=dict(os.environ)
    )
    wait_until(
        lambda: (
            (_answers(web_port) and _answers(nginx_port)) or not (web.alive() and nginx.alive())
        ),
        timeout=60,
        what="imprint web and nginx to answer",
    )
    assert web.alive(), processes.outputs()
    assert nginx.alive(), processes.outputs()
    path = f"/d/{grant_link_token(grant)}/file"

    whole, data = _get(nginx_port, path)
    assert whole.status == 200, processes.outputs()
    assert data == content
    assert whole.getheader("Content-Disposition") == 'attachment; filename="Field Guide.pdf"'
    assert whole.getheader("Content-Type") == "application/pdf"
    assert whole.getheader("X-Accel-Redirect") is None
    assert whole.getheader("Cache-Control") == "private, no-store"
    etag = whole.getheader("ETag")
    assert etag == f'"{grant.file.sha256}"'

    part, tail = _get(nginx_port, path, {"Range": "bytes=1000000-", "If-Range": etag})
    assert part.status == 206
    assert part.getheader("Content-Range") == f"bytes 1000000-{len(content) - 1}/{len(content)}"
    assert tail == content[1000000:]

    middle, piece = _get(nginx_port, path, {"Range": "bytes=10-19"})
    assert middle.status == 206
    assert piece == content[10:20]

    # A resume of another version of the file: nginx sends it whole, as Imprint charged it.
    stale, again = _get(nginx_port, path, {"Range": "bytes=10-19", "If-Range": '"other"'})
    assert stale.status == 200
    assert again == content

    # The internal location cannot be asked for directly.
    direct, _ = _get(nginx_port, f"/_protected/{grant.file.storage_name.replace(' ', '%20')}")
    assert direct.status == 404

    grant.refresh_from_db()
    assert grant.bytes_used == 2 * len(content) + (len(content) - 1000000) + 10
    charged = list(
        DownloadEvent.objects.filter(grant=grant)
        .order_by("pk")
        .values_list("range_start", "range_end", "bytes_charged")
    )
    assert charged == [
        (0, len(content) - 1, len(content)),
        (1000000, len(content) - 1, len(content) - 1000000),
        (10, 19, 10),
        (0, len(content) - 1, len(content)),
    ]
