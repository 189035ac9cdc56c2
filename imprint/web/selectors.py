"""Reads for the merchant pages. Every function takes `shop=` and filters on it first."""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass, field

from django.core.cache import cache
from django.core.paginator import Page, Paginator
from django.db.models import Count, F, Q, QuerySet, Value
from django.db.models.functions import Concat, TruncDate
from django.http import Http404
from django.utils import timezone

from imprint.catalog.models import Attachment, DigitalFile
from imprint.delivery.models import DownloadEvent, DownloadGrant
from imprint.delivery.services import GrantState, grant_state
from imprint.emails.models import EmailLog
from imprint.orders.models import DeliveryStatus, Order, OrderActivity
from imprint.shops.models import ProductSettings, Shop
from imprint.web.models import ProductLabel

ORDERS_PER_PAGE = 50
DOWNLOAD_HISTORY_LIMIT = 200  # the order page lists the newest; more is noise for one order
CHART_DAYS = 30
_ORDER_NUMBER = re.compile(r"^#?\d{1,18}$")
_FULL_ADDRESS = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
# At most this many matches are fetched unordered and sorted here: the database then finds them
# through the selective index (name, email) instead of walking the date index for a few rows.
SMALL_RESULT = 200


@dataclass(frozen=True)
class OrderFilters:
    q: str = ""
    delivery: str = ""
    payment: str = ""
    date_from: dt.date | None = None
    date_to: dt.date | None = None

    @property
    def active(self) -> bool:
        return bool(self.q or self.delivery or self.payment or self.date_from or self.date_to)


@dataclass(frozen=True)
class OrderRow:
    order: Order
    files_downloaded: int
    files_total: int


def _search(q: str) -> Q:
    """One box for an order number, an email, or a customer's name. Each shape gets the one
    condition it needs, so the common cases stay on indexes: an order number is an exact match
    on (shop, name), an address a match on the email column."""
    if _ORDER_NUMBER.match(q):
        return Q(name__in={f"#{q.lstrip('#')}", q})
    if _FULL_ADDRESS.match(q):
        # A whole address: an exact match on the (shop, email) index, as typed or in lower case
        # (Shopify keeps addresses as the customer typed them, nearly always in lower case).
        return Q(email__in={q, q.lower()})
    if "@" in q:
        return Q(email__icontains=q)
    words = q.split()
    names = Q()
    for word in words[:5]:  # five words is a long name already; more only slows the query
        # One case-insensitive match per word on "first last": a full scan evaluates it for
        # every order of the store, so each condition saved is time saved.
        names &= Q(customer__icontains=word)
    found = names | Q(name=q)
    if len(words) == 1:  # an address has no spaces: part of one is worth a look
        found |= Q(email__icontains=q)
    return found


def orders_filtered(*, shop: Shop, filters: OrderFilters) -> QuerySet[Order]:
    orders = Order.objects.filter(shop=shop, has_digital_items=True)
    if filters.q:
        orders = orders.alias(
            customer=Concat("customer_first_name", Value(" "), "customer_last_name")
        ).filter(_search(filters.q))
    if filters.delivery:
        orders = orders.filter(delivery_status=filters.delivery)
    if filters.payment:
        orders = orders.filter(financial_status=filters.payment)
    if filters.date_from:
        start = dt.datetime.combine(filters.date_from, dt.time.min, tzinfo=dt.UTC)
        orders = orders.filter(shopify_created_at__gte=start)
    if filters.date_to:
        end = dt.datetime.combine(
            filters.date_to + dt.timedelta(days=1), dt.time.min, tzinfo=dt.UTC
        )
        orders = orders.filter(shopify_created_at__lt=end)
    return orders.order_by("-shopify_created_at", "-id")


def orders_page(
    *, shop: Shop, filters: OrderFilters, page: int | str | None
) -> tuple[Page, list[OrderRow]]:
    """One page of the Orders list with each row's Downloads column: three queries whatever the
    page size (count, page, and the grants of the page's orders)."""
    matching = orders_filtered(shop=shop, filters=filters).only(
        "id",
        "name",
        "email",
        "customer_first_name",
        "customer_last_name",
        "financial_status",
        "delivery_status",
        "shopify_created_at",
        "test",
    )
    source: QuerySet[Order] | list[Order] = matching
    if filters.q:
        # One pass finds the matches of a typical search (a few orders): they are the page and
        # the count. Only a search matching many orders is counted and paged by the database.
        few = list(matching.order_by()[: SMALL_RESULT + 1])
        if len(few) <= SMALL_RESULT:
            source = sorted(few, key=lambda o: (o.shopify_created_at, o.pk), reverse=True)
    paginator = Paginator(source, ORDERS_PER_PAGE)
    current = paginator.get_page(page)
    orders = list(current.object_list)
    counts = {
        row["order_id"]: row
        # The ids come from the shop's own orders: filtering on them alone lets the database use
        # the grants' order index instead of scanning the shop's grants.
        for row in DownloadGrant.objects.filter(order_id__in=[o.pk for o in orders])
        .values("order_id")
        .annotate(
            total=Count("id"),
            full=Count("id", filter=Q(bytes_used__gte=F("file_size"), bytes_used__gt=0)),
        )
    }
    rows = [
        OrderRow(
            order=order,
            files_downloaded=counts.get(order.pk, {}).get("full", 0),
            files_total=counts.get(order.pk, {}).get("total", 0),
        )
        for order in orders
    ]
    return current, rows


# --- dashboard -------------------------------------------------------------------------------


@dataclass(frozen=True)
class ChartBar:
    day: dt.date
    count: int
    x: int
    y: int
    height: int


@dataclass(frozen=True)
class Dashboard:
    delivered_today: int
    delivered_week: int
    emails_failing: int
    downloads_total: int
    bars: list[ChartBar] = field(default_factory=list)
    chart_width: int = 0
    chart_height: int = 0


CHART_BAR_WIDTH = 8
CHART_GAP = 2
CHART_HEIGHT = 48


DASHBOARD_CACHE_SECONDS = 60


def dashboard_cached(*, shop: Shop) -> Dashboard:
    """The dashboard, at most a minute old: it counts over every order of the store, which is
    most of the Orders page's time at 100,000 orders, and a minute-old count is still true enough
    for a glance."""
    key = f"imprint.web.dashboard.{shop.pk}"
    found = cache.get(key)
    if found is None:
        found = dashboard(shop=shop)
        cache.set(key, found, DASHBOARD_CACHE_SECONDS)
    return found


def dashboard(*, shop: Shop, now: dt.datetime | None = None) -> Dashboard:
    """Deliveries today and in the last 7 days, orders whose email is failing, and downloads
    started per day over the last 30 days (a response from the first byte: resumes and the
    extra ranges of a download manager are not new downloads)."""
    now = now or timezone.now()
    today = dt.datetime.combine(now.astimezone(dt.UTC).date(), dt.time.min, tzinfo=dt.UTC)
    week = now - dt.timedelta(days=7)
    delivered = Order.objects.filter(shop=shop, delivered_at__gte=min(today, week)).aggregate(
        today=Count("id", filter=Q(delivered_at__gte=today)),
        week=Count("id", filter=Q(delivered_at__gte=week)),
    )
    failing = Order.objects.filter(
        shop=shop, has_digital_items=True, delivery_status=DeliveryStatus.FAILED
    ).count()
    first_day = today.date() - dt.timedelta(days=CHART_DAYS - 1)
    per_day = {
        row["day"]: row["n"]
        for row in DownloadEvent.objects.filter(
            grant__shop=shop,
            at__gte=dt.datetime.combine(first_day, dt.time.min, tzinfo=dt.UTC),
            range_start=0,
        )
        .annotate(day=TruncDate("at", tzinfo=dt.UTC))
        .values("day")
        .annotate(n=Count("id"))
    }
    peak = max(per_day.values(), default=0)
    bars = []
    for index in range(CHART_DAYS):
        day = first_day + dt.timedelta(days=index)
        count = per_day.get(day, 0)
        # A day with downloads shows at least a sliver, so "few" never looks like "none".
        height = 0 if not count else max(2, round(count / peak * CHART_HEIGHT))
        bars.append(
            ChartBar(
                day=day,
                count=count,
                x=index * (CHART_BAR_WIDTH + CHART_GAP),
                y=CHART_HEIGHT - height,
                height=height,
            )
        )
    return Dashboard(
        delivered_today=delivered["today"],
        delivered_week=delivered["week"],
        emails_failing=failing,
        downloads_total=sum(per_day.values()),
        bars=bars,
        chart_width=CHART_DAYS * (CHART_BAR_WIDTH + CHART_GAP) - CHART_GAP,
        chart_height=CHART_HEIGHT,
    )


# --- one order ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class GrantRow:
    grant: DownloadGrant
    state: GrantState


@dataclass(frozen=True)
class LineRow:
    title: str
    variant_title: str
    quantity: int
    refunded_quantity: int
    grants: list[GrantRow]


@dataclass(frozen=True)
class OrderDetail:
    order: Order
    lines: list[LineRow]
    emails: list[EmailLog]
    downloads: list[DownloadEvent]
    activity: list[OrderActivity]
    has_grants: bool
    any_restricted: bool
    any_active_link: bool


def order_get(*, shop: Shop, order_id: int) -> Order:
    """The store's order, or 404: another store's order id is not found, not forbidden."""
    order = Order.objects.filter(shop=shop, pk=order_id).select_related("shop").first()
    if order is None:
        raise Http404("No such order")
    return order


def order_detail(*, shop: Shop, order_id: int, now: dt.datetime | None = None) -> OrderDetail:
    now = now or timezone.now()
    order = order_get(shop=shop, order_id=order_id)
    grants = list(
        DownloadGrant.objects.filter(shop=shop, order=order)
        .select_related("file")
        .order_by("line_item_id", "id")
    )
    by_line: dict[int, list[GrantRow]] = {}
    for grant in grants:
        by_line.setdefault(grant.line_item_id, []).append(
            GrantRow(grant=grant, state=grant_state(grant, now=now))
        )
    lines = [
        LineRow(
            title=line.title,
            variant_title=line.variant_title,
            quantity=line.quantity,
            refunded_quantity=line.refunded_quantity,
            grants=by_line.get(line.pk, []),
        )
        for line in order.line_items.order_by("id")
    ]
    downloads = list(
        DownloadEvent.objects.filter(grant__order=order, grant__shop=shop)
        .select_related("grant")
        .order_by("-at", "-id")[:DOWNLOAD_HISTORY_LIMIT]
    )
    return OrderDetail(
        order=order,
        lines=lines,
        emails=list(EmailLog.objects.filter(shop=shop, order=order).order_by("-created_at", "-id")),
        downloads=downloads,
        activity=list(OrderActivity.objects.filter(order=order).order_by("-at", "-id")),
        has_grants=bool(grants),
        any_restricted=any(g.restriction for g in grants),
        any_active_link=any(not g.restriction for g in grants),
    )


# --- files ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class AttachmentRow:
    attachment: Attachment
    label: str


@dataclass(frozen=True)
class FileRow:
    file: DigitalFile
    attachments: list[AttachmentRow]
    grants: int


def _label(labels: dict[tuple[int, int], str], product_id: int, variant_id: int | None) -> str:
    product = labels.get((product_id, 0), f"Product {product_id}")
    if variant_id is None:
        return f"{product} (every variant)"
    variant = labels.get((product_id, variant_id), f"variant {variant_id}")
    return f"{product}: {variant}"


def files_list(*, shop: Shop) -> list[FileRow]:
    files = list(
        DigitalFile.objects.filter(shop=shop)
        .annotate(grant_count=Count("grants"))
        .order_by("-created_at", "-id")
    )
    attachments = list(
        Attachment.objects.filter(shop=shop, file__in=files).order_by("product_id", "variant_id")
    )
    labels = product_labels(shop=shop, product_ids={a.product_id for a in attachments})
    by_file: dict[int, list[AttachmentRow]] = {}
    for attachment in attachments:
        by_file.setdefault(attachment.file_id, []).append(
            AttachmentRow(
                attachment=attachment,
                label=_label(labels, attachment.product_id, attachment.variant_id),
            )
        )
    return [
        FileRow(
            file=file,
            attachments=by_file.get(file.pk, []),
            grants=file.grant_count,
        )
        for file in files
    ]


def file_get(*, shop: Shop, file_id: int) -> DigitalFile:
    file = DigitalFile.objects.filter(shop=shop, pk=file_id).first()
    if file is None:
        raise Http404("No such file")
    return file


def attachment_get(*, shop: Shop, attachment_id: int) -> Attachment:
    attachment = Attachment.objects.filter(shop=shop, pk=attachment_id).first()
    if attachment is None:
        raise Http404("No such attachment")
    return attachment


def product_labels(*, shop: Shop, product_ids: set[int]) -> dict[tuple[int, int], str]:
    return {
        (label.product_id, label.variant_id): label.title
        for label in ProductLabel.objects.filter(shop=shop, product_id__in=product_ids)
    }


@dataclass(frozen=True)
class ProductLimitsRow:
    settings: ProductSettings
    label: str


def product_overrides(*, shop: Shop) -> list[ProductLimitsRow]:
    rows = list(ProductSettings.objects.filter(shop=shop).order_by("product_id"))
    labels = product_labels(shop=shop, product_ids={row.product_id for row in rows})
    return [
        ProductLimitsRow(
            settings=row, label=labels.get((row.product_id, 0), f"Product {row.product_id}")
        )
        for row in rows
    ]


def attached_products(*, shop: Shop) -> list[tuple[int, str]]:
    """Every product with a file attached, for the per-product limits form."""
    ids = sorted(set(Attachment.objects.filter(shop=shop).values_list("product_id", flat=True)))
    labels = product_labels(shop=shop, product_ids=set(ids))
    return [(pid, labels.get((pid, 0), f"Product {pid}")) for pid in ids]
