from __future__ import annotations

import datetime as dt

from django.core.cache import cache
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from imprint.delivery.models import DownloadEvent, DownloadGrant
from imprint.orders.models import DeliveryStatus, FinancialStatus, Order
from imprint.web.selectors import ORDERS_PER_PAGE, dashboard
from tests.factories import OrderFactory
from tests.web.conftest import order_with_files


def _names(response) -> list[str]:
    return [row.order.name for row in response.context["rows"]]


def test_orders_lists_the_stores_digital_orders_newest_first(client_a, shop_a, shop_b):
    now = timezone.now()
    older = order_with_files(shop_a, name="#1001", shopify_created_at=now - dt.timedelta(days=2))
    newer = order_with_files(shop_a, name="#1002", shopify_created_at=now - dt.timedelta(days=1))
    OrderFactory(shop=shop_a, name="#1003", has_digital_items=False)
    order_with_files(shop_b, name="#1004")
    response = client_a.get("/app/")
    assert response.status_code == 200
    assert _names(response) == [newer.name, older.name]
    html = response.content.decode()
    assert "#1004" not in html
    assert "#1003" not in html


def test_downloads_column_counts_files_downloaded_in_full(client_a, shop_a):
    order = order_with_files(shop_a, files=("a.pdf", "b.pdf"))
    first = DownloadGrant.objects.filter(order=order).order_by("id").first()
    DownloadGrant.objects.filter(pk=first.pk).update(bytes_used=first.file_size)
    response = client_a.get("/app/")
    row = response.context["rows"][0]
    assert (row.files_downloaded, row.files_total) == (1, 2)
    assert "1 / 2" in response.content.decode()


def test_search_by_order_number_with_or_without_hash(client_a, shop_a):
    order_with_files(shop_a, name="#1001")
    order_with_files(shop_a, name="#1002")
    assert _names(client_a.get("/app/", {"q": "#1002"})) == ["#1002"]
    assert _names(client_a.get("/app/", {"q": "1001"})) == ["#1001"]


def test_search_by_email_and_by_customer_name(client_a, shop_a):
    order_with_files(
        shop_a,
        name="#1001",
        email="ada@example.com",
        customer_first_name="Ada",
        customer_last_name="Lovelace",
    )
    order_with_files(
        shop_a,
        name="#1002",
        email="alan@example.com",
        customer_first_name="Alan",
        customer_last_name="Turing",
    )
    assert _names(client_a.get("/app/", {"q": "ALAN@example.com"})) == ["#1002"]
    assert _names(client_a.get("/app/", {"q": "ada love"})) == ["#1001"]
    assert _names(client_a.get("/app/", {"q": "turing"})) == ["#1002"]


def test_filters_by_delivery_payment_and_dates(client_a, shop_a):
    now = timezone.now()
    order_with_files(
        shop_a,
        name="#1001",
        delivery_status=DeliveryStatus.FAILED,
        shopify_created_at=now - dt.timedelta(days=10),
    )
    order_with_files(
        shop_a,
        name="#1002",
        financial_status=FinancialStatus.REFUNDED,
        delivery_status=DeliveryStatus.RESTRICTED,
    )
    order_with_files(shop_a, name="#1003", delivery_status=DeliveryStatus.PROCESSED)
    assert _names(client_a.get("/app/", {"delivery": "failed"})) == ["#1001"]
    assert _names(client_a.get("/app/", {"payment": "refunded"})) == ["#1002"]
    since = (now - dt.timedelta(days=1)).date().isoformat()
    assert sorted(_names(client_a.get("/app/", {"date_from": since}))) == ["#1002", "#1003"]
    until = (now - dt.timedelta(days=5)).date().isoformat()
    assert _names(client_a.get("/app/", {"date_to": until})) == ["#1001"]


def test_bad_filter_input_is_explained_not_a_server_error(client_a, shop_a):
    order_with_files(shop_a, name="#1001")
    response = client_a.get(
        "/app/", {"date_from": "yesterday", "delivery": "bogus", "date_to": "2026-01-01"}
    )
    assert response.status_code == 200
    html = response.content.decode()
    assert "Enter a valid date." in html
    assert "Select a valid choice." in html
    start_after_end = client_a.get("/app/", {"date_from": "2026-02-01", "date_to": "2026-01-01"})
    assert "The end date is before the start date." in start_after_end.content.decode()


def test_pagination_pages_through_fifty_at_a_time(client_a, shop_a):
    now = timezone.now()
    Order.objects.bulk_create(
        [
            Order(
                shop=shop_a,
                shopify_id=i,
                name=f"#{2000 + i}",
                shopify_created_at=now - dt.timedelta(minutes=i),
                shopify_updated_at=now,
                has_digital_items=True,
            )
            for i in range(ORDERS_PER_PAGE + 5)
        ]
    )
    first = client_a.get("/app/")
    assert len(first.context["rows"]) == ORDERS_PER_PAGE
    assert "1\u201350 of 55 orders" in first.content.decode()
    second = client_a.get("/app/", {"page": 2})
    assert _names(second) == [f"#{2000 + i}" for i in range(50, 55)]
    assert client_a.get("/app/", {"page": "nonsense"}).status_code == 200


def test_empty_store_and_no_result_states(client_a, shop_a):
    empty = client_a.get("/app/").content.decode()
    assert "No orders with digital items yet" in empty
    order_with_files(shop_a)
    none = client_a.get("/app/", {"q": "nobody-like-this"}).content.decode()
    assert "No orders found" in none
    assert "“nobody-like-this”" in none


def test_htmx_search_returns_only_the_results(client_a, shop_a):
    order_with_files(shop_a, name="#1001")
    response = client_a.get(
        "/app/", {"q": "1001"}, HTTP_HX_REQUEST="true", HTTP_HX_TARGET="order-results"
    )
    html = response.content.decode()
    assert "#1001" in html
    assert "<html" not in html


def test_orders_page_queries_do_not_grow_with_the_rows(client_a, shop_a):
    for _ in range(3):
        order_with_files(shop_a, files=("a.pdf", "b.pdf"))
    cache.clear()  # the dashboard's queries count too
    with CaptureQueriesContext(connection) as few:
        assert client_a.get("/app/").status_code == 200
    for _ in range(12):
        order_with_files(shop_a, files=("a.pdf", "b.pdf"))
    cache.clear()
    with CaptureQueriesContext(connection) as many:
        assert client_a.get("/app/").status_code == 200
    assert len(many.captured_queries) == len(few.captured_queries)
    # session, shop, count, page, downloads column, 4 dashboard queries (+ savepoints on none)
    assert len(many.captured_queries) <= 10


def test_dashboard_counts_deliveries_failures_and_downloads(shop_a, shop_b):
    now = dt.datetime(2026, 12, 10, 15, 0, tzinfo=dt.UTC)
    order_with_files(shop_a, delivered_at=now - dt.timedelta(hours=1))
    order_with_files(shop_a, delivered_at=now - dt.timedelta(days=3))
    order_with_files(
        shop_a, delivered_at=now - dt.timedelta(days=9), delivery_status=DeliveryStatus.FAILED
    )
    other = order_with_files(shop_b, delivered_at=now - dt.timedelta(hours=1))
    grant = DownloadGrant.objects.filter(shop=shop_a).first()
    for at, start in (
        (now - dt.timedelta(days=1), 0),
        (now - dt.timedelta(days=1), 100),
        (now - dt.timedelta(days=40), 0),
        (now, 0),
    ):
        event = DownloadEvent.objects.create(
            grant=grant, range_start=start, range_end=start + 10, bytes_charged=10
        )
        DownloadEvent.objects.filter(pk=event.pk).update(at=at)
    DownloadEvent.objects.create(
        grant=other.grants.first(), range_start=0, range_end=1, bytes_charged=1
    )
    board = dashboard(shop=shop_a, now=now)
    assert (board.delivered_today, board.delivered_week, board.emails_failing) == (1, 2, 1)
    assert board.downloads_total == 2
    assert [bar.count for bar in board.bars[-2:]] == [1, 1]
    assert len(board.bars) == 30
    assert board.bars[-1].height == 48


def test_dashboard_is_cached_for_a_minute(client_a, shop_a):
    client_a.get("/app/")
    order_with_files(shop_a, delivered_at=timezone.now())
    assert client_a.get("/app/").context["dashboard"].delivered_today == 0
    cache.clear()
    assert client_a.get("/app/").context["dashboard"].delivered_today == 1


def test_search_takes_three_queries_whatever_the_matches(client_a, shop_a):
    for _ in range(3):
        order_with_files(shop_a, customer_last_name="Lovelace")
    client_a.get("/app/")  # the dashboard is cached from here on
    with CaptureQueriesContext(connection) as queries:
        response = client_a.get("/app/", {"q": "lovelace"})
    assert len(response.context["rows"]) == 3
    # session, shop, the matching rows (they are the count too), downloads column
    assert len(queries.captured_queries) == 4


def test_search_matching_many_orders_is_paged_by_the_database(client_a, shop_a, settings):
    from imprint.web import selectors

    now = timezone.now()
    Order.objects.bulk_create(
        [
            Order(
                shop=shop_a,
                shopify_id=i,
                name=f"#{5000 + i}",
                customer_last_name="Many",
                shopify_created_at=now - dt.timedelta(minutes=i),
                shopify_updated_at=now,
                has_digital_items=True,
            )
            for i in range(selectors.SMALL_RESULT + 10)
        ]
    )
    response = client_a.get("/app/", {"q": "many", "page": 5})
    assert response.context["page"].paginator.count == selectors.SMALL_RESULT + 10
    assert [row.order.name for row in response.context["rows"]] == [
        f"#{5000 + i}" for i in range(200, 210)
    ]
