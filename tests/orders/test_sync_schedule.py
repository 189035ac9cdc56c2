"""The scheduled sync: every installed store once per interval, spread over it, enqueued as a job."""

from __future__ import annotations

import datetime as dt
import zlib

import pytest
from django.utils import timezone
from django_tasks_db.models import DBTaskResult

from imprint.jobs.scheduler import periodic_jobs
from imprint.jobs.worker import jobs_run_pending
from imprint.orders.models import SyncRun
from imprint.orders.sync import orders_sync_schedule, sync_turn_next
from imprint.shops.models import Shop
from tests.factories import ShopFactory
from tests.orders import sync_helpers
from tests.orders.sync_helpers import Devstore

sync_devstore = sync_helpers.sync_devstore  # the fixture, for this module

pytestmark = pytest.mark.django_db

NOW = dt.datetime(2026, 12, 4, 12, 0, 30, tzinfo=dt.UTC)
INTERVAL = 15 * 60


def jobs() -> list[dict]:
    return sorted(
        (row.args_kwargs["kwargs"] for row in DBTaskResult.objects.all()),
        key=lambda kwargs: kwargs["shop_id"],
    )


def test_each_store_has_a_fixed_slot_in_the_interval() -> None:
    for domain in ("a.myshopify.com", "b.myshopify.com", "shop-a.myshopify.com"):
        turn = sync_turn_next(domain=domain, after=NOW, interval_seconds=INTERVAL)

        assert NOW < turn <= NOW + dt.timedelta(seconds=INTERVAL)
        assert int(turn.timestamp()) % INTERVAL == zlib.crc32(domain.encode()) % INTERVAL
        assert sync_turn_next(
            domain=domain, after=turn, interval_seconds=INTERVAL
        ) == turn + dt.timedelta(seconds=INTERVAL)


def test_stores_are_spread_over_the_interval_not_synced_at_once() -> None:
    slots = {
        sync_turn_next(domain=f"store-{n}.myshopify.com", after=NOW, interval_seconds=INTERVAL)
        for n in range(50)
    }

    assert len(slots) >= 45  # fifty stores, (almost) fifty different moments


def test_every_installed_store_is_enqueued_once_per_interval(settings) -> None:
    settings.SYNC_INTERVAL_MINUTES = 15
    settings.SYNC_LOOKBACK_DAYS = 3
    installed = [ShopFactory() for _ in range(5)]
    ShopFactory(uninstalled_at=NOW)
    ShopFactory(access_token="")
    ticks = [NOW + dt.timedelta(seconds=30 * k) for k in range(60)]
    ticks.append(NOW + dt.timedelta(seconds=2 * INTERVAL - 1))

    enqueued = []
    for tick in ticks:  # two intervals of a scheduler ticking every 30 s
        enqueued += orders_sync_schedule(now=tick)
        assert orders_sync_schedule(now=tick) == []  # a second scheduler, the same instant

    assert sorted(enqueued) == sorted([s.pk for s in installed] * 2)
    assert jobs() == [
        {"shop_id": s.pk, "days": 3, "trigger": "schedule"}
        for s in sorted(installed * 2, key=lambda s: s.pk)
    ]


def test_an_interval_of_zero_turns_the_schedule_off(settings) -> None:
    settings.SYNC_INTERVAL_MINUTES = 0
    ShopFactory()

    assert orders_sync_schedule(now=NOW + dt.timedelta(days=1)) == []
    assert DBTaskResult.objects.count() == 0


def test_the_scheduler_runs_the_sync_schedule() -> None:
    assert [job.name for job in periodic_jobs()] == ["jobs.reap", "orders.sync"]
    assert periodic_jobs()[1].run is orders_sync_schedule


def test_the_sync_job_syncs_the_store_with_its_look_back(
    sync_devstore: Devstore, shop_a: Shop, settings
) -> None:
    settings.SYNC_LOOKBACK_DAYS = 3
    sync_devstore.shop(shop_a)
    product = sync_devstore.product(shop_a)
    now = sync_devstore.clock.now()
    variant = product.variants[0].id
    sync_devstore.store.order_create(
        shop=shop_a.domain, lines=[(variant, 1)], created_at=now - 86400, webhooks=False
    )
    sync_devstore.store.order_create(
        shop=shop_a.domain, lines=[(variant, 1)], created_at=now - 5 * 86400, webhooks=False
    )
    from imprint.orders.tasks import orders_sync_task

    orders_sync_task.enqueue(shop_id=shop_a.pk, days=3, trigger="schedule")
    jobs_run_pending()

    run = SyncRun.objects.get()
    assert (run.trigger, run.status, run.scanned, run.delivered) == ("schedule", "succeeded", 1, 1)
    assert timezone.now() - dt.timedelta(days=3, minutes=1) < run.window_start
