"""Results pushed to the waiting caller, with arq's semantics (real Redis, a WakingWorker in this loop)."""

from __future__ import annotations

import asyncio
import datetime as dt
import gc
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest
from arq.connections import ArqRedis, RedisSettings
from arq.constants import result_key_prefix
from arq.jobs import Job, ResultNotFound, serialize_result
from arq.utils import timestamp_ms
from arq.worker import Worker, func
from redis.asyncio import Redis

from mluv.jobs.deployment import RedisNamespace
from mluv.jobs.results import PushedJob, done_message, parse_done_message, results_channel
from mluv.jobs.serializer import StoredJobError, deserialize, serialize
from mluv.jobs.wake import WakingRedis, WakingWorker, as_waking, create_waking_pool
from tests.jobs.test_wake import stop_workers

pytestmark = pytest.mark.integration

QUEUE = "mluv:test:results"
NEVER = 30.0  # a safety-net poll no test lives to see: a result that arrives was pushed


async def echo(ctx: dict[str, Any], value: Any, seconds: float = 0.0) -> Any:
    await asyncio.sleep(seconds)
    return value


async def fail(ctx: dict[str, Any], message: str) -> None:
    raise ValueError(message)


FUNCTIONS = [
    func(echo, name="echo"),
    func(fail, name="fail"),
    func(echo, name="forget", keep_result=0),
]


@pytest.fixture
async def pool(redis: Redis, redis_url: str) -> AsyncIterator[WakingRedis]:
    waking = await create_waking_pool(RedisSettings.from_dsn(redis_url), default_queue_name=QUEUE)
    yield waking
    await waking.aclose()


@pytest.fixture
async def run_worker(redis_url: str) -> AsyncIterator[Callable[..., Worker]]:
    """Start a WakingWorker (or a plain arq Worker: cls=Worker) in this loop; stopped at teardown."""
    started: list[tuple[Worker, asyncio.Task[None]]] = []

    def start(cls: type[Worker] = WakingWorker, **overrides: Any) -> Worker:
        options: dict[str, Any] = {
            "functions": FUNCTIONS,
            "queue_name": QUEUE,
            "redis_settings": RedisSettings.from_dsn(redis_url),
            "job_serializer": serialize,
            "job_deserializer": deserialize,
            "handle_signals": False,
            "max_jobs": 100,
            **({"idle_poll": NEVER} if cls is WakingWorker else {"poll_delay": 0.05}),
        }
        created = cls(**{**options, **overrides})
        started.append((created, asyncio.create_task(created.async_run())))
        return created

    yield start
    await stop_workers(started)


@pytest.fixture
def reads(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The job ids PushedJob read from Redis, one entry per read."""
    seen: list[str] = []
    original = PushedJob._read

    async def counting(self: PushedJob) -> tuple[bool, Any]:
        seen.append(self.job_id)
        return await original(self)

    monkeypatch.setattr(PushedJob, "_read", counting)
    return seen


async def subscribers(redis: Redis, pool: WakingRedis) -> int:
    [(_, count)] = await redis.pubsub_numsub(results_channel(pool))
    return int(count)


async def subscribers_become(redis: Redis, pool: WakingRedis, count: int) -> None:
    for _ in range(500):
        if await subscribers(redis, pool) == count:
            return
        await asyncio.sleep(0.01)
    pytest.fail(f"not {count} subscribers within 5 s")


async def subscribed(redis: Redis, pool: WakingRedis) -> None:
    """Until the pool's subscription is confirmed (a first wait on an unknown id opens it)."""
    with pytest.raises(ResultNotFound):
        await PushedJob(
            "nothing", pool, pool.result_waiters, queue_name=QUEUE, deserializer=deserialize
        ).result()
    await subscribers_become(redis, pool, 1)  # the confirmation reaches the listener after the read


async def pushed(job: PushedJob, poll_delay: float = NEVER) -> Any:
    """Its result, with no read at a deadline nor safety-net poll within 10 s: one that comes was pushed."""
    async with asyncio.timeout(10):  # else the test fails with TimeoutError
        return await job.result(poll_delay=poll_delay)


async def enqueue(pool: WakingRedis, function: str, **kwargs: Any) -> PushedJob:
    job = await pool.enqueue_job(function, **kwargs)
    assert isinstance(job, PushedJob)
    return job


@pytest.mark.parametrize(
    ("function", "kwargs", "expected", "expected_reads"),
    [
        ("echo", {"value": {"n": 1, "day": dt.date(2026, 12, 3)}}, {"n": 1, "day": dt.date(2026, 12, 3)}, 1),
        ("echo", {"value": None}, None, 1),
        ("fail", {"message": "bad input"}, StoredJobError("ValueError", "bad input"), 1),
        ("forget", {"value": 1}, ResultNotFound, 2),  # keep_result=0: done, nothing stored to push
        ("gone", {}, StoredJobError("JobExecutionFailed", "function 'gone' not found"), 1),  # given up
    ],
    ids=["value", "none", "failure-re-raised", "result-not-kept", "given-up"],
)
async def test_the_worker_pushes_each_outcome_to_the_waiting_caller(
    pool: WakingRedis,
    redis: Redis,
    run_worker: Callable[..., Worker],
    reads: list[str],
    function: str,
    kwargs: dict[str, Any],
    expected: Any,
    expected_reads: int,
) -> None:
    await subscribed(redis, pool)
    run_worker()
    reads.clear()
    job = await enqueue(pool, function, **kwargs)
    waiting = pushed(job)
    if isinstance(expected, StoredJobError):
        with pytest.raises(StoredJobError) as raised:
            await waiting
        assert (raised.value.type_name, raised.value.message) == (expected.type_name, expected.message)
    elif expected is ResultNotFound:
        with pytest.raises(ResultNotFound):
            await waiting
    else:
        assert await waiting == expected
    # The first read; the message carries the result, or wakes a read when there is none to carry.
    assert len(reads) == expected_reads


@pytest.mark.parametrize(
    ("job_id", "result_data"),
    [("plain", b"\x93stored"), ("with:colons:1", None), ("přání:ž", b"1:2:3"), ("", b"")],
    ids=["plain", "colons-no-result", "unicode", "empty"],
)
def test_a_done_message_carries_any_id_and_the_stored_result(job_id: str, result_data: bytes | None) -> None:
    assert parse_done_message(done_message(job_id, result_data)) == (job_id, result_data or None)


@pytest.mark.parametrize(
    ("worker", "poll_delay", "expected_reads"),
    [
        ("none", None, 1),  # the result is there already: returned at once, no waiting
        ("arq", 0.1, (2, 30)),  # a plain arq worker publishes nothing: the safety-net poll finds it
    ],
    ids=["already-present", "plain-arq-worker"],
)
async def test_without_a_push_the_result_is_still_found(
    pool: WakingRedis,
    run_worker: Callable[..., Worker],
    reads: list[str],
    worker: str,
    poll_delay: float | None,
    expected_reads: int | tuple[int, int],
) -> None:
    if worker == "none":
        await pool.set(result_key_prefix + "done-before", _stored_result("done-before", "early"))
        job = PushedJob("done-before", pool, pool.result_waiters, queue_name=QUEUE, deserializer=deserialize)
    else:
        run_worker(cls=Worker)
        job = await enqueue(pool, "echo", value="early", seconds=0.2)
    assert await pushed(job, poll_delay or NEVER) == "early"
    if isinstance(expected_reads, int):
        assert len(reads) == expected_reads
    else:
        assert expected_reads[0] <= len(reads) <= expected_reads[1]


def _stored_result(job_id: str, value: Any) -> bytes:
    now = timestamp_ms()
    stored = serialize_result(
        "echo", (), {}, 1, now, True, value, now, now, job_id, QUEUE, job_id, serializer=serialize
    )
    assert stored is not None
    return stored


async def test_a_result_written_before_the_subscription_is_read_once_subscribed(
    pool: WakingRedis, redis: Redis, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The worker finished between the caller's first read and its subscription: its message reached no
    # one. The read that follows the subscription's confirmation finds the result.
    job = await enqueue(pool, "echo", value="raced")
    original = PushedJob._read
    calls = 0

    async def finished_meanwhile(self: PushedJob) -> tuple[bool, Any]:
        nonlocal calls
        calls += 1
        outcome = await original(self)
        if calls == 1:
            assert await subscribers(redis, pool) == 0  # the subscription is not there yet
            await redis.set(result_key_prefix + job.job_id, _stored_result(job.job_id, "raced"))
            await redis.zrem(QUEUE, job.job_id)
        return outcome

    monkeypatch.setattr(PushedJob, "_read", finished_meanwhile)
    assert await pushed(job) == "raced"
    assert calls == 2


@pytest.mark.parametrize(
    ("timeout", "poll_delay"), [(0.0, NEVER), (0.3, NEVER), (0.3, 0.05)], ids=["zero", "pushed", "polled"]
)
async def test_a_job_not_done_in_time_raises_timeout_error(
    pool: WakingRedis, timeout: float, poll_delay: float
) -> None:
    job = await enqueue(pool, "echo", value=1)  # no worker: it stays queued
    loop = asyncio.get_running_loop()
    started = loop.time()
    with pytest.raises(asyncio.TimeoutError):
        await job.result(timeout=timeout, poll_delay=poll_delay)
    assert loop.time() - started >= timeout
    assert pool.result_waiters().waiting == {}


async def test_an_unknown_job_raises_result_not_found_as_arq_does(pool: WakingRedis, redis: Redis) -> None:
    ours = PushedJob("unknown", pool, pool.result_waiters, queue_name=QUEUE, deserializer=deserialize)
    arqs = Job("unknown", pool, _queue_name=QUEUE, _deserializer=deserialize)
    for job in (ours, arqs):
        with pytest.raises(ResultNotFound):
            await job.result(timeout=1)


async def test_many_callers_share_one_subscription(
    pool: WakingRedis, redis: Redis, run_worker: Callable[..., Worker]
) -> None:
    run_worker()
    jobs = [await enqueue(pool, "echo", value=n, seconds=0.3) for n in range(50)]
    waiting = asyncio.gather(*(pushed(job) for job in jobs))
    await asyncio.sleep(0.1)
    assert await subscribers(redis, pool) == 1
    assert await waiting == list(range(50))
    assert pool.result_waiters().waiting == {}


async def _pool_tasks() -> set[str]:
    return {task.get_name() for task in asyncio.all_tasks() if task.get_name() == "mluv-results"}


@pytest.mark.parametrize("caller", ["answered", "cancelled", "none"])
async def test_closing_the_pool_leaves_no_subscription_or_task(
    redis: Redis, redis_url: str, run_worker: Callable[..., Worker], caller: str
) -> None:
    closing = await create_waking_pool(RedisSettings.from_dsn(redis_url), default_queue_name=QUEUE)
    run_worker()
    if caller == "answered":
        assert await pushed(await enqueue(closing, "echo", value="x")) == "x"
    elif caller == "cancelled":  # e.g. a handler's own timeout while it waits
        job = await enqueue(closing, "echo", value="x", seconds=1)
        with pytest.raises(TimeoutError):
            async with asyncio.timeout(0.3):
                await job.result()
    if caller != "none":
        assert await subscribers(redis, closing) == 1
        assert await _pool_tasks() == {"mluv-results"}
    await closing.aclose()
    assert await _pool_tasks() == set()
    await subscribers_become(redis, closing, 0)  # the server drops a closed socket's subscription soon after
    assert closing.result_waiters().waiting == {}
    gc.collect()  # an unclosed connection's ResourceWarning would fail the test (warnings are errors)


@pytest.mark.parametrize(
    ("namespace", "db", "channel"),
    [(None, 0, "mluv:done:0"), ("b", 3, "b:done:3")],
    ids=["default", "namespaced"],
)
async def test_the_results_channel_names_the_namespace_and_the_db(
    namespace: str | None, db: int, channel: str
) -> None:
    pool = as_waking(ArqRedis(db=db), RedisNamespace(namespace) if namespace else None)
    try:
        assert results_channel(pool) == channel
    finally:
        await pool.aclose()
