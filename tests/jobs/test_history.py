"""Job history in a real Redis: each try of a run (bounded list with a TTL) and per-minute outcomes per job
(hourly hashes expiring 48 h after their hour), written by execute() through the worker's JobHistory."""

from __future__ import annotations

import contextlib
import time
from typing import Any

import pytest
from arq import Retry
from redis.asyncio import Redis
from redis.exceptions import ConnectionError as RedisConnectionError

from mluv.jobs.history import (
    CTX_HISTORY,
    MINUTES_TTL,
    TRIES_KEPT,
    TRIES_TTL,
    JobHistory,
    TryOutcome,
    minutes_key,
    read_run,
    read_throughput,
    read_tries,
    tries_key,
)
from mluv.jobs.queues import Queue
from mluv.jobs.retry import NO_RETRY, RetryableError, RetryPolicy
from mluv.jobs.run import CTX_RESOURCES, execute

pytestmark = pytest.mark.integration

BOT_TOKEN = "987654321:AAFakeTokenForHistoryTests_abcdefghij"


@pytest.mark.parametrize(
    ("tries", "kept"),
    [(1, [1]), (3, [1, 2, 3]), (TRIES_KEPT + 5, list(range(6, TRIES_KEPT + 6)))],
)
async def test_tries_are_kept_in_order_bounded_and_expiring(
    redis: Redis, tries: int, kept: list[int]
) -> None:
    history = JobHistory("host:1:fast")
    start = time.time() - 100
    for n in range(1, tries + 1):
        outcome = TryOutcome.SUCCEEDED if n == tries else TryOutcome.RETRIED
        error = None if n == tries else RuntimeError(f"try {n} via bot{BOT_TOKEN}")
        history.record("job-1", "ping", n, outcome, started_at=start + n, duration=0.25, error=error)
    assert await history.flush(redis) == tries
    records = await read_tries(redis, "job-1")
    assert [r.job_try for r in records] == kept
    assert records[-1].outcome == TryOutcome.SUCCEEDED and records[-1].error is None
    assert all(r.worker == "host:1:fast" and r.duration == 0.25 for r in records)
    assert all(BOT_TOKEN not in (r.error or "") for r in records)
    assert 0 < await redis.ttl(tries_key("job-1")) <= TRIES_TTL
    assert await read_tries(redis, "another-job") == []


@pytest.mark.parametrize(
    ("events", "minute_totals", "failed"),
    [
        # (seconds before now, outcome) → per-minute totals of the last three minutes, failures in the hour.
        ([], [0, 0, 0], 0),
        ([(1, TryOutcome.SUCCEEDED), (2, TryOutcome.SUCCEEDED)], [0, 0, 2], 0),
        ([(1, TryOutcome.FAILED), (61, TryOutcome.RETRIED), (121, TryOutcome.GIVEN_UP)], [1, 1, 1], 2),
        ([(1, TryOutcome.SKIPPED), (1, TryOutcome.FAILED), (3700, TryOutcome.SUCCEEDED)], [0, 0, 2], 1),
    ],
)
async def test_per_minute_outcomes(
    redis: Redis, events: list[tuple[int, str]], minute_totals: list[int], failed: int
) -> None:
    now = (int(time.time()) // 60) * 60 + 30  # half past a minute: "1 s ago" stays in it
    history = JobHistory("host:1:fast")
    for ago, outcome in events:
        history.record("j", "report", 1, outcome, started_at=now - ago, duration=0.0)
    await history.flush(redis)
    throughput = await read_throughput(redis, "report", now=now)
    assert len(throughput.minutes) == 60 and len(throughput.hours) == MINUTES_TTL // 3600
    assert [slot.total for slot in throughput.minutes[-3:]] == minute_totals
    assert sum(s.failed for s in throughput.minutes) == failed
    assert sum(s.total for s in throughput.hours) == len(events)
    for hour in {(now - ago) // 3600 for ago, _ in events}:
        ttl = await redis.ttl(minutes_key("report", hour))
        assert 0 < ttl <= MINUTES_TTL


async def test_a_failed_flush_keeps_what_it_could_not_write(redis: Redis) -> None:
    history = JobHistory("w")
    history.record("j", "ping", 1, TryOutcome.SUCCEEDED, started_at=time.time(), duration=0.1)
    broken = Redis(host="127.0.0.1", port=9, socket_connect_timeout=0.2)
    with pytest.raises((OSError, RedisConnectionError)):
        await history.flush(broken)
    await broken.aclose()
    assert await history.flush(redis) == 1
    assert len(await read_tries(redis, "j")) == 1


def _ctx(job_id: str, job_try: int, history: JobHistory) -> dict[str, Any]:
    # No resources: a dead letter's database write fails and is logged, which these tries do not need.
    return {"job_id": job_id, "job_try": job_try, CTX_HISTORY: history, CTX_RESOURCES: None}


async def _ok(_: Any) -> str:
    return "done"


async def _transient(_: Any) -> str:
    raise RetryableError("upstream busy")


async def _broken(_: Any) -> str:
    raise ValueError("bad input")


@pytest.mark.parametrize(
    ("call", "policy", "outcome", "error"),
    [
        (_ok, NO_RETRY, TryOutcome.SUCCEEDED, None),
        (_transient, RetryPolicy(max_tries=3), TryOutcome.RETRIED, "RetryableError: upstream busy"),
        (_broken, NO_RETRY, TryOutcome.FAILED, "ValueError: bad input"),
    ],
)
async def test_execute_records_each_try(
    redis: Redis, call: Any, policy: RetryPolicy, outcome: str, error: str | None
) -> None:
    history = JobHistory("host:7:fast")
    ctx = _ctx("run-1", 1, history)
    with contextlib.suppress(Retry, ValueError):
        await execute(
            ctx, name="sample", queue=Queue.FAST, policy=policy, time_limit=5, arguments={}, call=call
        )
    await history.flush(redis)
    (record,) = await read_tries(redis, "run-1")
    assert (record.job_name, record.job_try, record.outcome, record.error) == ("sample", 1, outcome, error)
    assert record.worker == "host:7:fast" and record.duration >= 0
    assert (await read_throughput(redis, "sample")).minutes[-1].total == 1


async def test_read_run_of_a_queued_job_and_an_unknown_one(redis: Redis) -> None:
    from arq.connections import ArqRedis

    from mluv.jobs.serializer import deserialize, serialize

    pool = ArqRedis(
        connection_pool=redis.connection_pool, job_serializer=serialize, job_deserializer=deserialize
    )
    job = await pool.enqueue_job("ping", token="x", _job_id="queued-1", _queue_name=Queue.LONG.value)
    assert job is not None
    run = await read_run(redis, "queued-1")
    assert (run.function, run.kwargs, run.queue, run.in_progress, run.result) == (
        "ping",
        {"token": "x"},
        Queue.LONG,
        False,
        None,
    )
    unknown = await read_run(redis, "never-was")
    assert not unknown.known
