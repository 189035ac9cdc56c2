"""`imprint sync --shop DOMAIN [--days N]`: the same service, a line per page, a summary."""

from __future__ import annotations

import pytest

from imprint.cli import main
from imprint.emails.models import EmailLog
from imprint.orders.models import SyncRun
from imprint.shops.models import Shop
from tests.orders import sync_helpers
from tests.orders.sync_helpers import Devstore

sync_devstore = sync_helpers.sync_devstore  # the fixture, for this module

pytestmark = pytest.mark.django_db


def run(capsys, *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_sync_prints_progress_lines_and_a_summary(
    sync_devstore: Devstore, shop_a: Shop, capsys
) -> None:
    sync_devstore.shop(shop_a)
    product = sync_devstore.product(shop_a)
    orders = sync_devstore.store.orders_bulk_create(
        shop=shop_a.domain, count=4, product_ids=[product.id]
    )
    sync_devstore.known(shop_a, orders[:1])

    code, out, err = run(capsys, "sync", "--shop", "SHOP-A.myshopify.com", "--days", "31")

    assert (code, err) == (0, "")
    lines = out.splitlines()
    assert lines[0].startswith("4 orders scanned · 3 delivered · 1 already known (through ")
    assert lines[1] == "Sync of shop-a.myshopify.com: succeeded."
    assert "  Delivered now:     3" in lines
    assert "  Already known:     1" in lines
    assert EmailLog.objects.count() == 3
    assert SyncRun.objects.get().trigger == "cli"


def test_sync_of_a_store_whose_token_is_refused_fails_with_the_reason(
    sync_devstore: Devstore, shop_a: Shop, capsys
) -> None:
    sync_devstore.shop(shop_a)
    sync_devstore.store.token_revoke(shop=shop_a.domain)

    code, out, _ = run(capsys, "sync", "--shop", shop_a.domain)

    assert code == 1
    assert "Sync of shop-a.myshopify.com: failed." in out
    assert out.rstrip().endswith("Shopify refused the access token; reinstall the app")


def test_sync_of_an_unknown_store_changes_nothing(db, capsys) -> None:
    code, _, err = run(capsys, "sync", "--shop", "nope.myshopify.com")

    assert code == 1
    assert "no shop nope.myshopify.com" in err
    assert SyncRun.objects.count() == 0


def test_sync_refuses_a_look_back_of_zero_days(shop_a: Shop, capsys) -> None:
    code, _, err = run(capsys, "sync", "--shop", shop_a.domain, "--days", "0")

    assert code == 2
    assert "--days must be between 1 and 3650 (got 0)" in err
    assert SyncRun.objects.count() == 0
