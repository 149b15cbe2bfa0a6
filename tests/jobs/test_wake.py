"""One-round-trip enqueue keeping arq's data layout, and the worker that sleeps until woken (real Redis)."""

from __future__ import annotations

import asyncio
import datetime as dt
import time
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest
from arq import Retry
from arq.connections import ArqRedis, RedisSettings, create_pool
from arq.constants import job_key_prefix, result_key_prefix
from arq.jobs import Job, JobStatus, deserialize_job
from arq.worker import Worker, func
from redis.asyncio import Redis
from redis.asyncio.client import Pipeline
from redis.exceptions import ConnectionError as RedisConnectionError

from mluv.jobs import wake
from mluv.jobs.serializer import StoredJobError, deserialize, serialize
from mluv.jobs.wake import WakingRedis, WakingWorker, create_waking_pool, wake_channel

pytestmark = pytest.mark.integration

QUEUE = "mluv:test:wake"
IDLE = 30.0  # longer than any test: a job that runs promptly was woken, not found by a safety-net poll


@pytest.fixture
async def pools(redis: Redis, redis_url: str) -> AsyncIterator[tuple[WakingRedis, ArqRedis]]:
    """Ours and plain arq's, on the test's Redis db, with the same serializer."""
    settings = RedisSettings.from_dsn(redis_url)
    ours = await create_waking_pool(settings, default_queue_name=QUEUE)
    theirs = await create_pool(
        settings, job_serializer=serialize, job_deserializer=deserialize, default_queue_name=QUEUE
    )
    yield ours, theirs
    await ours.aclose()
    await theirs.aclose()


FUTURE = dt.datetime(2031, 1, 1, tzinfo=dt.UTC)


@pytest.mark.parametrize(
    "options",
    [
        {},
        {"_defer_by": 30},
        {"_defer_by": dt.timedelta(minutes=5)},
        {"_defer_until": FUTURE},
        {"_expires": 90},
        {"_defer_by": 10, "_expires": dt.timedelta(hours=2)},
        {"_job_try": 3},
    ],
    ids=["now", "defer-by", "defer-by-delta", "defer-until", "expires", "defer-expires", "job-try"],
)
async def test_enqueue_writes_exactly_what_arq_writes(
    pools: tuple[WakingRedis, ArqRedis], redis: Redis, options: dict[str, Any]
) -> None:
    ours, theirs = pools
    arguments: dict[str, Any] = {"user_id": 7, "day": "2026-11-21", "tags": ["a", "b"]}
    mine = await ours.enqueue_job("remind", _job_id="ours", **options, **arguments)
    arqs = await theirs.enqueue_job("remind", _job_id="arqs", **options, **arguments)
    assert mine is not None and arqs is not None
    assert (mine.job_id, mine._queue_name) == ("ours", QUEUE)

    pair = [await redis.get(job_key_prefix + job_id) for job_id in ("ours", "arqs")]
    decoded = [deserialize_job(raw, deserializer=deserialize) for raw in pair]
    # msgpack hands the (empty) positional arguments back as a list
    expected: list[Any] = [("remind", [], arguments, options.get("_job_try"))] * 2
    assert [(d.function, d.args, d.kwargs, d.job_try) for d in decoded] == expected
    assert abs(decoded[0].enqueue_time - decoded[1].enqueue_time) < dt.timedelta(seconds=1)
    scores = [await redis.zscore(QUEUE, job_id) for job_id in ("ours", "arqs")]
    assert scores[0] is not None and scores[1] is not None and abs(scores[0] - scores[1]) < 1000
    ttls = [await redis.pttl(job_key_prefix + job_id) for job_id in ("ours", "arqs")]
    assert ttls[0] > 0 and abs(ttls[0] - ttls[1]) < 1000
    # arq's own reader sees our job as it sees its own.
    assert (
        await mine.status()
        == await arqs.status()
        == (JobStatus.deferred if "_defer_by" in options or "_defer_until" in options else JobStatus.queued)
    )
    info = await Job("ours", theirs, _deserializer=deserialize).info()
    assert info is not None and info.function == "remind" and info.kwargs == arguments


@pytest.mark.parametrize("existing", [job_key_prefix, result_key_prefix], ids=["queued", "finished"])
async def test_an_id_already_queued_or_finished_is_not_enqueued_again(
    pools: tuple[WakingRedis, ArqRedis], redis: Redis, existing: str
) -> None:
    ours, _ = pools
    await redis.set(existing + "dup", b"x")
    assert await ours.enqueue_job("remind", _job_id="dup") is None
    assert await redis.zcard(QUEUE) == 0


async def test_defer_by_and_defer_until_together_are_refused(pools: tuple[WakingRedis, ArqRedis]) -> None:
    ours, _ = pools
    with pytest.raises(RuntimeError, match="not both"):
        await ours.enqueue_job("remind", _defer_by=1, _defer_until=FUTURE)


async def test_enqueue_is_one_round_trip_and_survives_a_script_flush(
    pools: tuple[WakingRedis, ArqRedis], redis: Redis, monkeypatch: pytest.MonkeyPatch
) -> None:
    ours, _ = pools
    await ours.enqueue_job("warm")  # loads the script
    sent: list[str] = []
    original: Any = ours.execute_command

    async def counting(*args: Any, **kwargs: Any) -> Any:
        sent.append(str(args[0]))
        return await original(*args, **kwargs)

    monkeypatch.setattr(ours, "execute_command", counting)
    assert await ours.enqueue_job("remind", user_id=1) is not None
    assert sent == ["EVALSHA"]
    await redis.script_flush()  # e.g. Redis restarted: EVALSHA answers NOSCRIPT once, then EVAL
    assert await ours.enqueue_job("remind", user_id=2) is not None
    assert await redis.zcard(QUEUE) == 3


async def test_enqueue_publishes_on_the_queues_wake_channel(pools: tuple[WakingRedis, ArqRedis]) -> None:
    ours, _ = pools
    async with ours.pubsub() as pubsub:
        await pubsub.subscribe(wake_channel(ours, QUEUE))
        await pubsub.get_message(timeout=1)  # the subscribe confirmation
        await ours.enqueue_job("remind")
        message = await pubsub.get_message(ignore_subscribe_messages=True, timeout=2)
    assert message is not None and message["type"] == "message"
    assert wake_channel(ours, QUEUE).startswith("mluv:wake:") and wake_channel(ours, QUEUE).endswith(QUEUE)


# --- the worker -----------------------------------------------------------------------------------------

ran: list[tuple[str, float]] = []


async def record(ctx: dict[str, Any], label: str, seconds: float = 0.0) -> str:
    if seconds:
        await asyncio.sleep(seconds)
    ran.append((label, time.monotonic()))
    return label


async def retry_once(ctx: dict[str, Any], label: str) -> str:
    if ctx["job_try"] == 1:
        raise Retry(defer=0.3)
    ran.append((label, time.monotonic()))
    return label


@pytest.fixture
async def worker(
    pools: tuple[WakingRedis, ArqRedis], redis_url: str
) -> AsyncIterator[Callable[..., WakingWorker]]:
    """Start WakingWorkers (or plain arq Workers: cls=Worker) in this loop; stopped at teardown."""
    ran.clear()
    started: list[tuple[Worker, asyncio.Task[None]]] = []

    def start(cls: type[Worker] = WakingWorker, **overrides: Any) -> Any:
        options: dict[str, Any] = {
            "functions": [func(record, name="record"), func(retry_once, name="retry_once", max_tries=3)],
            "queue_name": QUEUE,
            "redis_settings": RedisSettings.from_dsn(redis_url),
            "job_serializer": serialize,
            "job_deserializer": deserialize,
            "handle_signals": False,
            "allow_abort_jobs": True,
            "max_jobs": 10,
        }
        if cls is WakingWorker:
            options["idle_poll"] = IDLE
        created = cls(**{**options, **overrides})
        started.append((created, asyncio.create_task(created.async_run())))
        return created

    yield start
    await stop_workers(started)


async def stop_workers(started: list[tuple[Worker, asyncio.Task[None]]]) -> None:
    """Cancel workers started with asyncio.create_task(worker.async_run()) and close them."""
    for created, task in started:
        task.cancel()
        # A worker that ignores its cancel fails the test here instead of hanging the suite.
        async with asyncio.timeout(10):
            await asyncio.gather(task, return_exceptions=True)
            # Jobs still storing their result finish first: arq's close() would cancel them and re-raise.
            await asyncio.gather(*created.tasks.values(), return_exceptions=True)
            await created.close()


async def until(condition: Callable[[], bool], within: float = 5.0) -> float:
    """Seconds until condition() holds; fails after `within`."""
    start = time.monotonic()
    while not condition():
        if time.monotonic() - start > within:
            pytest.fail(f"not within {within} s")
        await asyncio.sleep(0.005)
    return time.monotonic() - start


async def ready(w: WakingWorker) -> None:
    await until(lambda: w.polls > 0)
    await asyncio.sleep(0.1)  # subscribed (its first poll follows the subscription)


async def test_an_enqueue_wakes_the_idle_worker_at_once(
    worker: Callable[..., WakingWorker], pools: tuple[WakingRedis, ArqRedis]
) -> None:
    ours, _ = pools
    w = worker()
    await ready(w)
    polls = w.polls
    await asyncio.sleep(0.5)
    assert w.polls == polls, "an idle worker must not poll before idle_poll"
    job = await ours.enqueue_job("record", label="now")
    assert job is not None
    assert await until(lambda: bool(ran), within=10) < 10  # not the 30 s idle poll (loose: CI load)
    assert await job.result(timeout=5, poll_delay=0.01) == "now"


def commands_sent(w: WakingWorker, monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The names of the commands the worker's pool sends from now on (scripts count as EVALSHA)."""
    sent: list[str] = []
    original: Any = w.pool.execute_command

    async def recording(*args: Any, **kwargs: Any) -> Any:
        sent.append(str(args[0]))
        return await original(*args, **kwargs)

    monkeypatch.setattr(w.pool, "execute_command", recording)
    return sent


@pytest.mark.parametrize(
    ("woken", "first_command"), [(False, "ZRANGEBYSCORE"), (True, "EVALSHA")], ids=["idle", "woken"]
)
async def test_an_idle_poll_is_one_read_and_a_woken_one_reads_and_claims_at_once(
    worker: Callable[..., WakingWorker],
    pools: tuple[WakingRedis, ArqRedis],
    monkeypatch: pytest.MonkeyPatch,
    woken: bool,
    first_command: str,
) -> None:
    # INFO commandstats counts a script's inner commands: an idle worker keeps one command per poll.
    ours, _ = pools
    w = worker(idle_poll=IDLE if woken else 0.1)  # woken: no idle poll comes first
    await ready(w)
    sent = commands_sent(w, monkeypatch)
    if woken:
        await ours.enqueue_job("record", label="woken")
        await until(lambda: bool(ran))
    else:
        await until(lambda: len(sent) >= 2)
        assert set(sent) == {"ZRANGEBYSCORE"}
    assert sent[0] == first_command


async def test_a_job_ending_on_an_idle_worker_sends_no_further_poll(
    worker: Callable[..., WakingWorker], pools: tuple[WakingRedis, ArqRedis], monkeypatch: pytest.MonkeyPatch
) -> None:
    # Its slot freed, nothing was left unclaimed: one claim per job, not a claim and a poll after it.
    ours, _ = pools
    w = worker()
    await ready(w)
    sent = commands_sent(w, monkeypatch)
    for n in range(3):
        job = await ours.enqueue_job("record", label=f"one {n}")
        assert job is not None
        assert await job.result(timeout=5) == f"one {n}"
    await until(lambda: not w.tasks or all(task.done() for task in w.tasks.values()))
    await asyncio.sleep(0.2)
    assert sent == ["EVALSHA"] * 3


async def test_a_deferred_job_runs_when_due_not_at_the_next_idle_poll(
    worker: Callable[..., WakingWorker], pools: tuple[WakingRedis, ArqRedis]
) -> None:
    ours, _ = pools
    w = worker()
    await ready(w)
    start = time.monotonic()
    await ours.enqueue_job("record", label="later", _defer_by=0.4)
    await until(lambda: bool(ran), within=10)
    assert 0.35 <= ran[0][1] - start < 10  # when due, not at the 30 s idle poll


async def test_a_retry_runs_after_its_defer(worker: Callable[..., WakingWorker], pools: Any) -> None:
    ours, _ = pools
    worker()
    start = time.monotonic()
    job = await ours.enqueue_job("retry_once", label="again")
    assert job is not None
    await until(lambda: bool(ran), within=10)
    assert 0.25 <= ran[0][1] - start < 10
    assert await job.result(timeout=5, poll_delay=0.01) == "again"


async def test_more_jobs_than_slots_and_read_limit_all_run(
    worker: Callable[..., WakingWorker], pools: Any
) -> None:
    ours, _ = pools
    worker(max_jobs=5, queue_read_limit=7)
    for n in range(60):
        await ours.enqueue_job("record", label=f"j{n}", seconds=0.01)
    await until(lambda: len(ran) == 60, within=10)
    assert sorted(label for label, _ in ran) == sorted(f"j{n}" for n in range(60))


async def test_jobs_from_plain_arq_are_picked_up_by_the_safety_net_poll(
    worker: Callable[..., WakingWorker], pools: Any
) -> None:
    _, theirs = pools
    worker(idle_poll=0.3)
    await theirs.enqueue_job("record", label="no wake")  # arq's enqueue publishes nothing
    assert await until(lambda: bool(ran)) < 1.5


async def test_plain_arq_workers_run_our_enqueues(worker: Callable[..., Worker], pools: Any) -> None:
    ours, _ = pools
    worker(cls=Worker, poll_delay=0.02)
    job = await ours.enqueue_job("record", label="compatible")
    assert job is not None
    assert await job.result(timeout=5, poll_delay=0.01) == "compatible"


async def test_abort_cancels_a_running_job(worker: Callable[..., WakingWorker], pools: Any) -> None:
    ours, _ = pools
    w = worker()
    job = await ours.enqueue_job("record", label="long", seconds=30)
    assert job is not None
    await until(lambda: len(w.job_tasks) == 1)  # running
    with pytest.raises(StoredJobError) as raised:  # arq's abort() expects a raw CancelledError result
        await job.abort(timeout=3, poll_delay=0.05)
    assert raised.value.type_name == "CancelledError"


async def test_a_redis_outage_is_waited_out_not_fatal(
    worker: Callable[..., WakingWorker], pools: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    ours, _ = pools
    w = worker(idle_poll=0.1)
    await ready(w)
    original: Any = w.pool.execute_command  # every poll's first command: a read or the read-and-claim script
    failures = 3

    async def unreachable(*args: Any, **kwargs: Any) -> Any:
        nonlocal failures
        if failures:
            failures -= 1
            raise RedisConnectionError("Connection refused")
        return await original(*args, **kwargs)

    monkeypatch.setattr(w.pool, "execute_command", unreachable)
    monkeypatch.setattr(wake, "RECONNECT_FIRST_SECONDS", 0.05)
    await until(lambda: failures == 0)
    job = await ours.enqueue_job("record", label="after the outage")
    assert job is not None
    assert await job.result(timeout=5, poll_delay=0.01) == "after the outage"
    assert w.main_task is not None and not w.main_task.done()


@pytest.mark.parametrize(
    "error", [RedisConnectionError("Timeout connecting to server"), OSError("reset")], ids=["redis", "os"]
)
async def test_a_job_whose_run_fails_on_redis_is_given_back_and_runs_again(
    worker: Callable[..., WakingWorker], pools: Any, monkeypatch: pytest.MonkeyPatch, error: Exception
) -> None:
    # Before: its in-progress key stayed, and no worker ran it until the key expired (minutes).
    ours, _ = pools
    w = worker(idle_poll=0.1)
    await ready(w)
    monkeypatch.setattr(wake, "RECONNECT_FIRST_SECONDS", 0.05)
    original = w.run_job
    failed: list[str] = []

    async def first_fails(job_id: str, score: int) -> None:
        if not failed:
            failed.append(job_id)
            raise error
        await original(job_id, score)

    monkeypatch.setattr(w, "run_job", first_fails)
    job = await ours.enqueue_job("record", label="given back")
    assert job is not None
    assert await job.result(timeout=5, poll_delay=0.01) == "given back"
    assert failed == [job.job_id]
    assert w.main_task is not None and not w.main_task.done()


async def test_a_cancel_arriving_with_a_wake_stops_the_sleeping_loop(redis_url: str) -> None:
    # The wake completes the sleep and the cancel lands in the same loop turn: with 3.11's wait_for the
    # cancel was dropped and the worker's task never stopped (the suite hung at a teardown).
    idle = WakingWorker(
        functions=[func(record, name="record")],
        queue_name=QUEUE,
        redis_settings=RedisSettings.from_dsn(redis_url),
        handle_signals=False,
        idle_poll=IDLE,
    )
    for _ in range(50):
        idle.wake.clear()  # as the loop does before each poll
        sleeping = asyncio.create_task(idle._sleep())
        await asyncio.sleep(0)  # inside the sleep
        idle.wake.set()
        sleeping.cancel()
        await asyncio.wait([sleeping], timeout=1)
        assert sleeping.cancelled()


async def test_a_connection_lost_while_starting_a_job_keeps_no_slot(
    worker: Callable[..., WakingWorker], pools: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    ours, _ = pools
    w = worker(max_jobs=1, idle_poll=0.1)
    await ready(w)
    original = w.pool.evalsha
    lost = 2

    async def dropping(*args: Any, **kwargs: Any) -> Any:
        nonlocal lost
        if lost:  # the start script's round trip
            lost -= 1
            raise RedisConnectionError("Connection reset by peer")
        return await original(*args, **kwargs)  # type: ignore[misc]

    monkeypatch.setattr(w.pool, "evalsha", dropping)
    monkeypatch.setattr(wake, "RECONNECT_FIRST_SECONDS", 0.05)
    job = await ours.enqueue_job("record", label="after two drops")
    assert job is not None
    # arq's start_jobs kept the only slot counted after such a drop: this job never ran.
    assert await job.result(timeout=5, poll_delay=0.01) == "after two drops"
    assert lost == 0
    await until(lambda: w.job_counter == 0)
    assert w.sem._value == w.max_jobs + 1  # arq sizes its semaphore max_jobs + 1


async def test_a_job_running_elsewhere_or_gone_is_not_started(
    worker: Callable[..., WakingWorker], pools: Any
) -> None:
    ours, _ = pools
    w = worker()
    await ready(w)
    w.allow_pick_jobs = False  # its own loop must not start `due` first: only the call below starts jobs
    elsewhere = await ours.enqueue_job("record", label="elsewhere", _defer_by=60)
    later = await ours.enqueue_job("record", label="later", _defer_by=60)
    due = await ours.enqueue_job("record", label="due", _defer_by=60)
    assert elsewhere and later and due
    await ours.set(f"arq:in-progress:{elsewhere.job_id}", b"1", px=60_000)  # another worker has it
    due_ms = int(time.time() * 1000) - 1  # whole ms in the past, as arq scores them (a float could be ahead)
    await ours.zadd(QUEUE, {elsewhere.job_id: due_ms, due.job_id: due_ms})
    # The same checks arq makes: running elsewhere, no longer queued, or not due yet: not started.
    await w.start_jobs([j.encode() for j in (elsewhere.job_id, "vanished", later.job_id, due.job_id)])
    assert set(w.tasks) == {due.job_id}
    assert await ours.pttl(f"arq:in-progress:{due.job_id}") > 0
    await until(lambda: len(ran) == 1)
    assert ran[0][0] == "due"


given_up: list[tuple[str | None, str, int, str]] = []


async def note_given_up(ctx: dict[str, Any], result: Any) -> None:
    given_up.append((result.job_id, result.function, result.job_try, str(result.result)))


@pytest.mark.parametrize(
    ("enqueue", "expected"),
    [
        # A job whose tries crashes or deploys used up (arq counts a try at each start).
        (
            {"function": "retry_once", "label": "crashed", "_job_try": 4},
            ("retry_once", 4, "JobExecutionFailed: max 3 retries exceeded"),
        ),
        (
            {"function": "gone", "label": "renamed"},
            ("gone", 1, "JobExecutionFailed: function 'gone' not found"),
        ),
    ],
    ids=["tries-used-up", "unknown-function"],
)
async def test_a_job_given_up_without_running_is_reported(
    worker: Callable[..., WakingWorker], pools: Any, enqueue: dict[str, Any], expected: tuple[Any, ...]
) -> None:
    ours, _ = pools
    given_up.clear()
    worker(on_given_up=note_given_up)
    arguments = dict(enqueue)  # the table's dict is shared between runs: never pop from it
    job = await ours.enqueue_job(arguments.pop("function"), **arguments)
    assert job is not None
    await until(lambda: bool(given_up))
    assert given_up == [(job.job_id, *expected)]
    assert not ran


async def test_an_abort_before_start_is_not_reported_as_given_up(
    worker: Callable[..., WakingWorker], pools: Any
) -> None:
    ours, _ = pools
    given_up.clear()
    job = await ours.enqueue_job("record", label="never", _defer_by=0.3)
    assert job is not None
    await ours.zadd("arq:abort", {job.job_id: time.time() * 1000})  # what Job.abort() writes
    worker(on_given_up=note_given_up)
    # The worker did take the job and end it as aborted (so the hook had its chance to be called).
    with pytest.raises(StoredJobError) as raised:
        await job.result(timeout=5, poll_delay=0.01)
    assert raised.value.type_name == "CancelledError"
    assert not ran
    assert not given_up


async def test_a_job_starts_without_sending_arqs_opening_transaction(
    worker: Callable[..., WakingWorker], pools: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The claim script ran it (mluv.jobs.claim): a try counted there still makes arq retry, then finish.
    ours, _ = pools
    sent: list[tuple[Any, ...]] = []
    original = Pipeline._execute_transaction

    async def recording(self: Pipeline, connection: Any, commands: Any, raise_on_error: bool) -> Any:
        sent.extend(args for args, _options in commands)
        return await original(self, connection, commands, raise_on_error)

    monkeypatch.setattr(Pipeline, "_execute_transaction", recording)
    worker()
    job = await ours.enqueue_job("retry_once", label="second try")
    assert job is not None
    assert await job.result(timeout=10, poll_delay=0.01) == "second try"
    assert [label for label, _ in ran] == ["second try"]
    assert ("GET", job_key_prefix + job.job_id) not in sent, "arq's opening went to Redis"
    assert any(command[0] == "PUBLISH" for command in sent), "the finishing transactions were recorded"
