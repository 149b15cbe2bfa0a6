"""Database housekeeping: retention deletes in batches and the materialized views (one place for both).

Materialized views are created by migrations, not by the models; MATERIALIZED_VIEWS is what
migrations/env.py tells autogenerate to ignore and what refresh_materialized_views refreshes.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any, cast

from sqlalchemy import CursorResult, delete, select, text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlalchemy.orm import InstrumentedAttribute

from mluv.db.models import Base, CronRun, Delivery, JobFailure, Message, PlatformMetrics

# Each has a unique index, so REFRESH ... CONCURRENTLY works (migrations/versions/0002_*).
MATERIALIZED_VIEWS = ("weekly_leaderboard",)

# Rows per DELETE: small enough that each statement holds its locks and WAL briefly, large enough that a
# year of messages takes minutes, not hours.
DELETE_BATCH = 5_000


@dataclass(frozen=True)
class Retention:
    """One table's retention rule: rows whose `column` is older than `days` are deleted."""

    model: type[Base]
    column: InstrumentedAttribute[dt.datetime]
    id_column: InstrumentedAttribute[int]
    days: int

    @property
    def table(self) -> str:
        return str(self.model.__tablename__)


def retention_rules(
    *,
    messages_days: int,
    deliveries_days: int,
    job_failures_days: int,
    platform_metrics_days: int,
    cron_runs_days: int,
) -> list[Retention]:
    return [
        Retention(Message, Message.created_at, Message.id, messages_days),
        Retention(Delivery, Delivery.created_at, Delivery.id, deliveries_days),
        Retention(JobFailure, JobFailure.failed_at, JobFailure.id, job_failures_days),
        Retention(PlatformMetrics, PlatformMetrics.captured_at, PlatformMetrics.id, platform_metrics_days),
        Retention(CronRun, CronRun.started_at, CronRun.id, cron_runs_days),
    ]


@dataclass(frozen=True)
class Deleted:
    rows: int
    batches: int


async def delete_older_than(
    session_factory: async_sessionmaker[AsyncSession],
    rule: Retention,
    cutoff: dt.datetime,
    *,
    batch_size: int = DELETE_BATCH,
) -> Deleted:
    """Delete the rule's rows older than `cutoff`, `batch_size` per statement, committing each batch.

    Committing between batches keeps every transaction short (no long locks, vacuum can follow) and makes
    a run cut by a deploy resumable: the next run simply finds fewer old rows.
    """
    oldest = select(rule.id_column).where(rule.column < cutoff).limit(batch_size).scalar_subquery()
    # No ORM session synchronisation: nothing is loaded, and "fetch" would return every deleted id.
    statement = (
        delete(rule.model).where(rule.id_column.in_(oldest)).execution_options(synchronize_session=False)
    )
    rows = batches = 0
    while True:
        async with session_factory.begin() as session:
            result = cast(CursorResult[Any], await session.execute(statement))
            deleted = result.rowcount or 0
        if deleted:
            batches += 1
            rows += deleted
        if deleted < batch_size:
            return Deleted(rows, batches)


async def is_populated(session: AsyncSession, view: str) -> bool:
    populated = await session.scalar(
        text("SELECT ispopulated FROM pg_matviews WHERE schemaname = current_schema() AND matviewname = :v"),
        {"v": view},
    )
    return bool(populated)


async def refresh_view(session_factory: async_sessionmaker[AsyncSession], view: str) -> bool:
    """Refresh `view` without blocking its readers; True if CONCURRENTLY was used.

    CONCURRENTLY refuses a view that was never populated (e.g. created WITH NO DATA or restored that
    way): that first refresh is a plain one.
    """
    if view not in MATERIALIZED_VIEWS:
        raise ValueError(f"unknown materialized view {view!r}")
    async with session_factory.begin() as session:
        concurrently = await is_populated(session, view)
        mode = "CONCURRENTLY " if concurrently else ""
        # The name is one of MATERIALIZED_VIEWS (checked above), never user input.
        await session.execute(text(f"REFRESH MATERIALIZED VIEW {mode}{view}"))
    return concurrently
