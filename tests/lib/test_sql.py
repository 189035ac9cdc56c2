"""Statements written from a model's fields do what the ORM's equivalents do, on both databases:
the same rows chosen, the same values stored and loaded back, the same counts."""

from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone

from imprint.emails.models import EmailLog, EmailStatus
from imprint.lib.sql import sql_insert, sql_select, sql_update
from imprint.orders.models import DeliveryStatus, Order, OrderActivity
from tests.factories import OrderFactory

pytestmark = pytest.mark.django_db


def test_update_changes_the_matching_rows_and_counts_them_like_the_orm(shop_a) -> None:
    orders = [OrderFactory(shop=shop_a) for _ in range(4)]
    statuses = [
        DeliveryStatus.PENDING,
        DeliveryStatus.FAILED,
        DeliveryStatus.PROCESSED,
        DeliveryStatus.PENDING,
    ]
    for order, status in zip(orders, statuses, strict=True):
        Order.objects.filter(pk=order.pk).update(delivery_status=status)

    changed = sql_update(
        Order,
        where={
            "shop": shop_a.pk,
            "delivery_status": (DeliveryStatus.PENDING, DeliveryStatus.FAILED),
        },
        values={"delivery_status": DeliveryStatus.NO_DIGITAL, "name": "#changed"},
    )

    assert changed == 3
    rows = dict(Order.objects.values_list("pk", "delivery_status"))
    assert [rows[order.pk] for order in orders] == [
        DeliveryStatus.NO_DIGITAL,
        DeliveryStatus.NO_DIGITAL,
        DeliveryStatus.PROCESSED,
        DeliveryStatus.NO_DIGITAL,
    ]
    assert Order.objects.filter(name="#changed").count() == 3
    assert sql_update(Order, where={"id": -1}, values={"name": "#none"}) == 0


def test_update_converts_values_as_the_orm_does(shop_a) -> None:
    order = OrderFactory(shop=shop_a)
    email = EmailLog.objects.create(
        shop=shop_a, order=order, kind="resend", to="a@example.com", status=EmailStatus.SENDING
    )
    at = dt.datetime(2026, 12, 5, 3, 4, 5, 678000, tzinfo=dt.UTC)

    assert (
        sql_update(
            EmailLog,
            where={"id": email.pk, "status": EmailStatus.SENDING},
            values={"status": EmailStatus.SENT, "sent_at": at, "subject": "Ünïcode ✓"},
        )
        == 1
    )
    email.refresh_from_db()
    assert (email.status, email.sent_at, email.subject) == (EmailStatus.SENT, at, "Ünïcode ✓")
    # The condition on status no longer holds: nothing changes a second time.
    assert (
        sql_update(
            EmailLog, where={"id": email.pk, "status": EmailStatus.SENDING}, values={"subject": "x"}
        )
        == 0
    )


def test_insert_fills_what_is_not_given_as_the_orm_would(shop_a) -> None:
    order = OrderFactory(shop=shop_a)
    before = timezone.now()
    sql_insert(
        OrderActivity,
        {"order_id": order.pk, "actor": "Imprint", "action": "email_sent", "detail": "Sent ✓"},
    )
    sql_insert(OrderActivity, {"order": order.pk, "actor": "Jo", "action": "note"})

    sent, note = OrderActivity.objects.filter(order=order).order_by("id")
    assert (sent.actor, sent.action, sent.detail) == ("Imprint", "email_sent", "Sent ✓")
    assert before <= sent.at <= timezone.now()  # auto_now_add, as create() sets it
    assert (note.actor, note.detail) == ("Jo", "")  # the field's default


def test_insert_refuses_a_field_the_model_does_not_have(shop_a) -> None:
    order = OrderFactory(shop=shop_a)
    with pytest.raises(ValueError, match="OrderActivity has no field colour"):
        sql_insert(OrderActivity, {"order_id": order.pk, "actor": "Jo", "colour": "red"})
    assert not OrderActivity.objects.filter(order=order).exists()


def test_select_loads_the_rows_the_orm_would_in_the_same_order(shop_a, shop_b) -> None:
    for shop in (shop_a, shop_b, shop_a, shop_a):
        OrderFactory(shop=shop)
    Order.objects.filter(shop=shop_a).update(
        delivery_status=DeliveryStatus.PROCESSED, delivered_at=timezone.now()
    )
    expected = list(Order.objects.filter(shop=shop_a).order_by("name", "id"))

    loaded = sql_select(Order, where={"shop_id": shop_a.pk}, order_by=("name", "id"))

    assert [order.pk for order in loaded] == [order.pk for order in expected]
    for mine, theirs in zip(loaded, expected, strict=True):
        for field in Order._meta.concrete_fields:
            assert getattr(mine, field.attname) == getattr(theirs, field.attname), field.name
    assert sql_select(Order, where={"shop_id": shop_a.pk, "name": ("#none",)}) == []


@pytest.mark.parametrize("value", [None, (), [1, 2], {1}])
def test_conditions_the_orm_would_write_differently_are_refused(shop_a, value) -> None:
    OrderFactory(shop=shop_a)
    with pytest.raises(ValueError, match="only a value or a non-empty tuple"):
        sql_update(Order, where={"id": value}, values={"name": "#x"})
    with pytest.raises(ValueError, match="only a value or a non-empty tuple"):
        sql_select(Order, where={"shop_id": value})
    assert not Order.objects.filter(name="#x").exists()
