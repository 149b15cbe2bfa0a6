"""arq's Redis layout, read: which jobs arq still knows, and what it holds about them.

arq keeps, per job, `arq:job:<id>` (the payload, until it finishes), `arq:in-progress:<id>` (while a worker
runs it), `arq:retry:<id>` (tries so far) and `arq:result:<id>` (kept JOB_KEEP_RESULT s); a queue is a
sorted set of job ids scored by the time they are due. This module is the one place that reads those keys
for the dashboard, /metrics, the bot's /jobs and the delivery reconciler; it never SCANs the keyspace.
"""

from __future__ import annotations

from collections.abc import Iterable

from arq.constants import in_progress_key_prefix, job_key_prefix, result_key_prefix
from redis.asyncio import Redis


async def jobs_known(redis: Redis, job_ids: Iterable[str]) -> set[str]:
    """The ids among `job_ids` that arq still knows: queued or deferred (job key), running (in-progress
    key) or finished with a kept result. A job with none of these vanished (Redis lost, flushed)."""
    ids = list(job_ids)
    if not ids:
        return set()
    async with redis.pipeline(transaction=False) as pipe:
        for job_id in ids:
            pipe.exists(job_key_prefix + job_id, in_progress_key_prefix + job_id, result_key_prefix + job_id)
        counts = await pipe.execute()
    return {job_id for job_id, count in zip(ids, counts, strict=True) if count}


async def jobs_alive(redis: Redis, job_ids: Iterable[str]) -> set[str]:
    """The ids among `job_ids` that are queued, deferred or running (not finished, not vanished)."""
    ids = list(job_ids)
    if not ids:
        return set()
    async with redis.pipeline(transaction=False) as pipe:
        for job_id in ids:
            pipe.exists(job_key_prefix + job_id, in_progress_key_prefix + job_id)
        counts = await pipe.execute()
    return {job_id for job_id, count in zip(ids, counts, strict=True) if count}
