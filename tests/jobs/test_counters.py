"""Job metrics: in-process aggregation, one pipeline per flush, sums across workers, quantiles."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import pytest
from fakeredis.aioredis import FakeRedis
from redis.asyncio import Redis

from mluv.jobs.counters import (
    BUCKETS,
    LAST_EXECUTION_KEY,
    NAMES_KEY,
    JobCounters,
    JobStats,
    Outcome,
    job_key,
    read_job_stats,
)

INF = len(BUCKETS)  # index of the +Inf bucket


@pytest.fixture
async def redis() -> AsyncIterator[Redis]:
    client = FakeRedis()
    try:
        yield client
    finally:
        await client.aclose()


@dataclass
class PipelineSpy:
    """Counts pipelines, their transaction flag and commands, and direct commands outside pipelines."""

    pipelines: list[dict[str, Any]] = field(default_factory=list)
    executed: list[int] = field(default_factory=list)
    direct_commands: list[Any] = field(default_factory=list)
    fail_next: int = 0


@pytest.fixture
def spy(redis: Redis, monkeypatch: pytest.MonkeyPatch) -> PipelineSpy:
    state = PipelineSpy()
    make_pipeline = redis.pipeline
    direct: Any = redis.execute_command

    def pipeline(*args: Any, **kwargs: Any) -> Any:
        state.pipelines.append(kwargs)
        pipe = make_pipeline(*args, **kwargs)
        execute = pipe.execute

        async def counted_execute(*a: Any, **kw: Any) -> Any:
            state.executed.append(len(pipe.command_stack))
            if state.fail_next:
                state.fail_next -= 1
                raise ConnectionError("redis went away")
            return await execute(*a, **kw)

        monkeypatch.setattr(pipe, "execute", counted_execute)
        return pipe

    async def counted_direct(*args: Any, **kwargs: Any) -> Any:
        state.direct_commands.append(args[0])
        return await direct(*args, **kwargs)

    monkeypatch.setattr(redis, "pipeline", pipeline)
    monkeypatch.setattr(redis, "execute_command", counted_direct)
    return state


def stats_by_name(stats: list[JobStats]) -> dict[str, JobStats]:
    return {s.name: s for s in stats}


def bucket_counts(**counts: int) -> tuple[int, ...]:
    """buckets tuple from b<index>=count keywords."""
    values = [0] * (len(BUCKETS) + 1)
    for key, count in counts.items():
        values[int(key.removeprefix("b"))] = count
    return tuple(values)


async def test_flush_writes_everything_in_one_pipeline(redis: Redis, spy: PipelineSpy) -> None:
    metrics = JobCounters()
    metrics.record("send_reminder", Outcome.SUCCEEDED, 0.003, finished_at=1000.0)
    metrics.record("send_reminder", Outcome.SUCCEEDED, 0.2, finished_at=1002.0)
    metrics.record("send_reminder", Outcome.FAILED, 0.7, finished_at=1001.0)
    metrics.record("broadcast", Outcome.RETRIED, 12.0, finished_at=990.0)
    metrics.record("broadcast", Outcome.SUCCEEDED, 40.0, finished_at=995.0)

    assert await metrics.flush(redis) == 2

    assert spy.pipelines == [{"transaction": False}]
    # send_reminder: 7 counters (executed, succeeded, failed, duration_count, b0, b5, b7) + sum + zadd;
    # broadcast: 6 counters (executed, retried, succeeded, duration_count, b11, b12) + sum + zadd; 1 sadd.
    assert spy.executed == [1 + 9 + 8]
    assert spy.direct_commands == []

    stats = stats_by_name(await read_job_stats(redis))
    assert sorted(stats) == ["broadcast", "send_reminder"]
    reminder = stats["send_reminder"]
    assert (reminder.executed, reminder.succeeded, reminder.failed, reminder.retried) == (3, 2, 1, 0)
    assert reminder.duration_count == 3
    assert reminder.duration_sum == pytest.approx(0.903)
    assert reminder.mean == pytest.approx(0.301)
    assert reminder.buckets == bucket_counts(b0=1, b5=1, b7=1)
    assert reminder.last_execution == 1002.0
    # p50: rank 1.5 of 3 falls in (0.1, 0.25]; p95: rank 2.85 falls in (0.5, 1].
    assert reminder.p50 == pytest.approx(0.175)
    assert reminder.p95 == pytest.approx(0.925)
    assert reminder.p50 is not None
    assert 0.1 < reminder.p50 <= 0.25
    assert reminder.p95 is not None
    assert 0.5 < reminder.p95 <= 1

    broadcast = stats["broadcast"]
    assert (broadcast.executed, broadcast.succeeded, broadcast.failed, broadcast.retried) == (2, 1, 0, 1)
    assert broadcast.duration_sum == pytest.approx(52.0)
    assert broadcast.buckets == bucket_counts(b11=1, b12=1)
    assert broadcast.last_execution == 995.0


async def test_flush_with_nothing_pending_does_nothing(redis: Redis, spy: PipelineSpy) -> None:
    assert await JobCounters().flush(redis) == 0
    assert spy.pipelines == []
    assert await read_job_stats(redis) == []


async def test_flush_clears_pending(redis: Redis) -> None:
    metrics = JobCounters()
    metrics.record("a", Outcome.SUCCEEDED, 0.01)
    assert await metrics.flush(redis) == 1
    assert await metrics.flush(redis) == 0
    [stats] = await read_job_stats(redis)
    assert stats.executed == 1


async def test_two_workers_add_up(redis: Redis) -> None:
    worker_a, worker_b = JobCounters(), JobCounters()
    worker_a.record("ping", Outcome.SUCCEEDED, 0.004, finished_at=100.0)
    worker_a.record("ping", Outcome.SUCCEEDED, 0.004, finished_at=101.0)
    worker_b.record("ping", Outcome.FAILED, 0.03, finished_at=105.0)
    worker_b.record("ping", Outcome.RETRIED, 0.03, finished_at=103.0)
    worker_b.record("report", Outcome.SUCCEEDED, 100.0, finished_at=104.0)
    await worker_a.flush(redis)
    await worker_b.flush(redis)
    await worker_a.flush(redis)  # nothing new

    stats = stats_by_name(await read_job_stats(redis))
    ping = stats["ping"]
    assert (ping.executed, ping.succeeded, ping.failed, ping.retried, ping.duration_count) == (4, 2, 1, 1, 4)
    assert ping.duration_sum == pytest.approx(0.068)
    assert ping.buckets == bucket_counts(b0=2, b3=2)
    assert ping.last_execution == 105.0
    assert stats["report"].buckets == bucket_counts(b13=1)


async def test_flush_failure_keeps_deltas_for_the_next_flush(redis: Redis, spy: PipelineSpy) -> None:
    metrics = JobCounters()
    metrics.record("ping", Outcome.SUCCEEDED, 0.02, finished_at=200.0)
    metrics.record("ping", Outcome.FAILED, 0.02, finished_at=210.0)
    spy.fail_next = 1
    with pytest.raises(ConnectionError, match="redis went away"):
        await metrics.flush(redis)
    assert await read_job_stats(redis) == []

    metrics.record("ping", Outcome.SUCCEEDED, 2.0, finished_at=205.0)
    metrics.record("other", Outcome.RETRIED, 0.5, finished_at=201.0)
    assert await metrics.flush(redis) == 2
    # Two attempts: the failed one (ping: 5 counters + sum + zadd + sadd) and the one that wrote the
    # merged deltas (ping: 6 counters + 2, other: 4 counters + 2, sadd).
    assert spy.executed == [8, 15]

    stats = stats_by_name(await read_job_stats(redis))
    ping = stats["ping"]
    assert (ping.executed, ping.succeeded, ping.failed) == (3, 2, 1)
    assert ping.duration_sum == pytest.approx(2.04)
    assert ping.buckets == bucket_counts(b2=2, b8=1)
    assert ping.last_execution == 210.0
    assert stats["other"].retried == 1
    assert await metrics.flush(redis) == 0


async def test_last_execution_keeps_the_newest_across_flushes(redis: Redis) -> None:
    late, early = JobCounters(), JobCounters()
    late.record("ping", Outcome.SUCCEEDED, 0.01, finished_at=2000.0)
    early.record("ping", Outcome.SUCCEEDED, 0.01, finished_at=1000.0)
    await late.flush(redis)
    await early.flush(redis)  # flushed last, but older
    [stats] = await read_job_stats(redis)
    assert stats.last_execution == 2000.0
    assert await redis.zscore(LAST_EXECUTION_KEY, "ping") == 2000.0

    early.record("ping", Outcome.SUCCEEDED, 0.01, finished_at=3000.0)
    await early.flush(redis)
    [stats] = await read_job_stats(redis)
    assert stats.last_execution == 3000.0


async def test_record_defaults_finished_at_to_now(redis: Redis) -> None:
    metrics = JobCounters()
    before = time.time()
    metrics.record("ping", Outcome.SUCCEEDED, 0.01)
    after = time.time()
    await metrics.flush(redis)
    [stats] = await read_job_stats(redis)
    assert stats.last_execution is not None
    assert before - 0.001 <= stats.last_execution <= after + 0.001


async def test_redis_layout(redis: Redis) -> None:
    metrics = JobCounters()
    metrics.record("ping", Outcome.SUCCEEDED, 0.01, finished_at=50.0)
    await metrics.flush(redis)
    assert await redis.smembers(NAMES_KEY) == {b"ping"}  # type: ignore[misc]
    raw = await redis.hgetall(job_key("ping"))  # type: ignore[misc]
    assert raw == {
        b"executed": b"1",
        b"succeeded": b"1",
        b"duration_count": b"1",
        b"b1": b"1",
        b"duration_sum": b"0.01",
    }
    assert job_key("ping") == "mluv:metrics:job:ping"


@pytest.mark.parametrize(
    ("duration", "bucket"),
    [
        pytest.param(0.0, 0, id="zero"),
        pytest.param(0.005, 0, id="on-first-bound"),
        pytest.param(0.0051, 1, id="just-above-first-bound"),
        pytest.param(0.1, 4, id="on-0.1"),
        pytest.param(1.0, 7, id="one-second"),
        pytest.param(1800.0, INF - 1, id="on-last-bound"),
        pytest.param(1800.5, INF, id="infinity"),
    ],
)
async def test_bucket_of_a_duration(redis: Redis, duration: float, bucket: int) -> None:
    metrics = JobCounters()
    metrics.record("ping", Outcome.SUCCEEDED, duration, finished_at=1.0)
    await metrics.flush(redis)
    [stats] = await read_job_stats(redis)
    assert stats.buckets == bucket_counts(**{f"b{bucket}": 1})


async def test_background_flush_and_stop(redis: Redis) -> None:
    metrics = JobCounters(flush_interval=0.01)
    metrics.start(redis)
    metrics.start(redis)  # idempotent
    metrics.record("ping", Outcome.SUCCEEDED, 0.01, finished_at=1.0)
    for _ in range(200):
        if await read_job_stats(redis):
            break
        await asyncio.sleep(0.01)
    [stats] = await read_job_stats(redis)
    assert stats.executed == 1

    metrics.record("ping", Outcome.FAILED, 0.01, finished_at=2.0)
    await metrics.stop(redis)  # final flush
    [stats] = await read_job_stats(redis)
    assert (stats.executed, stats.failed) == (2, 1)


async def test_background_flush_survives_redis_errors(redis: Redis, spy: PipelineSpy) -> None:
    metrics = JobCounters(flush_interval=0.01)
    spy.fail_next = 2
    metrics.record("ping", Outcome.SUCCEEDED, 0.01, finished_at=1.0)
    metrics.start(redis)
    try:
        for _ in range(300):
            if len(spy.executed) >= 3:
                break
            await asyncio.sleep(0.01)
    finally:
        await metrics.stop(redis)
    [stats] = await read_job_stats(redis)
    assert stats.executed == 1


# --- quantiles on hand-built stats --------------------------------------------------------------------------


def stats_with(buckets: tuple[int, ...], duration_sum: float = 0.0) -> JobStats:
    count = sum(buckets)
    return JobStats(
        name="x",
        executed=count,
        succeeded=count,
        failed=0,
        retried=0,
        duration_count=count,
        duration_sum=duration_sum,
        buckets=buckets,
        last_execution=None,
    )


@pytest.mark.parametrize(
    ("buckets", "q", "expected"),
    [
        pytest.param(bucket_counts(b4=10), 0.5, 0.075, id="one-bucket-p50"),
        pytest.param(bucket_counts(b4=10), 0.95, 0.0975, id="one-bucket-p95"),
        pytest.param(bucket_counts(b4=10), 1.0, 0.1, id="one-bucket-max"),
        pytest.param(bucket_counts(b4=10), 0.0, 0.05, id="one-bucket-min"),
        pytest.param(bucket_counts(b0=10), 0.5, 0.0025, id="first-bucket-from-zero"),
        pytest.param(bucket_counts(b0=5, b2=5), 0.5, 0.005, id="split-at-boundary"),
        pytest.param(bucket_counts(b0=5, b2=5), 0.9, 0.022, id="split-upper"),
        pytest.param(bucket_counts(b0=90, b9=10), 0.95, 3.75, id="tail"),
        pytest.param(bucket_counts(b7=1, b8=3), 0.5, 1.5, id="skip-lower"),
        pytest.param(bucket_counts(b15=4), 0.5, 1800.0, id="infinity-bucket"),
    ],
)
def test_quantile(buckets: tuple[int, ...], q: float, expected: float) -> None:
    assert stats_with(buckets).quantile(q) == pytest.approx(expected)


def test_quantile_of_nothing_is_none() -> None:
    empty = stats_with(bucket_counts())
    assert empty.quantile(0.5) is None
    assert empty.p50 is None
    assert empty.p95 is None
    assert empty.mean is None


def test_p50_p95_mean() -> None:
    stats = stats_with(bucket_counts(b4=10), duration_sum=0.8)
    assert stats.p50 == pytest.approx(0.075)
    assert stats.p95 == pytest.approx(0.0975)
    assert stats.mean == pytest.approx(0.08)
