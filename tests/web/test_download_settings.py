from __future__ import annotations

import pytest

from imprint.delivery.models import DownloadGrant
from imprint.delivery.services import grants_issue
from imprint.shops.models import ProductSettings, Shop
from tests.factories import LineItemFactory, OrderFactory
from tests.web.conftest import order_with_files


def _limits(shop: Shop) -> tuple[int | None, int | None, str]:
    shop.refresh_from_db()
    return shop.download_expiry_days, shop.download_max, shop.filename_mode


def test_page_shows_the_current_settings_and_the_note(client_a, shop_a):
    html = client_a.get("/app/settings/downloads").content.decode()
    assert 'value="30"' in html
    assert 'value="5"' in html
    assert "Changes apply to orders delivered from now on." in html
    for preset in ("Standard", "Generous", "Unlimited"):
        assert preset in html


def test_saving_settings_applies_to_new_orders_only(client_a, shop_a):
    old = order_with_files(shop_a)
    response = client_a.post(
        "/app/settings/downloads",
        {
            "expiry_days": "",
            "expiry_unlimited": "on",
            "max_downloads": "2",
            "filename_mode": "product",
        },
        follow=True,
    )
    assert "Download settings saved." in response.content.decode()
    assert _limits(shop_a) == (None, 2, "product")
    new = order_with_files(shop_a)
    assert DownloadGrant.objects.filter(order=new).values_list(
        "max_downloads", "expires_at"
    ).get() == (2, None)
    assert DownloadGrant.objects.get(order=old).max_downloads == 5


@pytest.mark.parametrize(
    ("preset", "expected"),
    [("standard", (7, 3)), ("generous", (30, 10)), ("unlimited", (None, None))],
)
def test_presets(client_a, shop_a, preset, expected):
    response = client_a.post("/app/settings/downloads", {"preset": preset}, follow=True)
    assert response.status_code == 200
    assert _limits(shop_a)[:2] == expected


def test_unknown_preset_is_refused(client_a, shop_a):
    assert client_a.post("/app/settings/downloads", {"preset": "free-for-all"}).status_code == 400
    assert _limits(shop_a) == (30, 5, "original")


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"expiry_days": "-3", "max_downloads": "3"}, "Enter at least 1 day, or choose unlimited."),
        ({"expiry_days": "0", "max_downloads": "3"}, "Enter at least 1 day, or choose unlimited."),
        (
            {"expiry_days": "4000", "max_downloads": "3"},
            "Enter at most 3650 days, or choose unlimited.",
        ),
        (
            {"expiry_days": "7", "max_downloads": "1001"},
            "Enter at most 1000 downloads, or choose unlimited.",
        ),
        (
            {"expiry_days": "7", "max_downloads": ""},
            "Enter a number of downloads, or choose unlimited.",
        ),
        ({"expiry_days": "seven", "max_downloads": "3"}, "Enter a whole number of days."),
    ],
)
def test_bad_settings_are_explained_and_change_nothing(client_a, shop_a, data, message):
    response = client_a.post("/app/settings/downloads", {**data, "filename_mode": "original"})
    assert response.status_code == 400
    assert message in response.content.decode()
    assert _limits(shop_a) == (30, 5, "original")


def test_bad_filename_mode_is_refused(client_a, shop_a):
    response = client_a.post(
        "/app/settings/downloads",
        {"expiry_days": "7", "max_downloads": "3", "filename_mode": "shout"},
    )
    assert response.status_code == 400
    assert _limits(shop_a) == (30, 5, "original")


def test_a_product_can_have_its_own_limits(client_a, shop_a):
    order = order_with_files(shop_a)
    product_id = order.line_items.get().product_id
    response = client_a.post(
        "/app/settings/downloads/products",
        {
            "product_id": str(product_id),
            "expiry_days": "",
            "expiry_unlimited": "on",
            "max_downloads": "9",
        },
        follow=True,
    )
    assert "own limits are saved" in response.content.decode()
    assert ProductSettings.objects.filter(shop=shop_a).values_list(
        "product_id", "expiry_days", "max_downloads"
    ).get() == (product_id, None, 9)
    # A new order of that product gets them; another product keeps the store's.
    again = OrderFactory(shop=shop_a, has_digital_items=True)
    LineItemFactory(order=again, product_id=product_id)
    grants = grants_issue(order=again)
    assert [(g.max_downloads, g.expires_at) for g in grants] == [(9, None)]
    other = order_with_files(shop_a)
    assert other.grants.get().max_downloads == 5


def test_product_limits_only_for_the_stores_attached_products(client_a, shop_a, shop_b):
    other = order_with_files(shop_b)
    response = client_a.post(
        "/app/settings/downloads/products",
        {
            "product_id": str(other.line_items.get().product_id),
            "expiry_days": "3",
            "max_downloads": "3",
        },
    )
    assert response.status_code == 400
    assert ProductSettings.objects.count() == 0


def test_clearing_a_products_limits(client_a, client_b, shop_a):
    ProductSettings.objects.create(shop=shop_a, product_id=42, expiry_days=3, max_downloads=3)
    assert client_b.post("/app/settings/downloads/products/42/clear").status_code == 404
    assert ProductSettings.objects.count() == 1
    client_a.post("/app/settings/downloads/products/42/clear")
    assert ProductSettings.objects.count() == 0
