"""Order Settings: the Sync orders from Shopify button, its live progress and the last runs.

The button enqueues the sync job and remembers when in the session; the progress fragment (htmx,
polling every second while there is something to wait for) shows "waiting for a worker" until a
run started after that moment appears, its count of orders scanned while it runs, and its summary
when it is done.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.contrib import messages
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.dateparse import parse_datetime
from django.views.decorators.http import require_GET, require_POST

from imprint.orders.models import SyncRun
from imprint.shops.models import Shop
from imprint.web.auth import ShopRequest, shop_required
from imprint.web.forms import DEFAULT_SYNC_DAYS, SyncForm

SESSION_SYNC_KEY = "imprint_sync_requested_at"
# A request no worker picked up within this long is shown as stuck, not as waiting forever.
SYNC_WAIT_SECONDS = 120


def _last_runs(shop: Shop) -> dict[str, SyncRun | None]:
    runs = SyncRun.objects.filter(shop=shop).order_by("-started_at", "-id")
    return {
        "latest": runs.first(),
        "manual": runs.filter(trigger=SyncRun.Trigger.MANUAL)
        .exclude(status=SyncRun.Status.RUNNING)
        .first(),
        "automatic": runs.filter(trigger=SyncRun.Trigger.SCHEDULE)
        .exclude(status=SyncRun.Status.RUNNING)
        .first(),
    }


def _progress_context(request: ShopRequest, now: dt.datetime | None = None) -> dict[str, Any]:
    now = now or timezone.now()
    runs = _last_runs(request.shop)
    latest = runs["latest"]
    requested_at = parse_datetime(str(request.session.get(SESSION_SYNC_KEY) or ""))
    waiting = stuck = False
    if requested_at is not None:
        if latest is not None and latest.started_at >= requested_at - dt.timedelta(seconds=1):
            request.session.pop(SESSION_SYNC_KEY, None)  # the run we asked for has started
        elif now - requested_at < dt.timedelta(seconds=SYNC_WAIT_SECONDS):
            waiting = True
        else:
            stuck = True
            request.session.pop(SESSION_SYNC_KEY, None)
    running = latest is not None and latest.is_running
    return {
        "run": latest,
        "waiting": waiting,
        "stuck": stuck,
        "polling": waiting or running,
        "last_manual": runs["manual"],
        "last_automatic": runs["automatic"],
    }


@require_GET
@shop_required
def order_settings(request: ShopRequest) -> HttpResponse:
    context = {
        "form": SyncForm(initial={"days": DEFAULT_SYNC_DAYS}),
        "nav": "order-settings",
        **_progress_context(request),
    }
    return render(request, "web/order_settings.html", context)


@require_POST
@shop_required
def sync_start(request: ShopRequest) -> HttpResponse:
    from imprint.orders.tasks import orders_sync_task

    form = SyncForm(request.POST)
    if not form.is_valid():
        context = {"form": form, "nav": "order-settings", **_progress_context(request)}
        return render(request, "web/order_settings.html", context, status=400)
    running = SyncRun.objects.filter(shop=request.shop, status=SyncRun.Status.RUNNING).exists()
    if running:
        messages.info(request, "A sync is running already: its progress is shown below.")
        return redirect("web:order-settings")
    request.session[SESSION_SYNC_KEY] = timezone.now().isoformat()
    orders_sync_task.enqueue(
        shop_id=request.shop.pk, days=form.cleaned_data["days"], trigger=SyncRun.Trigger.MANUAL
    )
    messages.success(
        request, "Sync started. Orders Imprint missed are delivered as they are found."
    )
    return redirect("web:order-settings")


@require_GET
@shop_required
def sync_progress(request: ShopRequest) -> HttpResponse:
    return render(request, "web/_sync_progress.html", _progress_context(request))
