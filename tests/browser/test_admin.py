"""The merchant's admin in a real browser: search, open an order, press every action; change
download settings; upload, attach, sync a lost order and see it delivered; brand the email."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Page, expect

from imprint.delivery.models import DownloadGrant
from imprint.delivery.services import grants_issue
from imprint.orders.models import DeliveryStatus, Order, OrderActivity
from imprint.shops.models import Shop
from imprint.web.auth import login_link_create
from tests.factories import LineItemFactory, OrderFactory, ShopFactory
from tests.processes import child_env, wait_until
from tests.web.conftest import order_with_files, shopify_shop

pytestmark = [pytest.mark.slow]


@pytest.fixture
def shop(transactional_db, settings, live_server) -> Shop:
    settings.PUBLIC_URL = live_server.url
    return ShopFactory(
        domain="shop-a.myshopify.com",
        name="Shop A",
        email="owner@shop-a.example",
        access_token="shpat_browser_a",
    )


def sign_in(page: Page, shop: Shop) -> None:
    page.goto(login_link_create(shop=shop))
    expect(page.get_by_role("heading", name="Orders", exact=True)).to_be_visible()


def _banner(page: Page, text: str) -> None:
    expect(page.locator(".banner.success")).to_contain_text(text)


def test_search_open_an_order_and_use_every_action(page: Page, shop: Shop, live_server) -> None:
    from tests.browser.conftest import screenshot

    for number, name in ((1001, "Ada Lovelace"), (1002, "Alan Turing"), (1003, "Grace Hopper")):
        first, last = name.split()
        order_with_files(
            shop,
            name=f"#{number}",
            email=f"{first.lower()}@example.com",
            customer_first_name=first,
            customer_last_name=last,
            files=("guide.pdf", "bonus.zip"),
            delivery_status=DeliveryStatus.PROCESSED,
        )
    sign_in(page, shop)
    expect(page.locator("#order-results tbody tr")).to_have_count(3)
    screenshot(page, "orders")

    page.get_by_label("Search orders").fill("turing")
    expect(page.locator("#order-results tbody tr")).to_have_count(1)
    expect(page.locator("#order-results")).to_contain_text("#1002")
    page.get_by_label("Search orders").fill("nobody at all")
    expect(page.locator("#order-results")).to_contain_text("No orders found")
    screenshot(page, "orders-no-result")
    page.get_by_label("Search orders").fill("#1002")
    page.get_by_role("link", name="#1002").click()
    expect(page.get_by_role("heading", name=re.compile("#1002"))).to_be_visible()
    screenshot(page, "order-details")
    order = Order.objects.get(name="#1002")

    page.get_by_role("link", name="Resend Email").click()
    dialog = page.locator("#dialog-resend")
    expect(dialog).to_be_visible()
    screenshot(page, "order-resend-dialog")
    dialog.get_by_label("Send to").fill("alan.turing@example.org")
    dialog.get_by_role("button", name="Resend Email").click()
    _banner(page, "The delivery email is on its way to alan.turing@example.org.")
    expect(page.locator(".timeline")).to_contain_text(
        "Resend of the delivery email to alan.turing@example.org queued."
    )

    DownloadGrant.objects.filter(order=order).update(bytes_used=10_000)
    page.get_by_role("link", name="Reset Downloads").click()
    page.locator("#dialog-reset").get_by_role("button", name="Reset Downloads").click()
    _banner(page, "Downloads reset: 2 files can be downloaded again in full.")
    expect(page.locator(".timeline")).to_contain_text("Reset downloads of 2 file(s).")
    assert list(DownloadGrant.objects.filter(order=order).values_list("bytes_used", flat=True)) == [
        0,
        0,
    ]

    page.get_by_role("link", name="Extend Expiry").click()
    days = page.locator("#dialog-extend").get_by_label("Days to add")
    expect(days).to_have_value("30")
    days.fill("12")
    page.locator("#dialog-extend").get_by_role("button", name="Extend Expiry").click()
    _banner(page, "Expiry extended by 12 days for 2 files.")
    expect(page.locator(".timeline")).to_contain_text(
        "Extended expiry of 2 download link(s) by 12 day(s)."
    )

    page.get_by_role("link", name="Restrict Downloads").click()
    page.locator("#dialog-restrict").get_by_role("button", name="Restrict Downloads").click()
    _banner(page, "Downloads restricted: 2 download links stopped working.")
    expect(page.locator("table").first).to_contain_text("Restricted")
    expect(page.locator(".timeline")).to_contain_text("Restricted 2 download link(s)")

    page.get_by_role("link", name="Restore access").click()
    page.locator("#dialog-restore").get_by_role("button", name="Restore access").click()
    _banner(page, "Access restored: 2 download links work again.")
    expect(page.locator(".timeline")).to_contain_text("Restored access to 2 download link(s).")
    screenshot(page, "order-after-actions")
    actors = set(OrderActivity.objects.filter(order=order).values_list("actor", flat=True))
    assert actors == {"Store staff (sign-in link)"}

    # Keyboard: the dialog opens from the keyboard and Escape closes it without acting.
    page.get_by_role("link", name="Reset Downloads").focus()
    page.keyboard.press("Enter")
    expect(page.locator("#dialog-reset")).to_be_visible()
    page.keyboard.press("Escape")
    expect(page.locator("#dialog-reset")).to_be_hidden()
    assert OrderActivity.objects.filter(order=order, action="reset").count() == 1


def test_download_settings_apply_to_a_new_order(page: Page, shop: Shop) -> None:
    from tests.browser.conftest import screenshot

    sign_in(page, shop)
    page.get_by_role("link", name="Download Settings").click()
    screenshot(page, "download-settings")
    page.get_by_label("Download expiry (days)").fill("-4")
    page.get_by_role("button", name="Save", exact=True).click()
    expect(page.locator(".errorlist")).to_contain_text("Enter at least 1 day, or choose unlimited.")
    page.get_by_label("Download expiry (days)").fill("21")
    page.get_by_label("Maximum downloads").fill("4")
    page.get_by_label("Product name").check()
    page.get_by_role("button", name="Save", exact=True).click()
    _banner(page, "Download settings saved.")
    shop.refresh_from_db()
    assert (shop.download_expiry_days, shop.download_max, shop.filename_mode) == (21, 4, "product")

    order = order_with_files(shop, name="#2001", files=("a.pdf", "b.pdf"))
    page.goto(f"{page.url.split('/app/')[0]}/app/orders/{order.pk}")
    expect(page.locator("table").first).to_contain_text("0 / 4")
    expect(page.locator("table").first).to_contain_text("Snowboard Guide_01.pdf")

    page.get_by_role("link", name="Download Settings").click()
    page.get_by_role("button", name=re.compile("^Generous")).click()
    _banner(page, "Generous limits saved.")
    shop.refresh_from_db()
    assert (shop.download_expiry_days, shop.download_max) == (30, 10)


def test_upload_attach_sync_a_lost_order_and_see_it_delivered(
    page: Page, shop: Shop, shopify, processes, tmp_path, settings
) -> None:
    from tests.browser.conftest import screenshot

    shopify_shop(shopify, shop)
    product = shopify.product_create(
        shop=shop.domain, title="Snowboard Field Guide", variants=["PDF", "Print"]
    )
    shopify.product_create(shop=shop.domain, title="Wax Kit")
    worker = processes.start(
        "worker", env=child_env(IMPRINT_SHOPIFY_ADMIN_ORIGIN=settings.SHOPIFY_ADMIN_ORIGIN)
    )

    sign_in(page, shop)
    page.get_by_role("link", name="Files", exact=True).click()
    expect(page.get_by_role("heading", name="No files yet")).to_be_visible()
    upload = tmp_path / "Field Guide.pdf"
    upload.write_bytes(b"%PDF-1.7 field guide\n" * 50_000)
    page.locator("input[type=file][name=file]").first.set_input_files(str(upload))
    page.get_by_role("button", name="Upload", exact=True).click()
    _banner(page, "Field Guide.pdf uploaded.")
    expect(page.locator("table")).to_contain_text("1.0\xa0MB")
    screenshot(page, "files")

    page.get_by_text("Attach to a product").click()
    page.get_by_label("Search products by title").fill("snowboard")
    expect(page.locator(".picker")).to_contain_text("Snowboard Field Guide")
    expect(page.locator(".picker")).not_to_contain_text("Wax Kit")
    screenshot(page, "files-product-picker")
    page.locator(".picker").get_by_role("button", name="Snowboard Field Guide").click()
    page.get_by_role("button", name="Attach", exact=True).click()
    _banner(page, "Field Guide.pdf attached to Snowboard Field Guide.")
    expect(page.locator("table")).to_contain_text("Snowboard Field Guide (every variant)")

    # A customer buys it while webhooks are lost: only the sync can find the order.
    bought = shopify.order_create(
        shop=shop.domain,
        lines=[(product.variants[0].id, 1)],
        email="rider@example.com",
        first_name="Robin",
        webhooks=False,
    )
    page.get_by_role("link", name="Order Settings").click()
    screenshot(page, "order-settings")
    page.get_by_role("button", name="Sync orders from Shopify").click()
    expect(page.locator("[data-sync-state]")).to_have_attribute(
        "data-sync-state", re.compile("waiting|running|succeeded")
    )
    expect(page.locator("dl.summary")).to_contain_text("Newly delivered", timeout=60_000)
    expect(page.locator("dl.summary")).to_contain_text("1")
    screenshot(page, "order-settings-synced")
    assert worker.alive(), processes.outputs()

    wait_until(
        lambda: Order.objects.filter(
            shopify_id=bought.id, delivery_status=DeliveryStatus.PROCESSED
        ).exists(),
        timeout=60,
        what="the synced order's email to go out",
    )
    page.get_by_role("navigation").get_by_role("link", name="Orders", exact=True).click()
    expect(page.locator("#order-results")).to_contain_text("Robin")
    expect(page.locator("#order-results")).to_contain_text("Processed")
    expect(page.locator("#order-results")).to_contain_text("0 / 1")
    screenshot(page, "orders-after-sync")


def test_email_branding_changes_the_live_preview(page: Page, shop: Shop) -> None:
    from tests.browser.conftest import screenshot

    sign_in(page, shop)
    page.get_by_role("link", name="Email", exact=True).click()
    expect(page.locator("[data-preview-subject]")).to_have_text(
        "Your downloads from Shop A (order #1001)"
    )
    page.get_by_label("Subject").fill("Your {shop_name} goodies, {first_name}")
    expect(page.locator("[data-preview-subject]")).to_have_text("Your Shop A goodies, Alex")
    page.get_by_label("Greeting").fill("Hey {first_name}!")
    expect(page.locator("[data-preview-text]")).to_contain_text("Hey Alex!")
    page.get_by_label("Greeting").fill("Hey {nickname}!")
    expect(page.locator("#email-preview .banner")).to_contain_text(
        "{nickname} is not a placeholder."
    )
    page.get_by_label("Greeting").fill("Hey {first_name}!")
    frame = page.frame_locator("iframe.preview-frame")
    expect(frame.locator("body")).to_contain_text("Hey Alex!")
    screenshot(page, "email")
    page.get_by_role("button", name="Save", exact=True).click()
    _banner(page, "Email settings saved.")
    shop.refresh_from_db()
    assert (shop.email_subject, shop.email_greeting) == (
        "Your {shop_name} goodies, {first_name}",
        "Hey {first_name}!",
    )


def test_pages_read_on_a_phone(browser, shop: Shop) -> None:
    from tests.browser.conftest import screenshot

    context = browser.new_context(viewport={"width": 390, "height": 844}, is_mobile=True)
    page = context.new_page()
    try:
        order = OrderFactory(shop=shop, name="#3001", has_digital_items=True)
        LineItemFactory(order=order)
        grants_issue(order=order)
        sign_in(page, shop)
        width = page.evaluate("document.documentElement.scrollWidth")
        assert width <= 390
        screenshot(page, "orders-phone")
    finally:
        context.close()


def test_a_file_dropped_on_the_page_uploads_with_a_progress_bar(page: Page, shop: Shop) -> None:
    from imprint.catalog.models import DigitalFile

    sign_in(page, shop)
    page.get_by_role("link", name="Files", exact=True).click()
    zone = page.locator("form[data-upload] .dropzone").first
    # The page is left when the upload ends: keep the highest value the bar showed meanwhile.
    page.evaluate(
        """() => {
            const bar = document.querySelector("form[data-upload] progress");
            sessionStorage.setItem("progress", "-1");
            new MutationObserver(() => {
                if (!bar.hidden) {
                    const seen = Number(sessionStorage.getItem("progress"));
                    sessionStorage.setItem("progress", String(Math.max(seen, bar.value)));
                }
            }).observe(bar, {attributes: true});
        }"""
    )
    # The drop event a browser fires when a file is dragged in from the desktop.
    dropped = page.evaluate_handle(
        """() => {
            const data = new DataTransfer();
            const bytes = new Uint8Array(3 * 1024 * 1024).fill(65);
            data.items.add(new File([bytes], "Dropped Guide.pdf", {type: "application/pdf"}));
            return data;
        }"""
    )
    zone.dispatch_event("dragenter", {"dataTransfer": dropped})
    expect(zone).to_have_class(re.compile(r"\bover\b"))
    zone.dispatch_event("drop", {"dataTransfer": dropped})

    _banner(page, "Dropped Guide.pdf uploaded.")
    stored = DigitalFile.objects.get(shop=shop)
    assert (stored.name, stored.size, stored.content_type) == (
        "Dropped Guide.pdf",
        3 * 1024 * 1024,
        "application/pdf",
    )
    # The bar was shown and filled while the bytes went up.
    assert page.evaluate("() => sessionStorage.getItem('progress')") == "100"
