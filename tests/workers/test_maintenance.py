"""Maintenance against real PostgreSQL: retention cleanup deletes only old rows, in batches; the weekly
leaderboard view is refreshed concurrently (readers are not blocked); health_check and ping remain."""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import AsyncIterator
from typing import Any

import pytest
from sqlalchemy import func, select, text
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.exc import DBAPIError

from mluv.db.maintenance import MATERIALIZED_VIEWS, delete_older_than, retention_rules
from mluv.db.models import Base, CronRun, Delivery, JobFailure, Message, PlatformMetrics
from mluv.jobs import Queue, registry
from mluv.jobs.cron import claim
from mluv.jobs.run import WorkerDied, arq_max_tries, context_from_arq
from mluv.settings import Settings
from tests.workers.job_harness import Harness, job_harness, utc
from workers import maintenance
from workers.maintenance import cleanup_old_data, refresh_materialized_views

pytestmark = pytest.mark.integration

TICK = utc(2026, 11, 16, 2)  # a Monday, 02:00 UTC
LEARNER = 650_000_001


@pytest.fixture
async def harness(settings: Settings, clean_tables: None, redis: object) -> AsyncIterator[Harness]:
    async with job_harness(settings) as prepared:
        yield prepared


def days_before(days: float, at: dt.datetime = TICK) -> dt.datetime:
    return at - dt.timedelta(days=days)


async def count(harness: Harness, model: type[Base]) -> int:
    async with harness.resources.session_factory() as session:
        return int(await session.scalar(select(func.count()).select_from(model)) or 0)


async def add_rows(harness: Harness, model: type[Base], rows: list[dict[str, Any]]) -> None:
    async with harness.resources.session_factory.begin() as session:
        await session.execute(insert(model).values(rows))


def test_declarations() -> None:
    assert registry.crons["health_check"] is maintenance.health_check
    assert registry.jobs["ping"] is maintenance.ping and registry.jobs["ping_long"].queue is Queue.LONG
    cleanup = registry.crons["cleanup_old_data"]
    assert (cleanup.weekday, cleanup.hour, cleanup.minute, cleanup.catch_up) == (0, 2, 0, True)
    refresh = registry.crons["refresh_materialized_views"]
    assert (refresh.hour, refresh.minute, refresh.catch_up) == (None, 15, False)
    for spec in (cleanup, refresh):
        assert spec.queue is Queue.LONG and spec.retry.max_tries > 1


# --- cleanup_old_data -----------------------------------------------------------------------------------


async def _old_and_recent_rows(harness: Harness) -> None:
    """Per table, rows just past its default retention (old) and just within it (recent)."""
    await harness.add_learner(LEARNER, in_sandbox=False)
    await harness.add_messages(LEARNER, days_before(366), count=12)
    await harness.add_messages(LEARNER, days_before(364), count=3)

    def delivery(key: str, age: float) -> dict[str, Any]:
        return {
            "kind": "reminder",
            "recipient_id": LEARNER,
            "business_key": key,
            "created_at": days_before(age),
        }

    await add_rows(
        harness,
        Delivery,
        [delivery(f"old:{i}", 91) for i in range(7)] + [delivery(f"recent:{i}", 89) for i in range(2)],
    )
    await add_rows(
        harness,
        JobFailure,
        [
            {"job_id": f"j{i}", "job_name": "x", "queue": "fast", "error": "E", "failed_at": days_before(age)}
            for i, age in enumerate([31] * 6 + [29])
        ],
    )
    await add_rows(harness, PlatformMetrics, [{"captured_at": days_before(age)} for age in [181] * 5 + [179]])
    await add_rows(
        harness,
        CronRun,
        [
            {
                "cron_name": "some_cron",
                "business_key": f"k{i}",
                "business_date": days_before(age).date(),
                "started_at": days_before(age),
            }
            for i, age in enumerate([91, 91, 91, 10])
        ],
    )


async def test_a_cleanup_whose_tries_crashes_used_up_is_marked_failed_and_dead_lettered_not_run(
    harness: Harness,
) -> None:
    await _old_and_recent_rows(harness)
    key = cleanup_old_data.business_key(TICK)
    factory = harness.resources.session_factory
    # The crashed tries claimed the run and never finished it; arq's last try must not run it again.
    await claim(factory, cleanup_old_data.name, key, TICK.date(), cleanup_old_data.job_id_for(TICK), 60)
    with pytest.raises(WorkerDied):
        await harness.run_cron(cleanup_old_data, TICK, job_try=arq_max_tries(cleanup_old_data.retry))
    async with factory() as session:
        run = await session.scalar(select(CronRun).where(CronRun.cron_name == cleanup_old_data.name))
        letters = list(
            await session.scalars(select(JobFailure).where(JobFailure.job_name == cleanup_old_data.name))
        )
    assert run is not None and (run.business_key, run.status) == (key, "failed")
    assert (run.error or "").startswith("WorkerDied: not run again")
    assert [letter.error.split(":")[0] for letter in letters] == ["WorkerDied"]
    assert await count(harness, Message) == 15  # nothing was deleted: the body did not run


async def test_cleanup_deletes_only_rows_past_their_retention_in_batches(
    harness: Harness, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(maintenance, "CLEANUP_BATCH", 5)
    await _old_and_recent_rows(harness)

    result = await harness.run_cron(cleanup_old_data, TICK)

    assert result == {
        "deleted": {
            "messages": 12,
            "deliveries": 7,
            "job_failures": 6,
            "platform_metrics": 5,
            "cron_runs": 3,
        },
        # 12 rows in batches of 5 are three statements; exactly 5 rows are one (the next finds none).
        "batches": {"messages": 3, "deliveries": 2, "job_failures": 2, "platform_metrics": 1, "cron_runs": 1},
    }
    assert [await count(harness, model) for model in (Message, Delivery, JobFailure, PlatformMetrics)] == [
        3,
        2,
        1,
        1,
    ]
    async with harness.resources.session_factory() as session:
        runs = set(await session.scalars(select(CronRun.cron_name)))
    assert runs == {"some_cron", "cleanup_old_data"}  # the recent run and this run's own claim
    # A retried or caught-up run of the same date does nothing more.
    assert await harness.run_cron(cleanup_old_data, TICK + dt.timedelta(minutes=1)) == {
        "skipped": "2026-11-16"
    }


async def test_cleanup_follows_the_retention_settings(
    settings: Settings, clean_tables: None, redis: object
) -> None:
    configured = settings.model_copy(
        update={
            "retention_messages_days": 10,
            "retention_cron_runs_days": 1,
            "retention_deliveries_days": 1000,
        }
    )
    async with job_harness(configured) as harness:
        await _old_and_recent_rows(harness)
        await harness.add_messages(LEARNER, days_before(9))
        await add_rows(
            harness,
            CronRun,
            [
                {
                    "cron_name": "young",
                    "business_key": "k",
                    "business_date": TICK.date(),
                    "started_at": days_before(3),
                }
            ],
        )

        result = await harness.run_cron(cleanup_old_data, TICK)

    # Every message older than 10 days; no delivery; cron runs are kept through the catch-up lookback.
    assert result["deleted"] == {
        "messages": 15,
        "deliveries": 0,
        "job_failures": 6,
        "platform_metrics": 5,
        "cron_runs": 4,
    }


async def test_batches_are_five_thousand_rows_by_default(harness: Harness) -> None:
    await harness.add_learner(LEARNER, in_sandbox=False)
    async with harness.resources.session_factory.begin() as session:
        await session.execute(
            text(
                "INSERT INTO messages (user_id, text, word_count, created_at)"
                " SELECT :user_id, 'x', 1, :at FROM generate_series(1, 12001)"
            ),
            {"user_id": LEARNER, "at": days_before(400)},
        )
    (rule,) = [
        rule
        for rule in retention_rules(
            messages_days=365,
            deliveries_days=1,
            job_failures_days=1,
            platform_metrics_days=1,
            cron_runs_days=1,
        )
        if rule.table == "messages"
    ]

    deleted = await delete_older_than(harness.resources.session_factory, rule, days_before(365))

    assert (deleted.rows, deleted.batches) == (12_001, 3)
    assert await count(harness, Message) == 0


# --- the weekly leaderboard ------------------------------------------------------------------------------


async def _leaderboard(harness: Harness) -> list[tuple[int, int, int, int]]:
    async with harness.resources.session_factory() as session:
        rows = await session.execute(
            text("SELECT user_id, messages, words, rank FROM weekly_leaderboard ORDER BY rank, user_id")
        )
        return [(row[0], row[1], row[2], row[3]) for row in rows]


async def _week_of_messages(harness: Harness) -> None:
    now = dt.datetime.now(dt.UTC)
    await harness.add_learner(LEARNER, in_sandbox=False)
    await harness.add_learner(LEARNER + 1, in_sandbox=False)
    await harness.add_learner(LEARNER + 2, in_sandbox=False, is_active=False)
    await harness.add_messages(LEARNER, now - dt.timedelta(days=1), count=3, words=10)
    await harness.add_messages(LEARNER, now - dt.timedelta(days=8), count=1, words=100)  # last week
    await harness.add_messages(LEARNER + 1, now - dt.timedelta(hours=2), count=1, words=40)
    await harness.add_messages(LEARNER + 2, now - dt.timedelta(hours=2), count=5, words=10)  # blocked


async def test_the_leaderboard_is_refreshed_concurrently(harness: Harness) -> None:
    await _week_of_messages(harness)

    result = await harness.run_cron(refresh_materialized_views, TICK)

    assert result["weekly_leaderboard"]["concurrently"] is True
    assert await _leaderboard(harness) == [(LEARNER + 1, 1, 40, 1), (LEARNER, 3, 30, 2)]


async def test_a_refresh_does_not_block_readers(harness: Harness) -> None:
    await _week_of_messages(harness)
    await harness.run_cron(refresh_materialized_views, TICK)
    await harness.add_messages(LEARNER, dt.datetime.now(dt.UTC), count=2, words=20)
    engine = harness.resources.engine
    async with engine.connect() as reader:
        # A reader in the middle of a transaction holds its lock on the view until it ends.
        await reader.execute(text("SELECT count(*) FROM weekly_leaderboard"))

        async with asyncio.timeout(10):
            result = await harness.run_cron(refresh_materialized_views, TICK + dt.timedelta(hours=1))

        assert result["weekly_leaderboard"]["concurrently"] is True
        # A plain refresh would have had to wait for the reader.
        async with engine.connect() as other:
            await other.execute(text("SET lock_timeout = '300ms'"))
            with pytest.raises(DBAPIError, match="lock timeout"):
                await other.execute(text("REFRESH MATERIALIZED VIEW weekly_leaderboard"))
        await reader.rollback()
    assert await _leaderboard(harness) == [(LEARNER, 5, 70, 1), (LEARNER + 1, 1, 40, 2)]


async def test_a_never_populated_view_gets_a_plain_first_refresh(harness: Harness) -> None:
    await _week_of_messages(harness)
    async with harness.resources.session_factory.begin() as session:
        await session.execute(text("REFRESH MATERIALIZED VIEW weekly_leaderboard WITH NO DATA"))

    first = await harness.run_cron(refresh_materialized_views, TICK)
    second = await harness.run_cron(refresh_materialized_views, TICK + dt.timedelta(hours=1))

    assert first["weekly_leaderboard"]["concurrently"] is False
    assert second["weekly_leaderboard"]["concurrently"] is True
    assert len(await _leaderboard(harness)) == 2


async def test_the_migration_creates_the_view_with_a_unique_index(harness: Harness) -> None:
    async with harness.resources.session_factory() as session:
        views = set(await session.scalars(text("SELECT matviewname FROM pg_matviews")))
        rows = await session.execute(
            text("SELECT indexname, indexdef FROM pg_indexes WHERE tablename = 'weekly_leaderboard'")
        )
        indexes = {name: definition for name, definition in rows.tuples()}
    assert set(MATERIALIZED_VIEWS) <= views
    assert "UNIQUE" in indexes["ix_weekly_leaderboard_user_id"]
    # The view is not a model: autogenerate must not see it as a table to drop.
    assert "weekly_leaderboard" not in Base.metadata.tables


async def test_health_check_reports_each_queues_depth_and_its_oldest_waiting_job(harness: Harness) -> None:
    # One job running (in the queue with its in-progress key), one waiting for 30 s, one deferred.
    redis = harness.resources.pool
    now_ms = dt.datetime.now(dt.UTC).timestamp() * 1000
    await redis.zadd(Queue.FAST.value, {"running": now_ms - 60_000, "waiting": now_ms - 30_000})
    await redis.zadd(Queue.FAST.value, {"later": now_ms + 600_000})
    await redis.set("arq:in-progress:running", 1, px=60_000)
    queues = await maintenance._oldest_job_age(context_from_arq(harness.ctx(), "health_check", Queue.FAST))
    assert queues["fast"]["depth"] == 3
    assert 29 <= queues["fast"]["oldest_age_s"] < 40  # the running job is not "waiting", however old
    assert queues["long"] == {"depth": 0, "oldest_age_s": 0.0}
