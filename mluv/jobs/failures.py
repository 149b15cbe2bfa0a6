"""Dead letters: jobs that failed for good, stored in job_failures; every statement on that table.

A job's last failed try writes one (mluv.jobs.run); `mluv jobs failures` and the dashboard list them;
`mluv jobs retry ID` enqueues the job again (mluv.jobs.operations.retry_failure) and marks the row
retried; `mluv jobs discard ID` closes it. States: mluv.db.models.FailureStatus.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from mluv.db.models import FailureStatus, JobFailure


class FailureNotFoundError(LookupError):
    pass


class FailureNotOpenError(ValueError):
    pass


async def insert_failure(
    session_factory: async_sessionmaker[AsyncSession],
    *,
    job_id: str,
    job_name: str,
    queue: str,
    arguments: dict[str, Any],
    error: str,
    traceback_text: str,
    tries: int,
) -> int:
    async with session_factory.begin() as session:
        row = JobFailure(
            job_id=job_id,
            job_name=job_name,
            queue=queue,
            arguments=arguments,
            error=error,
            traceback=traceback_text,
            tries=tries,
        )
        session.add(row)
        await session.flush()
        return row.id


async def list_failures(
    session_factory: async_sessionmaker[AsyncSession],
    *,
    status: FailureStatus | None = FailureStatus.OPEN,
    limit: int = 50,
) -> list[JobFailure]:
    async with session_factory() as session:
        query = select(JobFailure).order_by(JobFailure.failed_at.desc()).limit(limit)
        if status is not None:
            query = query.where(JobFailure.status == status)
        return list((await session.scalars(query)).all())


async def open_failure_for_update(session: AsyncSession, failure_id: int) -> JobFailure:
    """The open dead letter, locked (FOR UPDATE: two operators pressing Retry at once enqueue it once)."""
    row = await session.get(JobFailure, failure_id, with_for_update=True)
    if row is None:
        raise FailureNotFoundError(f"no job failure with id {failure_id}")
    if row.status != FailureStatus.OPEN:
        raise FailureNotOpenError(f"job failure {failure_id} is already {row.status}")
    return row


async def mark_retried(session: AsyncSession, failure_id: int, new_job_id: str) -> None:
    await session.execute(
        update(JobFailure)
        .where(JobFailure.id == failure_id)
        .values(status=FailureStatus.RETRIED, retried_job_id=new_job_id, resolved_at=dt.datetime.now(dt.UTC))
    )


async def discard_failure(session_factory: async_sessionmaker[AsyncSession], failure_id: int) -> None:
    async with session_factory.begin() as session:
        result = await session.execute(
            update(JobFailure)
            .where(JobFailure.id == failure_id, JobFailure.status == FailureStatus.OPEN)
            .values(status=FailureStatus.DISCARDED, resolved_at=dt.datetime.now(dt.UTC))
            .returning(JobFailure.id)
        )
        if result.scalar_one_or_none() is None:
            raise FailureNotFoundError(f"no open job failure with id {failure_id}")
