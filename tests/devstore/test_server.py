"""The control endpoints, the storefront, the CLI and the state file."""

from __future__ import annotations

import subprocess
import sys

import httpx
import pytest

from devstore.cli import main as devstore_main
from devstore.clock import FakeClock
from devstore.store import DevStore
from imprint.cli import main as imprint_main
from tests.devstore.helpers import control
from tests.processes import child_env, free_port, wait_until


def test_control_endpoints_create_a_shop_a_product_and_orders(devstore, devstore_server) -> None:
    url = devstore_server.url

    shop = control(
        url, "shops", domain="ctl.myshopify.com", access_token="shpat_ctl", app_secret="s"
    )
    product = control(
        url, "products", shop="ctl.myshopify.com", title="Guide", variants=["PDF", "EPUB"]
    ).json()
    order = control(
        url,
        "orders",
        shop="ctl.myshopify.com",
        product=product["id"],
        paid=False,
        email="ana@example.com",
    ).json()
    paid = control(url, f"orders/{order['id']}/paid", shop="ctl.myshopify.com").json()
    refund = control(url, f"orders/{order['id']}/refunds", shop="ctl.myshopify.com")
    missing = control(url, "orders", shop="ctl.myshopify.com", product=1)

    assert shop.status_code == 201
    assert [v["title"] for v in product["variants"]] == ["PDF", "EPUB"]
    assert (order["name"], order["financial_status"], order["email"]) == (
        "#1001",
        "pending",
        "ana@example.com",
    )
    assert order["line_items"][0]["variant_id"] == product["variants"][0]["id"]
    assert paid["financial_status"] == "paid"
    assert refund.status_code == 201
    assert (
        devstore.order(shop="ctl.myshopify.com", order_id=order["id"]).financial_status
        == "refunded"
    )
    assert (missing.status_code, missing.json()) == (
        404,
        {"error": "no product 1 in ctl.myshopify.com"},
    )
    assert len(devstore.shop("ctl.myshopify.com").orders) == 1


def test_control_endpoints_switch_webhooks_and_failures(
    devstore, devstore_server, devstore_shop
) -> None:
    url = devstore_server.url

    control(url, "webhooks/mode", mode="delay")
    control(url, "fail_next", shop=devstore_shop.domain, count=2, status=503)
    control(url, "token_revoke", shop=devstore_shop.domain)
    bad_mode = control(url, "webhooks/mode", mode="lose")

    assert devstore.webhooks.mode == "delay"
    assert devstore_shop.failures == [503, 503]
    assert devstore_shop.token_valid is False
    assert bad_mode.status_code == 400


def test_the_storefront_sells_a_product_pay_now_or_later(
    devstore, devstore_server, devstore_shop
) -> None:
    product = devstore.product_create(shop=devstore_shop.domain, title="Ünïcode Sound Pack")
    page = httpx.get(devstore_server.url + "/")
    form = {
        "shop": devstore_shop.domain,
        "variant": str(product.variants[0].id),
        "quantity": "2",
        "email": "zoë@example.com",
        "first_name": "Zoë",
        "last_name": "Ångström",
    }

    now = httpx.post(
        devstore_server.url + "/checkout", data={**form, "pay": "now"}, follow_redirects=True
    )
    later = httpx.post(devstore_server.url + "/checkout", data={**form, "pay": "later"})
    admin = httpx.get(devstore_server.url + "/admin")

    assert page.status_code == 200
    assert "Ünïcode Sound Pack" in page.text
    assert now.status_code == 200
    assert "Thank you for your order #1001" in now.text
    assert later.status_code == 303
    orders = sorted(devstore_shop.orders.values(), key=lambda o: o.number)
    assert [(o.financial_status, o.email, o.line_items[0].quantity) for o in orders] == [
        ("paid", "zoë@example.com", 2),
        ("pending", "zoë@example.com", 2),
    ]
    assert "#1002" in admin.text
    assert "Mark paid" in admin.text


def test_the_order_command_places_an_order_in_a_running_devstore(
    devstore, devstore_server, devstore_shop, capsys
) -> None:
    product = devstore.product_create(
        shop=devstore_shop.domain, title="Guide", variants=["PDF", "EPUB"]
    )

    code = imprint_main(
        [
            "devstore",
            "order",
            "--url",
            devstore_server.url,
            "--shop",
            devstore_shop.domain,
            "--product",
            product.gid,
            "--variant",
            str(product.variants[1].id),
            "--quantity",
            "3",
            "--paid",
            "--email",
            "jon@example.com",
        ]
    )
    out = capsys.readouterr().out

    order = next(iter(devstore_shop.orders.values()))
    assert code == 0
    assert (
        out == f"Placed order #1001 (id {order.id}) for jon@example.com: 3 x Guide - EPUB; paid.\n"
    )
    assert (order.line_items[0].variant_id, order.financial_status) == (
        product.variants[1].id,
        "paid",
    )


def test_the_order_command_reports_a_refusal_and_an_unreachable_devstore(
    devstore, devstore_server, devstore_shop, capsys
) -> None:
    refused = devstore_main(
        [
            "devstore",
            "order",
            "--url",
            devstore_server.url,
            "--shop",
            devstore_shop.domain,
            "--product",
            "42",
        ]
    )
    refused_err = capsys.readouterr().err
    unreachable = devstore_main(
        [
            "devstore",
            "order",
            "--url",
            "http://127.0.0.1:9",
            "--shop",
            devstore_shop.domain,
            "--product",
            "42",
        ]
    )
    unreachable_err = capsys.readouterr().err

    assert refused == 2
    assert (
        refused_err
        == f"devstore: the devstore refused the order: no product 42 in {devstore_shop.domain}\n"
    )
    assert unreachable == 1
    assert unreachable_err.startswith("devstore: cannot reach the devstore at http://127.0.0.1:9:")
    assert devstore_shop.orders == {}


def test_the_state_file_keeps_shops_products_and_orders(devstore, devstore_shop, tmp_path) -> None:
    product = devstore.product_create(
        shop=devstore_shop.domain, title="Guide", variants=["PDF", "EPUB"]
    )
    order = devstore.order_create(shop=devstore_shop.domain, lines=[(product.variants[0].id, 2)])
    devstore.refund_create(
        shop=devstore_shop.domain, order_id=order.id, lines=[(order.line_items[0].id, 1)]
    )
    devstore.save(tmp_path / "state.json")

    again = DevStore(clock=FakeClock())
    again.load(tmp_path / "state.json")
    next_product = again.product_create(shop=devstore_shop.domain, title="Another")

    assert again.snapshot() != {}
    loaded = again.order(shop=devstore_shop.domain, order_id=order.id)
    assert (
        loaded.name,
        loaded.financial_status,
        loaded.refunded_quantity(order.line_items[0].id),
    ) == (
        "#1001",
        "partially_refunded",
        1,
    )
    assert again.shop_for_token(devstore_shop.access_token).domain == devstore_shop.domain
    assert next_product.id > max(order.id, order.refunds[0].lines[0].id)
    again.close()


@pytest.mark.slow
def test_imprint_devstore_serves_the_demo_shop_and_takes_orders(processes, tmp_path) -> None:
    port = free_port()
    state = tmp_path / "devstore.json"
    server = processes.start(
        "devstore",
        "--port",
        str(port),
        "--seed-demo",
        "--state",
        str(state),
        "--app-secret",
        "s3cret",
        env=child_env(),
    )
    url = f"http://127.0.0.1:{port}"
    wait_until(lambda: "press Ctrl-C" in server.output(), timeout=30, what="the devstore to listen")
    products = httpx.get(f"{url}/_devstore/products?shop=demo.myshopify.com").json()

    placed = subprocess.run(
        [
            sys.executable,
            "-m",
            "imprint.cli",
            "devstore",
            "order",
            "--url",
            url,
            "--shop",
            "demo.myshopify.com",
            "--product",
            str(products[0]["id"]),
            "--paid",
        ],
        env=child_env(),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    code = server.stop()

    assert [p["title"] for p in products] == [
        "Snowboard Guide",
        "Ünïcode Sound Pack — 東京 Nights",
        "Gift Wrapping",
    ]
    assert placed.returncode == 0, placed.stderr
    assert placed.stdout.startswith("Placed order #1001 (id ")
    assert code == 0
    saved = DevStore()
    saved.load(state)
    assert [o.name for o in saved.shop("demo.myshopify.com").orders.values()] == ["#1001"]
    assert saved.shop("demo.myshopify.com").app_secret == "s3cret"
