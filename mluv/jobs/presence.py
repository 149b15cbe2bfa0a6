"""Worker presence: who is alive, what it runs, what it just finished; written by each worker.

Read by mluv.jobs.arq_state (read_workers, read_recent_job_ids) for the dashboard's workers page.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import socket
import time
from typing import Any

from redis.asyncio import Redis

from mluv.jobs.counters import KEY_PREFIX, cancel_task, flush_periodically
from mluv.jobs.deployment import namespace_of
from mluv.logs import get_logger

log = get_logger(__name__)


# Zset of worker ids scored by their last write (unix s), so readers find workers without SCAN.
WORKERS_KEY = f"{KEY_PREFIX}:workers"
# Newest-first list of ids of jobs that just finished (any outcome): an index into arq:result:<id>, so the
# dashboard never SCANs a keyspace that holds an hour of results.
RECENT_JOBS_KEY = f"{KEY_PREFIX}:recent_jobs"
RECENT_JOBS_KEPT = 2000
# Zset members older than this are pruned by any worker's write (their keys expired long before).
WORKERS_PRUNE_AFTER = 3600.0


def worker_key(worker_id: str) -> str:
    return f"{KEY_PREFIX}:worker:{worker_id}"


class WorkerPresence:
    """One worker's heartbeat with identity, load and running jobs; arq's heartbeat is per queue only.

    The arq hooks (on_job_start, after_job_end) only touch this object; the writes are batched like the
    job metrics: one pipeline per second while jobs change, else one per heartbeat interval.
    """

    def __init__(self, queue: str, *, max_jobs: int, heartbeat_seconds: float, worker_id: str | None = None):
        self.queue = queue
        self.max_jobs = max_jobs
        self.heartbeat_seconds = heartbeat_seconds
        label = queue.rsplit(":", 1)[-1]
        # In-process workers share a pid, so the queue is part of the identity.
        self.worker_id = worker_id or f"{socket.gethostname()}:{os.getpid()}:{label}"
        self.started_at = time.time()
        self.running: dict[str, tuple[int, float]] = {}
        self.jobs_done = 0
        self._finished: list[str] = []
        self._changed = True
        self._last_write = 0.0
        self._task: asyncio.Task[None] | None = None

    @property
    def ttl(self) -> float:
        # Like arq's heartbeat (interval + 1 s), plus a second for this loop's own tick.
        return self.heartbeat_seconds + 2

    def job_started(self, job_id: str, job_try: int) -> None:
        self.running[job_id] = (job_try, time.time())
        self._changed = True

    def job_ended(self, job_id: str) -> None:
        self.running.pop(job_id, None)
        self._finished.append(job_id)
        self.jobs_done += 1
        self._changed = True

    def snapshot(self) -> dict[str, Any]:
        return {
            "id": self.worker_id,
            "queue": self.queue,
            "host": socket.gethostname(),
            "pid": os.getpid(),
            "started_at": self.started_at,
            "seen_at": time.time(),
            "max_jobs": self.max_jobs,
            "jobs_done": self.jobs_done,
            "running": [
                {"job_id": job_id, "try": job_try, "started_at": started}
                for job_id, (job_try, started) in self.running.items()
            ],
        }

    async def flush(self, redis: Redis, *, force: bool = False) -> bool:
        """Write the heartbeat (and the finished ids) if anything changed or it is due; True if written."""
        now = time.time()
        if not (force or self._changed or now - self._last_write >= self.heartbeat_seconds - 1):
            return False
        finished, self._finished = self._finished, []
        self._changed = False
        ns = namespace_of(redis)
        workers_key, recent_key = ns.rekey(WORKERS_KEY), ns.rekey(RECENT_JOBS_KEY)
        try:
            async with redis.pipeline(transaction=False) as pipe:
                snapshot = json.dumps(self.snapshot())
                pipe.set(ns.rekey(worker_key(self.worker_id)), snapshot, px=int(self.ttl * 1000))
                pipe.zadd(workers_key, {self.worker_id: now})
                pipe.zremrangebyscore(workers_key, "-inf", now - WORKERS_PRUNE_AFTER)
                if finished:
                    pipe.lpush(recent_key, *finished)  # LPUSH a b c leaves c (the newest) first
                    pipe.ltrim(recent_key, 0, RECENT_JOBS_KEPT - 1)
                await pipe.execute()
        except Exception:
            self._finished[:0] = finished
            self._changed = True
            raise
        self._last_write = now
        return True

    def start(self, redis: Redis) -> None:
        if self._task is None:
            loop = flush_periodically(lambda: self.flush(redis), 1.0, "worker presence write")
            self._task = asyncio.create_task(loop, name="mluv-worker-presence")

    async def stop(self, redis: Redis) -> None:
        await cancel_task(self._task)
        self._task = None
        # A stopped worker disappears at once instead of when its key expires.
        with contextlib.suppress(Exception):
            self.running.clear()
            await self.flush(redis, force=True)
            ns = namespace_of(redis)
            await redis.delete(ns.rekey(worker_key(self.worker_id)))
            await redis.zrem(ns.rekey(WORKERS_KEY), self.worker_id)
