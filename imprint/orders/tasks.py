from __future__ import annotations

import datetime as dt

from django_tasks import task


@task()
def orders_sync_task(shop_id: int, days: int, trigger: str = "schedule") -> str:
    """Sync one store's orders of the last `days` days. Safe to run twice: a second run while
    one is going joins it, and ingest never delivers an order twice."""
    from django.utils import timezone

    from imprint.orders.sync import orders_sync
    from imprint.shops.models import Shop

    shop = Shop.objects.filter(pk=shop_id).first()
    if shop is None:
        return "missing"
    run = orders_sync(shop=shop, since=timezone.now() - dt.timedelta(days=days), trigger=trigger)
    return run.status
