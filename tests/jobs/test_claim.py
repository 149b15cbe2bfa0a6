"""The claim script runs arq's run_job opening, and arq's run_job takes its replies (real Redis)."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from typing import Any

import pytest
from arq.connections import ArqRedis, RedisSettings
from arq.constants import abort_jobs_ss, in_progress_key_prefix, job_key_prefix, retry_key_prefix
from arq.worker import Worker, func
from redis.asyncio import Redis
from redis.asyncio.client import Pipeline

from mluv.jobs.claim import (
    RETRY_KEY_TTL_S,
    START_SCRIPT,
    Opening,
    PrefetchedPipeline,
    claim_args,
    parse_claimed,
    take_opening,
)
from mluv.jobs.wake import WakingRedis, create_waking_pool

pytestmark = pytest.mark.integration

QUEUE = "mluv:test:claim"


class Queued(Exception):
    """Raised by the recording pipeline with the commands arq queued."""


class Recording(Pipeline):
    async def execute(self, raise_on_error: bool = True) -> list[Any]:
        raise Queued(tuple(args for args, _options in self.command_stack))


class Recorder:
    """Stands in for the worker's pool: its transactions record what arq queues."""

    def __init__(self, pool: Redis) -> None:
        self.pool = pool

    def pipeline(self, transaction: bool = True) -> Recording:
        return Recording(self.pool.connection_pool, {}, transaction, None)


async def noop(ctx: dict[str, Any]) -> None:
    return None


@pytest.mark.parametrize("allow_abort", [True, False], ids=["aborts-allowed", "no-aborts"])
async def test_arq_opens_run_job_with_the_commands_the_claim_runs(allow_abort: bool) -> None:
    # Pins arq's opening (GET job, INCRBY retry 1, EXPIRE retry, ZREM abort): if arq changes it, the
    # prefetched replies no longer fit and this fails before a worker does.
    pool = ArqRedis()  # never connects: the recording pipeline raises before any I/O
    worker = Worker(functions=[func(noop, name="noop")], redis_pool=pool, allow_abort_jobs=allow_abort)
    worker._pool = Recorder(pool)  # type: ignore[assignment]
    with pytest.raises(Queued) as queued:
        await worker.run_job("job-1", 0)
    assert queued.value.args[0] == Opening.for_job("job-1", allow_abort, b"x", 1, 0).commands
    await pool.aclose()


@pytest.fixture
async def pool(redis: Redis, redis_url: str) -> AsyncIterator[WakingRedis]:
    waking = await create_waking_pool(RedisSettings.from_dsn(redis_url), default_queue_name=QUEUE)
    yield waking
    await waking.aclose()


async def claim(pool: WakingRedis, job_id: str, allow_abort: bool) -> list[tuple[str, int, Opening]]:
    started = await pool.register_script(START_SCRIPT)(
        keys=[QUEUE, abort_jobs_ss], args=claim_args(60_000, 10, allow_abort, ["ids", job_id])
    )
    return parse_claimed(started[2:], allow_abort)


@pytest.mark.parametrize(
    ("case", "allow_abort", "expected"),
    [
        # case, aborts allowed, then the replies arq's run_job gets: job present, try, aborted
        ("first-run", True, (True, 1, 0)),
        ("second-run", True, (True, 2, 0)),
        ("aborted", True, (True, 1, 1)),
        ("aborted-but-aborts-off", False, (True, 1, None)),
        ("expired", True, (False, 1, 0)),
    ],
    ids=["first-run", "second-run", "aborted", "aborted-but-aborts-off", "expired"],
)
async def test_the_claim_runs_the_opening(
    pool: WakingRedis, case: str, allow_abort: bool, expected: tuple[bool, int, int | None]
) -> None:
    job = await pool.enqueue_job("noop", _job_id=f"claim-{case}")
    assert job is not None
    stored = await pool.get(job_key_prefix + job.job_id)
    if case == "second-run":  # a first run that died: its claim's in-progress key is gone
        await claim(pool, job.job_id, allow_abort)
        await pool.delete(in_progress_key_prefix + job.job_id)
    if case.startswith("aborted"):
        await pool.zadd(abort_jobs_ss, {job.job_id: time.time() * 1000})  # what Job.abort() writes
    if case == "expired":
        await pool.delete(job_key_prefix + job.job_id)

    [(job_id, _score, opening)] = await claim(pool, job.job_id, allow_abort)

    present, job_try, aborted = expected
    assert job_id == job.job_id
    assert opening.replies[0] == (stored if present else None)
    assert opening.replies[1:3] == (job_try, True)
    assert opening.replies[3:] == (() if aborted is None else (aborted,))
    assert 0 < await pool.ttl(retry_key_prefix + job_id) <= RETRY_KEY_TTL_S
    left_in_abort_set = case.startswith("aborted") and not allow_abort
    assert (await pool.zscore(abort_jobs_ss, job_id) is not None) == left_in_abort_set
    assert await pool.exists(in_progress_key_prefix + job_id)
    await pool.zrem(abort_jobs_ss, job_id)


async def test_a_prefetched_opening_is_taken_once_and_checked(pool: WakingRedis) -> None:
    opening = Opening.for_job("job-2", True, b"payload", 3, 1)
    opening.install()
    async with pool.pipeline(transaction=True) as pipe:
        assert isinstance(pipe, PrefetchedPipeline)
        pipe.get(job_key_prefix + "job-2")
        pipe.incr(retry_key_prefix + "job-2")
        pipe.expire(retry_key_prefix + "job-2", RETRY_KEY_TTL_S)
        pipe.zrem(abort_jobs_ss, "job-2")
        assert await pipe.execute() == [b"payload", 3, True, 1]
    assert take_opening() is None
    assert not isinstance(pool.pipeline(), PrefetchedPipeline), "the job's later transactions go to Redis"

    Opening.for_job("job-3", True, b"payload", 1, 0).install()
    async with pool.pipeline(transaction=True) as pipe:
        pipe.get(job_key_prefix + "job-3")
        with pytest.raises(RuntimeError, match="opening changed"):
            await pipe.execute()
