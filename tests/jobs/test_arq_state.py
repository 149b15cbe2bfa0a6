"""Reading arq's Redis layout: jobs arq still knows, queue states, job views, results, worker presence."""

from __future__ import annotations

import json
import time

import pytest
from arq.constants import in_progress_key_prefix, job_key_prefix, result_key_prefix, retry_key_prefix
from arq.jobs import serialize_job, serialize_result
from redis.asyncio import Redis

from mluv.jobs.arq_state import (
    UNREADABLE_PAYLOAD,
    JobState,
    heartbeat_alive,
    jobs_alive,
    jobs_known,
    jobs_snapshot,
    queue_state,
    read_recent_job_ids,
    read_workers,
    recent_results,
)
from mluv.jobs.presence import RECENT_JOBS_KEPT, RECENT_JOBS_KEY, WORKERS_KEY, WorkerPresence, worker_key
from mluv.jobs.queues import Queue
from mluv.jobs.serializer import serialize

pytestmark = pytest.mark.integration


async def _enqueue(redis: Redis, job_id: str, function: str, score_ms: float, **kwargs: object) -> None:
    payload = serialize_job(function, (), kwargs, 1, int(score_ms), serializer=serialize)
    await redis.set(job_key_prefix + job_id, payload)
    await redis.zadd(Queue.FAST.value, {job_id: score_ms})


async def test_jobs_known_and_alive(redis: Redis) -> None:
    await redis.set(job_key_prefix + "queued", b"x")
    await redis.set(in_progress_key_prefix + "running", b"1")
    await redis.set(result_key_prefix + "finished", b"x")
    ids = ["queued", "running", "finished", "vanished"]
    assert await jobs_known(redis, ids) == {"queued", "running", "finished"}
    assert await jobs_alive(redis, ids) == {"queued", "running"}
    assert await jobs_known(redis, []) == set() and await jobs_alive(redis, []) == set()


async def test_queue_state_tells_running_from_waiting_and_deferred(redis: Redis) -> None:
    now_ms = time.time() * 1000
    await _enqueue(redis, "old", "f", now_ms - 30_000)
    await _enqueue(redis, "busy", "f", now_ms - 60_000)
    await _enqueue(redis, "later", "f", now_ms + 60_000)
    await redis.set(in_progress_key_prefix + "busy", b"1")
    state = await queue_state(redis, Queue.FAST, now_ms=now_ms)
    assert (state.waiting, state.running, state.deferred, state.depth) == (1, 1, 1, 2)
    assert state.running_ids == ("busy",) and [job_id for job_id, _ in state.waiting_ids] == ["old"]
    assert state.oldest_waiting_age == pytest.approx(30.0)  # the running job is older but not waiting
    assert state.heartbeat is None and await heartbeat_alive(redis, Queue.FAST) is False
    await redis.set(Queue.FAST.health_check_key, "Mar-01 j_complete=1", ex=10)
    assert await heartbeat_alive(redis, Queue.FAST) is True
    assert (await queue_state(redis, Queue.FAST)).heartbeat == "Mar-01 j_complete=1"


async def test_jobs_snapshot_reads_payloads_tries_and_presence(redis: Redis) -> None:
    now_ms = time.time() * 1000
    await _enqueue(redis, "q1", "send", now_ms - 1000, chat_id=7)
    await _enqueue(redis, "d1", "send", now_ms + 60_000)
    await redis.set(retry_key_prefix + "d1", 2)
    await _enqueue(redis, "r1", "report", now_ms - 5000)
    await redis.set(in_progress_key_prefix + "r1", b"1")
    await redis.set(job_key_prefix + "bad", b"\x80\x04planted")  # a pickle is shown, never decoded
    await redis.zadd(Queue.FAST.value, {"bad": now_ms - 500})
    presence = WorkerPresence(Queue.FAST.value, max_jobs=2, heartbeat_seconds=15, worker_id="h:1:fast")
    presence.job_started("r1", 3)
    await presence.flush(redis)
    state = await queue_state(redis, Queue.FAST)
    snapshot = await jobs_snapshot(redis, [state], await read_workers(redis))
    (running,) = snapshot.running
    assert (running.job_id, running.state, running.function, running.job_try) == (
        "r1",
        JobState.RUNNING,
        "report",
        3,
    )
    assert running.worker == "h:1:fast" and running.started_at is not None and running.due_ms is None
    by_id = {job.job_id: job for job in snapshot.waiting}
    assert [job.job_id for job in snapshot.waiting] == ["q1", "bad", "d1"]
    assert (by_id["q1"].state, by_id["q1"].kwargs, by_id["q1"].job_try) == (
        JobState.QUEUED,
        {"chat_id": 7},
        1,
    )
    assert by_id["q1"].due_ms == pytest.approx(now_ms - 1000)
    assert (by_id["d1"].state, by_id["d1"].job_try) == (JobState.DEFERRED, 3)
    assert by_id["bad"].function == UNREADABLE_PAYLOAD and by_id["bad"].args == ()


async def test_recent_results_newest_first_and_searchable(redis: Redis) -> None:
    now_ms = int(time.time() * 1000)
    for n, (function, success, outcome) in enumerate(
        [("ping", True, "pong"), ("send", False, ValueError("boom")), ("ping", True, None)]
    ):
        job_id = f"job{n}"
        payload = serialize_result(
            function,
            (),
            {},
            1,
            now_ms,
            success,
            outcome,
            now_ms,
            now_ms + n,
            job_id,
            Queue.FAST.value,
            job_id=job_id,
            serializer=serialize,
        )
        assert payload is not None
        await redis.set(result_key_prefix + job_id, payload)
        await redis.lpush(RECENT_JOBS_KEY, job_id)  # type: ignore[misc]
    results = await recent_results(redis)
    assert [r.job_id for r in results] == ["job2", "job1", "job0"]
    assert results[1].success is False and results[1].finished_ms == now_ms + 1
    assert [r.job_id for r in await recent_results(redis, "PING")] == ["job2", "job0"]
    assert [r.job_id for r in await recent_results(redis, "job1")] == ["job1"]
    assert await recent_results(redis, "nothing-like-it") == []


# --- the workers' presence ------------------------------------------------------------------------------


async def test_presence_records_running_jobs_and_expires_with_the_heartbeat(redis: Redis) -> None:
    presence = WorkerPresence(Queue.LONG.value, max_jobs=4, heartbeat_seconds=15, worker_id="host:7:long")
    presence.job_started("job-a", 1)
    presence.job_started("job-b", 3)
    assert await presence.flush(redis) is True
    assert 16_000 < await redis.pttl(worker_key("host:7:long")) <= 17_000
    (worker,) = await read_workers(redis)
    assert (worker.worker_id, worker.queue, worker.max_jobs) == ("host:7:long", Queue.LONG.value, 4)
    assert [(job_id, job_try) for job_id, job_try, _ in worker.running] == [("job-a", 1), ("job-b", 3)]
    assert worker.load == 0.5

    # Nothing changed and the heartbeat is not due: no write (an idle worker costs one write per interval).
    assert await presence.flush(redis) is False
    presence.job_ended("job-a")
    assert await presence.flush(redis) is True
    (worker,) = await read_workers(redis)
    assert [job_id for job_id, _, _ in worker.running] == ["job-b"] and worker.jobs_done == 1

    await presence.stop(redis)
    assert await read_workers(redis) == []
    assert await redis.zscore(WORKERS_KEY, "host:7:long") is None


async def test_recent_jobs_are_newest_first_deduplicated_and_capped(redis: Redis) -> None:
    presence = WorkerPresence(Queue.FAST.value, max_jobs=10, heartbeat_seconds=15, worker_id="h:1:fast")
    for n in range(3):
        presence.job_started(f"j{n}", 1)
        presence.job_ended(f"j{n}")
    await presence.flush(redis)
    presence.job_ended("j0")  # a retried job finishes again
    await presence.flush(redis)
    assert await read_recent_job_ids(redis) == ["j0", "j2", "j1"]
    for n in range(RECENT_JOBS_KEPT + 5):
        presence.job_ended(f"bulk{n}")
    await presence.flush(redis)
    assert await redis.llen(RECENT_JOBS_KEY) == RECENT_JOBS_KEPT  # type: ignore[misc]
    assert (await read_recent_job_ids(redis, 1)) == [f"bulk{RECENT_JOBS_KEPT + 4}"]


async def test_read_workers_skips_expired_and_foreign_values(redis: Redis) -> None:
    await WorkerPresence(Queue.FAST.value, max_jobs=1, heartbeat_seconds=15, worker_id="ok:1:fast").flush(
        redis
    )
    await redis.zadd(WORKERS_KEY, {"gone:2:fast": 1.0, "junk:3:fast": 2.0})
    await redis.set(worker_key("junk:3:fast"), json.dumps({"id": "junk"}))
    assert [w.worker_id for w in await read_workers(redis)] == ["ok:1:fast"]
