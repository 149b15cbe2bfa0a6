"""Dead letters: jobs that failed for good, stored in job_failures, from which an operator retries them.

`mluv jobs failures` lists them; `mluv jobs retry ID` enqueues the job again with the stored arguments
(validated again by the job's declaration) and marks the row retried; `mluv jobs discard ID` closes it.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from arq.connections import ArqRedis
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from mluv.db.models import JobFailure
from mluv.jobs.declare import registry


class FailureNotFoundError(LookupError):
    pass


class FailureNotOpenError(ValueError):
    pass


@dataclass(frozen=True)
class RetriedFailure:
    failure_id: int
    job_name: str
    new_job_id: str


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
    session_factory: async_sessionmaker[AsyncSession], *, status: str | None = "open", limit: int = 50
) -> list[JobFailure]:
    async with session_factory() as session:
        query = select(JobFailure).order_by(JobFailure.failed_at.desc()).limit(limit)
        if status is not None:
            query = query.where(JobFailure.status == status)
        return list((await session.scalars(query)).all())


async def retry_failure(
    session_factory: async_sessionmaker[AsyncSession], pool: ArqRedis, failure_id: int
) -> RetriedFailure:
    """Enqueue the failed job again under a fresh id derived from the old one, and mark the row retried."""
    async with session_factory.begin() as session:
        # FOR UPDATE: two operators pressing Retry at once enqueue it once.
        row = await session.get(JobFailure, failure_id, with_for_update=True)
        if row is None:
            raise FailureNotFoundError(f"no job failure with id {failure_id}")
        if row.status != "open":
            raise FailureNotOpenError(f"job failure {failure_id} is already {row.status}")
        new_job_id = f"{row.job_id}:retry{row.id}"
        if row.job_name in registry.crons:
            # A cron job's id carries its tick, so the retry runs for the same business key.
            queue = registry.crons[row.job_name].queue.value
            job = await pool.enqueue_job(row.job_name, _job_id=new_job_id, _queue_name=queue)
        else:
            declared = registry.get(row.job_name)
            values = declared.args_model.model_validate(row.arguments)
            job = await declared.enqueue_values(values, job_id=new_job_id, pool=pool)
        if job is None:
            raise FailureNotOpenError(f"job {new_job_id} is already queued")
        await session.execute(
            update(JobFailure)
            .where(JobFailure.id == failure_id)
            .values(status="retried", retried_job_id=new_job_id, resolved_at=dt.datetime.now(dt.UTC))
        )
        return RetriedFailure(failure_id, row.job_name, new_job_id)


async def discard_failure(session_factory: async_sessionmaker[AsyncSession], failure_id: int) -> None:
    async with session_factory.begin() as session:
        result = await session.execute(
            update(JobFailure)
            .where(JobFailure.id == failure_id, JobFailure.status == "open")
            .values(status="discarded", resolved_at=dt.datetime.now(dt.UTC))
            .returning(JobFailure.id)
        )
        if result.scalar_one_or_none() is None:
            raise FailureNotFoundError(f"no open job failure with id {failure_id}")
