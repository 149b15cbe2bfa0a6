"""Worker presence (identity, load, running jobs) and the recent-jobs index behind the dashboard."""

from __future__ import annotations

import json

import pytest
from redis.asyncio import Redis

from mluv.jobs.metrics import (
    RECENT_JOBS_KEPT,
    RECENT_JOBS_KEY,
    WORKERS_KEY,
    WorkerPresence,
    read_recent_job_ids,
    read_workers,
    worker_key,
)
from mluv.jobs.queues import Queue

pytestmark = pytest.mark.integration


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
