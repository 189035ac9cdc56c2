"""Downloads: a 1 GB file over loopback through Imprint (`imprint web`, gunicorn's sendfile) versus
nginx serving the same file from the same disk with sendfile; then 200 concurrent small-file
downloads through each; the servers' memory (RSS) during both.

    .venv/bin/python bench/downloads.py [--size-mb 1024] [--concurrent 200] [--scale 10]

--scale N stores N times as many small files (and grants) and spreads the concurrent downloads
over all of them (the growth figure). curl fetches the large file (its speed, not Python's, is
measured); Python threads fetch the small ones, the same client for both servers.
"""

from __future__ import annotations

import argparse
import http.client
import os
import shutil
import signal
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor

from common import (
    PRODUCT_ID,
    ROOT,
    SHOP,
    RssSampler,
    bench_env,
    django_run,
    free_port,
    fresh_data_dir,
    imprint,
    machine,
    seed_orders,
    tree_rss_kb,
)

NGINX_CONF = """
{user}
worker_processes 2;
pid {dir}/nginx.pid;
error_log {dir}/error.log warn;
events {{ worker_connections 4096; }}
http {{
    access_log off;
    sendfile on;
    sendfile_max_chunk 2m;
    tcp_nopush on;
    client_body_temp_path {dir}/body;
    proxy_temp_path {dir}/proxy;
    fastcgi_temp_path {dir}/fastcgi;
    uwsgi_temp_path {dir}/uwsgi;
    scgi_temp_path {dir}/scgi;
    server {{
        listen 127.0.0.1:{port};
        location /files/ {{ alias {storage}/; }}
    }}
}}
"""

TOKENS = """
from imprint.delivery.models import DownloadGrant
from imprint.delivery.services import grant_link_token
result = {}
for grant in DownloadGrant.objects.select_related("file").order_by("pk"):
    result.setdefault(grant.file.name, []).append(
        [grant_link_token(grant), grant.file.storage_name]
    )
"""


def _curl(url: str) -> float:
    """Bytes per second of one download with curl, its body thrown away."""
    out = subprocess.run(
        ["curl", "-s", "-o", "/dev/null", "-w", "%{speed_download} %{http_code}", url],
        check=True,
        capture_output=True,
        text=True,
    ).stdout.split()
    if out[1] != "200":
        raise RuntimeError(f"{url}: HTTP {out[1]}")
    return float(out[0])


def _fetch(port: int, path: str) -> int:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    conn.request("GET", path)
    response = conn.getresponse()
    size = len(response.read())
    conn.close()
    if response.status != 200:
        raise RuntimeError(f"{path}: HTTP {response.status}")
    return size


def _concurrent(port: int, paths: list[str], concurrent: int) -> float:
    """Requests per second of len(paths) downloads, `concurrent` at a time."""
    started = time.perf_counter()
    with ThreadPoolExecutor(max_workers=concurrent) as pool:
        list(pool.map(lambda path: _fetch(port, path), paths))
    return len(paths) / (time.perf_counter() - started)


def _measure(pid: int, action):  # type: ignore[no-untyped-def]
    sampler = RssSampler(pid)
    idle = sum(tree_rss_kb(pid).values())
    sampler.start()
    try:
        value = action()
    finally:
        sampler.stop()
    return value, idle, sampler.peak_tree_kb, sampler.peak_process_kb


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size-mb", type=int, default=1024)
    parser.add_argument("--small-kb", type=int, default=100)
    parser.add_argument("--concurrent", type=int, default=200)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--scale", type=int, default=1)
    options = parser.parse_args()
    nginx = shutil.which("nginx") or "/usr/sbin/nginx"

    data_dir = fresh_data_dir("downloads")
    port, nginx_port = free_port(), free_port()
    env = bench_env(data_dir, port, IMPRINT_LOG_LEVEL="ERROR")
    imprint(env, "manage", "migrate", "--verbosity", "0")
    imprint(env, "shop", "add", SHOP, "--token", "shpat_bench", "--name", "Bench Prints")
    imprint(
        env, "shop", "settings", SHOP, "--expiry-days", "unlimited", "--max-downloads", "unlimited"
    )
    big = data_dir / "big.bin"
    block = os.urandom(64 * 1024 * 1024)
    with big.open("wb") as out:
        for _ in range(options.size_mb // 64):
            out.write(block)
    imprint(env, "files", "add", str(big), "--shop", SHOP, "--product", PRODUCT_ID)
    big.unlink()
    small = data_dir / "small.bin"
    small.write_bytes(os.urandom(options.small_kb * 1024))
    imprint(env, "files", "add", str(small), "--shop", SHOP, "--product", PRODUCT_ID)
    # Each order has three lines with the product: three grants per file per order.
    seed_orders(env, first=0, count=max(1, options.scale * options.concurrent // 3))
    tokens = django_run(env, TOKENS)
    storage = data_dir / "files"
    big_token, big_name = tokens["big.bin"][0]
    small_grants = tokens["small.bin"]

    nginx_dir = data_dir / "nginx"
    nginx_dir.mkdir()
    (nginx_dir / "nginx.conf").write_text(
        NGINX_CONF.format(
            dir=nginx_dir,
            port=nginx_port,
            storage=storage,
            # Run as root (CI), nginx's workers would be `nobody`, who cannot read the data.
            user="user root;" if os.geteuid() == 0 else "",
        )
    )
    web = subprocess.Popen(
        [sys.executable, "-m", "imprint.cli", "web", "--port", str(port)],
        env=env,
        cwd=ROOT,
        start_new_session=True,
    )
    proxy = subprocess.Popen(
        [nginx, "-c", str(nginx_dir / "nginx.conf"), "-p", str(nginx_dir), "-g", "daemon off;"],
        start_new_session=True,
    )
    try:
        time.sleep(3)
        _fetch(port, "/healthz")
        results = {}
        for name, server_port, pid, path in (
            ("Imprint", port, web.pid, f"/d/{big_token}/file"),
            ("nginx", nginx_port, proxy.pid, f"/files/{big_name}"),
        ):
            url = f"http://127.0.0.1:{server_port}{path}"
            speeds, idle, peak, peak_one = _measure(
                pid, lambda url=url: [_curl(url) for _ in range(options.rounds)]
            )
            results[name] = {"large": max(speeds), "idle": idle, "peak": peak, "one": peak_one}
        paths = {
            "Imprint": [f"/d/{token}/file" for token, _ in small_grants],
            "nginx": [f"/files/{name}" for _, name in small_grants],
        }
        for name, server_port, pid in (
            ("Imprint", port, web.pid),
            ("nginx", nginx_port, proxy.pid),
        ):
            every = (paths[name] * options.concurrent)[: max(options.concurrent, len(paths[name]))]
            _concurrent(server_port, every[: options.concurrent], options.concurrent)  # warm up
            rate, _, peak, peak_one = _measure(
                pid, lambda p=server_port, e=every: _concurrent(p, e, options.concurrent)
            )
            results[name].update(small=rate, small_peak=peak, small_one=peak_one)
    finally:
        os.killpg(web.pid, signal.SIGTERM)
        os.killpg(proxy.pid, signal.SIGQUIT)
        web.wait(timeout=60)
        proxy.wait(timeout=60)
        shutil.rmtree(data_dir, ignore_errors=True)

    print(
        f"downloads: {options.size_mb} MB file (best of {options.rounds}), "
        f"{options.concurrent} concurrent {options.small_kb} KB downloads over "
        f"{len(small_grants)} grants; {machine()}"
    )
    for name, r in results.items():
        print(
            f"{name:8s} large {r['large'] / 1e6:8.1f} MB/s   small {r['small']:7.1f} req/s   "
            f"RSS idle {r['idle'] / 1024:5.0f} MiB, peak large {r['peak'] / 1024:5.0f} MiB "
            f"(largest process {r['one'] / 1024:4.0f}), peak small {r['small_peak'] / 1024:5.0f} MiB"
        )
    imprint_r, nginx_r = results["Imprint"], results["nginx"]
    print(
        f"Imprint / nginx: large-file throughput {imprint_r['large'] / nginx_r['large']:.2f} "
        f"(target >= 0.80); small files {imprint_r['small'] / nginx_r['small']:.2f}; "
        f"Imprint memory growth during the large download "
        f"{(imprint_r['peak'] - imprint_r['idle']) / 1024:.0f} MiB"
    )


if __name__ == "__main__":
    main()
