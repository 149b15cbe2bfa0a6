"""Dead letters (`job_failures`, home: mluv.jobs.failures) as the dashboard lists and /metrics counts them."""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from mluv.db.models import FailureStatus, JobFailure


async def failures(
    session_factory: async_sessionmaker[AsyncSession],
    *,
    status: FailureStatus | None = FailureStatus.OPEN,
    limit: int = 50,
) -> tuple[list[JobFailure], dict[str, int]]:
    """The newest dead letters of a status (None: any), and the count of every status."""
    async with session_factory() as session:
        query = select(JobFailure).order_by(JobFailure.failed_at.desc(), JobFailure.id.desc()).limit(limit)
        if status is not None:
            query = query.where(JobFailure.status == status)
        rows = list((await session.scalars(query)).all())
        grouped = await session.execute(select(JobFailure.status, func.count()).group_by(JobFailure.status))
        counts = {state: int(count) for state, count in grouped.tuples()}
    return rows, counts


async def open_failures_by_job(session_factory: async_sessionmaker[AsyncSession]) -> dict[str, int]:
    async with session_factory() as session:
        query = select(JobFailure.job_name, func.count()).where(JobFailure.status == FailureStatus.OPEN)
        rows = await session.execute(query.group_by(JobFailure.job_name))
        return {name: int(count) for name, count in rows.tuples()}
