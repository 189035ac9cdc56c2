from __future__ import annotations

import datetime as dt
import itertools

import pytest
import time_machine
from django.db import connection
from django_tasks_db.models import DBTaskResult

from imprint.delivery.models import DownloadGrant
from imprint.emails.models import EmailLog
from imprint.orders import services as order_services
from imprint.orders.models import LineItem, Order, OrderActivity
from imprint.orders.services import order_ingest, refund_apply
from imprint.shopify.payloads import order_from_payload, refund_from_payload
from imprint.shops.models import Shop
from tests.concurrency import at_once
from tests.factories import AttachmentFactory, DigitalFileFactory, ShopFactory
from tests.shopify.helpers import paid_order, sample

PRODUCT = 788032119674292922  # the product of three of the sample's five lines
T0 = "2026-12-01T10:00:00Z"
T1 = "2026-12-01T10:05:00Z"
T2 = "2026-12-01T10:10:00Z"


def order_data(**changes):  # type: ignore[no-untyped-def]
    return order_from_payload(paid_order(**changes))


def attach(
    shop: Shop, product_id: int = PRODUCT, variant_id: int | None = None, name: str = "guide.pdf"
):  # type: ignore[no-untyped-def]
    return AttachmentFactory(
        shop=shop,
        file=DigitalFileFactory(shop=shop, name=name),
        product_id=product_id,
        variant_id=variant_id,
    )


@pytest.mark.django_db
def test_paid_order_records_lines_grants_and_one_queued_email(shop_a) -> None:
    attach(shop_a)

    result = order_ingest(shop=shop_a, data=order_data(), source="test")

    assert (result.created, result.stale, result.delivered) == (True, False, True)
    order = Order.objects.get()
    assert (order.name, order.email, order.customer_first_name, order.has_digital_items) == (
        "#9999",
        "jon@example.com",
        "John",
        True,
    )
    assert order.line_items.count() == 5
    assert sorted(order.grants.values_list("line_item__shopify_id", flat=True)) == [
        315789986012684393,
        487817672276298554,
        976318377106520349,
    ]
    email = EmailLog.objects.get()
    assert (email.kind, email.to, email.status) == ("delivery", "jon@example.com", "queued")
    # The QUEUED row is the email's place in the queue, due now and never tried: no job.
    assert (email.attempts, email.claimed_at, email.next_attempt_at) == (0, None, None)
    assert DBTaskResult.objects.count() == 0
    assert order.delivery_status == "pending"


@pytest.mark.django_db
def test_order_without_digital_items_is_recorded_and_sends_nothing(shop_a) -> None:
    attach(shop_a, product_id=1234)  # another product

    result = order_ingest(shop=shop_a, data=order_data(), source="test")

    order = Order.objects.get()
    assert (result.delivered, order.has_digital_items, order.delivery_status) == (
        False,
        False,
        "no_digital",
    )
    assert DownloadGrant.objects.count() == 0
    assert EmailLog.objects.count() == 0
    assert DBTaskResult.objects.count() == 0


@pytest.mark.django_db
def test_a_file_for_one_variant_goes_only_to_that_variant(shop_a) -> None:
    attach(shop_a, product_id=111, variant_id=222, name="red.pdf")
    attach(shop_a, product_id=111, variant_id=None, name="manual.pdf")
    lines = [
        {"id": 1, "product_id": 111, "variant_id": 222, "title": "Kit", "quantity": 1},
        {"id": 2, "product_id": 111, "variant_id": 333, "title": "Kit", "quantity": 1},
    ]

    order_ingest(shop=shop_a, data=order_data(line_items=lines), source="test")

    grants = sorted(DownloadGrant.objects.values_list("line_item__shopify_id", "filename"))
    assert grants == [(1, "manual.pdf"), (1, "red.pdf"), (2, "manual.pdf")]


@pytest.mark.django_db
def test_product_filename_mode_numbers_several_files_and_keeps_extensions(shop_a) -> None:
    shop_a.filename_mode = "product"
    shop_a.save()
    attach(shop_a, product_id=111, name="a-part.pdf")
    attach(shop_a, product_id=111, name="b-part.epub")
    attach(shop_a, product_id=222, name="single.zip")
    lines = [
        {"id": 1, "product_id": 111, "title": "Snowboard Guide", "quantity": 1},
        {"id": 2, "product_id": 222, "title": "Wax/Tips: 2026", "quantity": 1},
    ]

    order_ingest(shop=shop_a, data=order_data(line_items=lines), source="test")

    assert sorted(DownloadGrant.objects.values_list("filename", flat=True)) == [
        "Snowboard Guide_01.pdf",
        "Snowboard Guide_02.epub",
        "Wax_Tips_ 2026.zip",
    ]


@pytest.mark.django_db
def test_grants_keep_the_limits_they_were_issued_with(shop_a) -> None:
    shop_a.download_expiry_days = 7
    shop_a.download_max = 3
    shop_a.save()
    attach(shop_a)
    now = dt.datetime(2026, 12, 4, 12, 0, tzinfo=dt.UTC)

    with time_machine.travel(now, tick=False):
        order_ingest(shop=shop_a, data=order_data(), source="test")
    Shop.objects.filter(pk=shop_a.pk).update(download_expiry_days=None, download_max=None)

    limits = set(DownloadGrant.objects.values_list("max_downloads", "expires_at"))
    assert limits == {(3, now + dt.timedelta(days=7))}


@pytest.mark.django_db
def test_unlimited_settings_issue_unlimited_grants(shop_a) -> None:
    Shop.objects.filter(pk=shop_a.pk).update(download_expiry_days=None, download_max=None)
    shop_a.refresh_from_db()
    attach(shop_a)

    order_ingest(shop=shop_a, data=order_data(), source="test")

    assert set(DownloadGrant.objects.values_list("max_downloads", "expires_at")) == {(None, None)}


@pytest.mark.django_db
@pytest.mark.parametrize(
    "sequence",
    list(itertools.permutations(["create", "paid", "updated"])),
    ids=lambda s: "-".join(s),
)
def test_create_paid_updated_in_any_order_send_one_email(shop_a, sequence) -> None:
    attach(shop_a)
    payloads = {
        "create": order_data(financial_status="pending", created_at=T0, updated_at=T0),
        "paid": order_data(financial_status="paid", created_at=T0, updated_at=T1),
        "updated": order_data(
            financial_status="paid", created_at=T0, updated_at=T2, email="new@example.com"
        ),
    }

    for name in sequence:
        order_ingest(shop=shop_a, data=payloads[name], source=name)

    order = Order.objects.get()
    assert EmailLog.objects.count() == 1
    assert (order.financial_status, order.email) == ("paid", "new@example.com")
    assert order.shopify_updated_at == dt.datetime(2026, 12, 1, 10, 10, tzinfo=dt.UTC)
    assert DownloadGrant.objects.count() == 3


@pytest.mark.django_db
def test_stale_delivery_never_moves_an_order_backwards(shop_a) -> None:
    attach(shop_a)
    order_ingest(
        shop=shop_a, data=order_data(financial_status="refunded", updated_at=T2), source="newer"
    )

    result = order_ingest(
        shop=shop_a, data=order_data(financial_status="paid", updated_at=T1), source="older"
    )

    order = Order.objects.get()
    assert result.stale is True
    assert order.financial_status == "refunded"
    # Refunded before it was ever paid as far as Imprint knows: nothing is sent.
    assert EmailLog.objects.count() == 0


@pytest.mark.django_db
def test_unpaid_order_is_recorded_then_delivered_when_paid(shop_a) -> None:
    attach(shop_a)

    first = order_ingest(
        shop=shop_a, data=order_data(financial_status="pending", updated_at=T0), source="create"
    )
    assert (first.delivered, EmailLog.objects.count(), DownloadGrant.objects.count()) == (
        False,
        0,
        0,
    )
    assert Order.objects.get().delivery_status == "pending"

    second = order_ingest(
        shop=shop_a, data=order_data(financial_status="paid", updated_at=T1), source="paid"
    )

    assert (second.created, second.delivered) == (False, True)
    assert EmailLog.objects.count() == 1


@pytest.mark.django_db
@pytest.mark.parametrize(
    "status", ["authorized", "partially_paid", "voided", "expired", "something-new"]
)
def test_orders_without_confirmed_payment_are_not_delivered(shop_a, status) -> None:
    attach(shop_a)

    order_ingest(shop=shop_a, data=order_data(financial_status=status), source="test")

    assert EmailLog.objects.count() == 0
    assert DownloadGrant.objects.count() == 0


@pytest.mark.django_db
def test_cancellation_restricts_every_link(shop_a) -> None:
    attach(shop_a)
    order_ingest(shop=shop_a, data=order_data(updated_at=T0), source="paid")

    order_ingest(shop=shop_a, data=order_data(updated_at=T1, cancelled_at=T1), source="cancelled")

    assert set(DownloadGrant.objects.values_list("restriction", flat=True)) == {"cancelled"}
    assert Order.objects.get().delivery_status == "restricted"


@pytest.mark.django_db
def test_full_refund_status_restricts_every_link(shop_a) -> None:
    attach(shop_a)
    order_ingest(shop=shop_a, data=order_data(updated_at=T0), source="paid")

    order_ingest(
        shop=shop_a, data=order_data(updated_at=T1, financial_status="refunded"), source="updated"
    )

    assert set(DownloadGrant.objects.values_list("restriction", flat=True)) == {"refunded"}


@pytest.mark.django_db
def test_partial_refund_restricts_only_the_refunded_line(shop_a) -> None:
    attach(shop_a)
    order_ingest(shop=shop_a, data=order_data(), source="paid")
    refund = {
        "id": 5,
        "order_id": 820982911946154508,
        "refund_line_items": [{"line_item_id": 976318377106520349, "quantity": 1}],
    }

    assert refund_apply(shop=shop_a, data=refund_from_payload(refund)) is True

    restrictions = dict(DownloadGrant.objects.values_list("line_item__shopify_id", "restriction"))
    assert restrictions == {
        487817672276298554: "",
        976318377106520349: "refunded",
        315789986012684393: "",
    }
    assert Order.objects.get().delivery_status == "pending"
    assert OrderActivity.objects.filter(action="refund").count() == 1


@pytest.mark.django_db
def test_partly_refunded_quantity_keeps_the_files(shop_a) -> None:
    attach(shop_a, product_id=111)
    lines = [{"id": 1, "product_id": 111, "title": "Licence", "quantity": 3}]
    order_ingest(shop=shop_a, data=order_data(line_items=lines), source="paid")
    refund = {
        "id": 5,
        "order_id": 820982911946154508,
        "refund_line_items": [{"line_item_id": 1, "quantity": 1}],
    }

    refund_apply(shop=shop_a, data=refund_from_payload(refund))

    assert DownloadGrant.objects.get().restriction == ""
    assert LineItem.objects.get().refunded_quantity == 1


@pytest.mark.django_db
def test_a_refund_is_counted_once_from_its_webhook_and_the_order_payload(shop_a) -> None:
    attach(shop_a, product_id=111)
    lines = [{"id": 1, "product_id": 111, "title": "Licence", "quantity": 2}]
    order_ingest(shop=shop_a, data=order_data(line_items=lines, updated_at=T0), source="paid")
    refund = {
        "id": 5,
        "order_id": 820982911946154508,
        "refund_line_items": [{"line_item_id": 1, "quantity": 1}],
    }

    refund_apply(shop=shop_a, data=refund_from_payload(refund))
    refund_apply(shop=shop_a, data=refund_from_payload(refund))
    order_ingest(
        shop=shop_a,
        data=order_data(line_items=lines, refunds=[refund], updated_at=T1),
        source="updated",
    )

    assert LineItem.objects.get().refunded_quantity == 1
    assert DownloadGrant.objects.get().restriction == ""


@pytest.mark.django_db
def test_refund_of_an_unknown_order_changes_nothing_until_the_order_arrives(shop_a) -> None:
    attach(shop_a)
    refund = sample("refunds_create")

    assert refund_apply(shop=shop_a, data=refund_from_payload(refund)) is False
    assert Order.objects.count() == 0

    refund["refund_line_items"] = refund["refund_line_items"][:1]
    order_ingest(
        shop=shop_a,
        data=order_data(refunds=[refund], financial_status="partially_refunded"),
        source="sync",
    )

    # The refunded line never gets a link; the others do.
    assert sorted(DownloadGrant.objects.values_list("line_item__shopify_id", flat=True)) == [
        315789986012684393,
        976318377106520349,
    ]
    assert EmailLog.objects.count() == 1


@pytest.mark.django_db
def test_orders_of_two_shops_with_the_same_id_stay_apart(shop_a, shop_b) -> None:
    attach(shop_a)

    order_ingest(shop=shop_a, data=order_data(), source="a")
    order_ingest(shop=shop_b, data=order_data(email="other@example.com"), source="b")

    assert Order.objects.get(shop=shop_a).email == "jon@example.com"
    assert Order.objects.get(shop=shop_b).email == "other@example.com"
    assert EmailLog.objects.count() == 1  # shop B has no files attached


@pytest.mark.django_db(transaction=True)
def test_a_failure_in_the_middle_of_ingest_leaves_no_half_written_order(
    shop_a, monkeypatch
) -> None:
    attach(shop_a)

    def broken(**kwargs):  # type: ignore[no-untyped-def]
        raise RuntimeError("mail queue unavailable")

    monkeypatch.setattr(order_services, "email_delivery_queue", broken)

    with pytest.raises(RuntimeError):
        order_ingest(shop=shop_a, data=order_data(), source="test")

    assert Order.objects.count() == 0
    assert LineItem.objects.count() == 0
    assert DownloadGrant.objects.count() == 0
    assert OrderActivity.objects.count() == 0
    assert DBTaskResult.objects.count() == 0


@pytest.mark.django_db(transaction=True)
def test_two_workers_racing_on_one_order_send_one_email() -> None:
    shop = ShopFactory()
    attach(shop)
    payloads = [
        order_data(financial_status="paid", updated_at=T1),
        order_data(financial_status="paid", updated_at=T2),
        order_data(financial_status="paid", updated_at=T1),
        order_data(financial_status="pending", updated_at=T0),
    ]
    at_once(
        lambda index: order_ingest(shop=shop, data=payloads[index], source="race"), len(payloads)
    )

    assert Order.objects.count() == 1
    assert EmailLog.objects.count() == 1
    assert DownloadGrant.objects.count() == 3
    assert Order.objects.get().financial_status == "paid"
    assert connection.vendor in {"sqlite", "postgresql"}
