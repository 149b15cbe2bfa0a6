"""What operators do to jobs that reach them by name (a dead letter's row, a form): retry a dead letter.

The registry is consulted here, and only here and in the worker's function table: code that enqueues a
job it knows imports the job (mluv.jobs.declare).
"""

from __future__ import annotations

from dataclasses import dataclass

from arq.connections import ArqRedis
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from mluv.jobs.cron import CronJobSpec
from mluv.jobs.declare import registry
from mluv.jobs.failures import FailureNotOpenError, mark_retried, open_failure_for_update


@dataclass(frozen=True)
class RetriedFailure:
    failure_id: int
    job_name: str
    new_job_id: str


async def retry_failure(
    session_factory: async_sessionmaker[AsyncSession], pool: ArqRedis, failure_id: int
) -> RetriedFailure:
    """Enqueue the failed job again under a fresh id derived from the old one, and mark the row retried."""
    async with session_factory.begin() as session:
        row = await open_failure_for_update(session, failure_id)
        new_job_id = f"{row.job_id}:retry{row.id}"
        spec = registry.crons.get(row.job_name)
        if isinstance(spec, CronJobSpec):
            # A cron job's id carries its tick, so the retry runs for the same business key.
            job = await pool.enqueue_job(row.job_name, _job_id=new_job_id, _queue_name=spec.queue.value)
        else:
            declared = registry.get(row.job_name)
            values = declared.args_model.model_validate(row.arguments)
            job = await declared.enqueue_values(pool, values, job_id=new_job_id)
        if job is None:
            raise FailureNotOpenError(f"job {new_job_id} is already queued")
        await mark_retried(session, failure_id, new_job_id)
        return RetriedFailure(failure_id, row.job_name, new_job_id)
