"""Download grants: issue them, redeem bytes against them, and the merchant's four fixes."""

from __future__ import annotations

import datetime as dt
import enum
import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import PurePosixPath

from django.db import transaction
from django.db.models import F, Q
from django.db.models.functions import Greatest
from django.utils import timezone

from imprint.catalog.models import Attachment
from imprint.delivery.models import DownloadEvent, DownloadGrant, Restriction
from imprint.delivery.tokens import grant_token
from imprint.orders.models import LineItem, Order, OrderActivity
from imprint.orders.status import order_delivery_status_refresh
from imprint.shops.models import FilenameMode, ProductSettings

MAX_EXTEND_DAYS = 3650


class GrantState(enum.Enum):
    ACTIVE = "active"
    EXPIRED = "expired"
    EXHAUSTED = "limit reached"
    RESTRICTED = "restricted"
    REFUNDED = "refunded"
    CANCELLED = "cancelled"


class GrantActionError(ValueError):
    """A merchant action was asked with values it cannot take (e.g. a negative number of days)."""


@dataclass(frozen=True)
class IssuedGrant:
    grant: DownloadGrant
    token: str


def grant_state(grant: DownloadGrant, *, now: dt.datetime | None = None) -> GrantState:
    now = now or timezone.now()
    if grant.restriction == Restriction.REFUNDED:
        return GrantState.REFUNDED
    if grant.restriction == Restriction.CANCELLED:
        return GrantState.CANCELLED
    if grant.restriction:
        return GrantState.RESTRICTED
    if grant.expires_at is not None and grant.expires_at <= now:
        return GrantState.EXPIRED
    if grant.max_downloads is not None and grant.bytes_used >= grant.max_downloads * max(
        grant.file_size, 1
    ):
        return GrantState.EXHAUSTED
    return GrantState.ACTIVE


def grant_link_token(grant: DownloadGrant) -> str:
    return grant_token(grant_id=grant.pk, generation=grant.generation)


_UNSAFE_FILENAME = re.compile(r'[\x00-\x1f\x7f/\\:*?"<>|]+')


def _safe_filename(name: str) -> str:
    cleaned = _UNSAFE_FILENAME.sub("_", name).strip(" .")
    return cleaned[:200] or "download"


def _download_filenames(mode: str, line: LineItem, files: list[Attachment]) -> list[str]:
    if mode != FilenameMode.PRODUCT:
        return [_safe_filename(a.file.name) for a in files]
    base = _safe_filename(line.title)
    names = []
    for index, attachment in enumerate(files, start=1):
        suffix = PurePosixPath(attachment.file.name).suffix
        numbered = f"{base}_{index:02d}" if len(files) > 1 else base
        names.append(f"{numbered}{suffix}")
    return names


def attachments_for_lines(
    *, shop_id: int, lines: Iterable[LineItem]
) -> dict[int, list[Attachment]]:
    """The attached files of each line item (keyed by line pk), in a stable order."""
    lines = list(lines)
    product_ids = {line.product_id for line in lines if line.product_id is not None}
    if not product_ids:
        return {}
    attachments = list(
        Attachment.objects.filter(shop_id=shop_id, product_id__in=product_ids)
        .select_related("file")
        .order_by("file__name", "file_id")
    )
    result: dict[int, list[Attachment]] = {}
    for line in lines:
        seen: set[int] = set()
        for attachment in attachments:
            if attachment.product_id != line.product_id or attachment.file_id in seen:
                continue
            if attachment.variant_id is not None and attachment.variant_id != line.variant_id:
                continue
            seen.add(attachment.file_id)
            result.setdefault(line.pk, []).append(attachment)
    return result


def grants_issue(
    *,
    order: Order,
    now: dt.datetime | None = None,
    lines: list[LineItem] | None = None,
    attachments: dict[int, list[Attachment]] | None = None,
) -> list[DownloadGrant]:
    """One grant per (line item, attached file), with the product's limits if it has its own,
    else the store's current ones.

    Idempotent: an existing grant for a (line, file) pair is kept as it is. Lines already refunded
    get no grant. Runs inside the caller's transaction. A caller that has just read the order's
    lines and their attachments passes them, to save reading them again.
    """
    now = now or timezone.now()
    shop = order.shop
    if lines is None:
        lines = list(order.line_items.all())
    lines = [line for line in lines if not line.is_refunded]
    by_line = (
        attachments
        if attachments is not None
        else attachments_for_lines(shop_id=shop.pk, lines=lines)
    )
    # A product's own limits, where the merchant set them, win over the store's.
    overrides = {
        row.product_id: (row.expiry_days, row.max_downloads)
        for row in ProductSettings.objects.filter(
            shop=shop, product_id__in={line.product_id for line in lines if line.product_id}
        )
    }
    new = []
    for line in lines:
        attached = by_line.get(line.pk, [])
        expiry_days, max_downloads = overrides.get(
            line.product_id or 0, (shop.download_expiry_days, shop.download_max)
        )
        expires_at = now + dt.timedelta(days=expiry_days) if expiry_days else None
        for attachment, filename in zip(
            attached, _download_filenames(shop.filename_mode, line, attached), strict=True
        ):
            new.append(
                DownloadGrant(
                    shop=shop,
                    order=order,
                    line_item=line,
                    file=attachment.file,
                    filename=filename,
                    file_size=attachment.file.size,
                    max_downloads=max_downloads,
                    expires_at=expires_at,
                )
            )
    DownloadGrant.objects.bulk_create(new, ignore_conflicts=True)
    return list(order.grants.select_related("file").order_by("line_item__id", "id"))


def grant_redeem(*, grant_id: int, nbytes: int, now: dt.datetime | None = None) -> bool:
    """Charge `nbytes` to a grant if it may still download: one conditional UPDATE, so two
    parallel requests cannot both pass a limit (the database re-checks the row under its lock)."""
    now = now or timezone.now()
    allowed = (
        Q(max_downloads__isnull=True)
        | Q(bytes_used__lt=F("max_downloads") * Greatest(F("file_size"), 1))
    ) & (Q(expires_at__isnull=True) | Q(expires_at__gt=now))
    # An empty file counts as one byte, so that downloading it still uses a download.
    updated = DownloadGrant.objects.filter(
        allowed, pk=grant_id, restriction=Restriction.NONE
    ).update(bytes_used=F("bytes_used") + max(nbytes, 1), last_download_at=now)
    return updated == 1


def download_event_record(
    *, grant_id: int, ip: str | None, user_agent: str, start: int, end: int, nbytes: int
) -> DownloadEvent:
    return DownloadEvent.objects.create(
        grant_id=grant_id,
        ip=ip,
        user_agent=user_agent[:500],
        range_start=start,
        range_end=end,
        bytes_charged=nbytes,
    )


def _activity(order: Order, actor: str, action: str, detail: str) -> None:
    OrderActivity.objects.create(order=order, actor=actor, action=action, detail=detail)


def grants_restrict(*, order: Order, actor: str, reason: str = Restriction.MERCHANT) -> int:
    """Stop every link of the order at once. A link already restricted keeps its reason."""
    with transaction.atomic():
        count = order.grants.filter(restriction=Restriction.NONE).update(restriction=reason)
        _activity(
            order,
            actor,
            "restrict",
            f"Restricted {count} download link(s) ({Restriction(reason).label}).",
        )
        order_delivery_status_refresh(order=order)
    return count


def grants_restore(*, order: Order, actor: str) -> int:
    with transaction.atomic():
        count = order.grants.exclude(restriction=Restriction.NONE).update(
            restriction=Restriction.NONE
        )
        _activity(order, actor, "restore", f"Restored access to {count} download link(s).")
        order_delivery_status_refresh(order=order)
    return count


def grants_extend(*, order: Order, days: int, actor: str, now: dt.datetime | None = None) -> int:
    """Add `days` to every expiring link, counted from the later of now and its current expiry."""
    if not 1 <= days <= MAX_EXTEND_DAYS:
        raise GrantActionError(f"Days to add must be between 1 and {MAX_EXTEND_DAYS}.")
    now = now or timezone.now()
    with transaction.atomic():
        count = order.grants.filter(expires_at__isnull=False).update(
            expires_at=Greatest(F("expires_at"), now) + dt.timedelta(days=days)
        )
        _activity(
            order, actor, "extend", f"Extended expiry of {count} download link(s) by {days} day(s)."
        )
    return count


def grants_reset(*, order: Order, actor: str) -> int:
    """Download counts back to zero for every file of the order."""
    with transaction.atomic():
        count = order.grants.update(bytes_used=0)
        _activity(order, actor, "reset", f"Reset downloads of {count} file(s).")
    return count
