from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone

from imprint.delivery.models import DownloadEvent, DownloadGrant, Restriction
from imprint.emails.models import EmailKind, EmailLog, EmailStatus
from imprint.orders.models import OrderActivity
from tests.web.conftest import order_with_files

ACTIONS = ("resend", "reset", "extend", "restrict", "restore")


def _grants(order) -> list[tuple[int, str, dt.datetime | None]]:
    return list(
        DownloadGrant.objects.filter(order=order)
        .order_by("id")
        .values_list("bytes_used", "restriction", "expires_at")
    )


def test_order_details_show_files_emails_downloads_and_activity(client_a, shop_a):
    order = order_with_files(
        shop_a,
        name="#1001",
        email="ada@example.com",
        customer_first_name="Ada",
        customer_last_name="Lovelace",
    )
    grant = order.grants.get()
    DownloadGrant.objects.filter(pk=grant.pk).update(
        bytes_used=grant.file_size, last_download_at=timezone.now()
    )
    DownloadEvent.objects.create(
        grant=grant,
        ip="203.0.113.9",
        user_agent="Mozilla/5.0 Test",
        range_start=0,
        range_end=9,
        bytes_charged=10,
    )
    EmailLog.objects.create(
        shop=shop_a,
        order=order,
        kind=EmailKind.DELIVERY,
        to="ada@example.com",
        status=EmailStatus.FAILED,
        last_error="The mail server refused the address ada@example.com: 550 no such user",
    )
    OrderActivity.objects.create(order=order, actor="Shopify", action="paid", detail="Order paid.")
    html = client_a.get(f"/app/orders/{order.pk}").content.decode()
    for text in (
        "Ada Lovelace",
        "ada@example.com",
        "guide.pdf",
        "1 / 5",
        "Active",
        "203.0.113.9",
        "Mozilla/5.0 Test",
        "550 no such user",
        "Order paid.",
        "Resend Email",
        "Reset Downloads",
        "Extend Expiry",
        "Restrict Downloads",
    ):
        assert text in html, text
    assert "Restore access</a>" not in html


def test_another_stores_order_is_not_found_for_every_page_and_action(client_b, shop_a):
    order = order_with_files(shop_a)
    before = _grants(order)
    assert client_b.get(f"/app/orders/{order.pk}").status_code == 404
    for action in ACTIONS:
        assert client_b.get(f"/app/orders/{order.pk}/confirm/{action}").status_code == 404
        response = client_b.post(
            f"/app/orders/{order.pk}/{action}", {"days": 5, "to": "x@example.com"}
        )
        assert response.status_code == 404, action
    assert _grants(order) == before
    assert EmailLog.objects.count() == 0
    assert OrderActivity.objects.count() == 0


def test_unknown_order_and_action_are_not_found(client_a, shop_a):
    order = order_with_files(shop_a)
    assert client_a.get("/app/orders/999999").status_code == 404
    assert client_a.get(f"/app/orders/{order.pk}/confirm/delete-everything").status_code == 404


@pytest.mark.parametrize("action", ACTIONS)
def test_each_action_has_a_confirmation_page_that_works_without_javascript(
    client_a, shop_a, action
):
    order = order_with_files(shop_a)
    html = client_a.get(f"/app/orders/{order.pk}/confirm/{action}").content.decode()
    assert f'action="/app/orders/{order.pk}/{action}"' in html
    assert "csrfmiddlewaretoken" in html


def test_actions_are_post_only(client_a, shop_a):
    order = order_with_files(shop_a)
    for action in ACTIONS:
        assert client_a.get(f"/app/orders/{order.pk}/{action}").status_code == 405
    assert OrderActivity.objects.count() == 0


def test_actions_without_the_csrf_token_are_refused(shop_a):
    from tests.web.conftest import signed_in

    order = order_with_files(shop_a)
    client = signed_in(shop_a)
    client.handler.enforce_csrf_checks = True
    before = _grants(order)
    for action in ACTIONS:
        assert client.post(f"/app/orders/{order.pk}/{action}", {"days": 3}).status_code == 403
    assert _grants(order) == before
    assert OrderActivity.objects.count() == 0


def test_resend_to_the_orders_address_queues_an_email_and_logs_who(client_a, shop_a):
    order = order_with_files(shop_a, email="ada@example.com")
    response = client_a.post(f"/app/orders/{order.pk}/resend", {"to": ""}, follow=True)
    assert "The delivery email is on its way to ada@example.com." in response.content.decode()
    email = EmailLog.objects.get()
    assert (email.kind, email.to, email.status) == (
        EmailKind.RESEND,
        "ada@example.com",
        EmailStatus.QUEUED,
    )
    activity = OrderActivity.objects.get(action="email_resend")
    assert activity.actor == "Store staff (login link)"


def test_resend_to_a_corrected_address(client_a, shop_a):
    order = order_with_files(shop_a, email="")
    client_a.post(f"/app/orders/{order.pk}/resend", {"to": "fixed@example.com"})
    assert EmailLog.objects.get().to == "fixed@example.com"


def test_resend_with_a_bad_address_explains_and_changes_nothing(client_a, shop_a):
    order = order_with_files(shop_a)
    response = client_a.post(f"/app/orders/{order.pk}/resend", {"to": "not an address"})
    assert response.status_code == 400
    assert "Enter a valid email address" in response.content.decode()
    assert EmailLog.objects.count() == 0
    assert OrderActivity.objects.count() == 0


def test_resend_without_any_address_says_to_enter_one(client_a, shop_a):
    order = order_with_files(shop_a, email="")
    response = client_a.post(f"/app/orders/{order.pk}/resend", {"to": ""})
    assert response.status_code == 400
    assert (
        "The order has no email address. Enter the address to send to." in response.content.decode()
    )
    assert EmailLog.objects.count() == 0


def test_resend_when_every_link_is_restricted_says_to_restore_first(client_a, shop_a):
    order = order_with_files(shop_a)
    DownloadGrant.objects.update(restriction=Restriction.MERCHANT)
    response = client_a.post(f"/app/orders/{order.pk}/resend", {"to": ""})
    assert response.status_code == 400
    assert "Restore access before resending." in response.content.decode()
    assert EmailLog.objects.count() == 0


def test_reset_downloads(client_a, shop_a):
    order = order_with_files(shop_a, files=("a.pdf", "b.pdf"))
    DownloadGrant.objects.update(bytes_used=5000)
    response = client_a.post(f"/app/orders/{order.pk}/reset", follow=True)
    assert "Downloads reset: 2 files can be downloaded again in full." in response.content.decode()
    assert [g[0] for g in _grants(order)] == [0, 0]
    assert OrderActivity.objects.get().detail == "Reset downloads of 2 file(s)."


def test_extend_expiry_adds_days_and_the_default_is_the_stores_expiry(client_a, shop_a):
    shop_a.download_expiry_days = 14
    shop_a.save()
    order = order_with_files(shop_a)
    page = client_a.get(f"/app/orders/{order.pk}/confirm/extend").content.decode()
    assert 'value="14"' in page
    expires = order.grants.get().expires_at
    response = client_a.post(f"/app/orders/{order.pk}/extend", {"days": "3"}, follow=True)
    assert "Expiry extended by 3 days for 1 file." in response.content.decode()
    assert order.grants.get().expires_at == expires + dt.timedelta(days=3)


@pytest.mark.parametrize(
    ("days", "message"),
    [
        ("-1", "Add at least 1 day."),
        ("0", "Add at least 1 day."),
        ("99999", "Add at most 3650 days."),
        ("two", "Enter a whole number of days."),
        ("", "Enter how many days to add."),
    ],
)
def test_extend_with_bad_days_explains_and_changes_nothing(client_a, shop_a, days, message):
    order = order_with_files(shop_a)
    before = _grants(order)
    response = client_a.post(f"/app/orders/{order.pk}/extend", {"days": days})
    assert response.status_code == 400
    assert message in response.content.decode()
    assert _grants(order) == before
    assert OrderActivity.objects.count() == 0


def test_restrict_then_restore(client_a, shop_a):
    order = order_with_files(shop_a, files=("a.pdf", "b.pdf"))
    restricted = client_a.post(f"/app/orders/{order.pk}/restrict", follow=True).content.decode()
    assert "Downloads restricted: 2 download links stopped working." in restricted
    assert "Restore access</a>" in restricted
    assert [g[1] for g in _grants(order)] == [Restriction.MERCHANT, Restriction.MERCHANT]
    restored = client_a.post(f"/app/orders/{order.pk}/restore", follow=True).content.decode()
    assert "Access restored: 2 download links work again." in restored
    assert [g[1] for g in _grants(order)] == ["", ""]
    log = list(OrderActivity.objects.order_by("id").values_list("action", "actor"))
    assert log == [
        ("restrict", "Store staff (login link)"),
        ("restore", "Store staff (login link)"),
    ]
    assert "Restored access to 2 download link(s)." in restored


def test_unexpected_failures_reach_pages_without_their_exception_text(
    client_a, shop_a, monkeypatch
):
    """A bug in sending an email or in the sync is described to the merchant in plain words; the
    exception itself (which may hold internals) goes to the server log only."""
    from imprint.emails import services as email_services
    from imprint.orders import sync as sync_module
    from imprint.orders.sync import orders_sync
    from tests.shopify.helpers import run_queued

    marker = "internal-detail-4711"

    def broken(**kwargs):  # type: ignore[no-untyped-def]
        raise KeyError(marker)

    order = order_with_files(shop_a)
    from imprint.emails.services import email_delivery_queue

    email_delivery_queue(order=order)
    monkeypatch.setattr(email_services, "delivery_email_render", broken)
    # Logged with its traceback and retried later; the worker's batch goes on (nothing raised).
    assert run_queued("emails") == 1
    monkeypatch.setattr(sync_module, "admin_client_for", broken)
    run = orders_sync(shop=shop_a)

    email = EmailLog.objects.get(order=order)
    assert (email.status, email.attempts) == (EmailStatus.QUEUED, 1)
    assert email.next_attempt_at is not None
    assert email.last_error.startswith("Imprint could not send")
    assert run.status == "failed"
    for url in (f"/app/orders/{order.pk}", "/app/settings/orders"):
        html = client_a.get(url).content.decode()
        assert marker not in html
        assert "KeyError" not in html
        assert "Traceback" not in html
    assert "could not send this email" in client_a.get(f"/app/orders/{order.pk}").content.decode()
    assert "unexpected error" in client_a.get("/app/settings/orders").content.decode()


def test_another_store_cannot_see_the_first_stores_orders_in_search(client_b, shop_a):
    order_with_files(shop_a, name="#1001")
    assert client_b.get("/app/", {"q": "1001"}).context["rows"] == []
