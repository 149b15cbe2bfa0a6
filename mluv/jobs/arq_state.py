"""arq's Redis layout, read: queue states, the jobs waiting and running, recent results, the workers.

arq keeps, per job, `arq:job:<id>` (the payload, until it finishes), `arq:in-progress:<id>` (while a worker
runs it), `arq:retry:<id>` (tries so far), `arq:result:<id>` (kept JOB_KEEP_RESULT s) and the `arq:abort`
zset; a queue is a sorted set of job ids scored by the time they are due (ms), and a running job stays in
it until it finishes; `<queue>:health-check` is arq's heartbeat per queue. Our workers add their presence
and the recent-jobs index (written by mluv.jobs.presence.WorkerPresence). The key names are imported from
their writers (arq.constants, mluv.jobs.counters, mluv.jobs.presence), never spelled here, and mapped
through the pool's namespace (REDIS_NAMESPACE: queue names, job ids, our keys; mluv.jobs.deployment).

This module is the one place that reads those keys: for the dashboard, /metrics, the bot's /jobs and the
delivery reconciler. Nothing here SCANs the keyspace (an hour of results can be millions of keys): running
jobs are found at the head of the queues and in the workers' presence, recent results through the
recent-jobs index. It returns what Redis holds (times in ms or unix seconds as stored, raw arguments and
results); rendering them for people (redaction, dates) is the reader's.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from arq.constants import (
    abort_jobs_ss,
    in_progress_key_prefix,
    job_key_prefix,
    result_key_prefix,
    retry_key_prefix,
)
from redis.asyncio import Redis

from mluv.jobs.deployment import namespace_of
from mluv.jobs.presence import RECENT_JOBS_KEPT, RECENT_JOBS_KEY, WORKERS_KEY, worker_key
from mluv.jobs.queues import Queue
from mluv.jobs.serializer import StoredJobError, deserialize

# Due entries read from the head of each queue to find running jobs and the oldest waiting one.
HEAD_SCAN = 500
RESULTS_SCANNED = 600
UNREADABLE_PAYLOAD = "<unreadable payload>"


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


# --- which jobs arq still knows ----------------------------------------------------------------------------


async def jobs_known(redis: Redis, job_ids: Iterable[str]) -> set[str]:
    """The ids among `job_ids` that arq still knows: queued or deferred (job key), running (in-progress
    key) or finished with a kept result. A job with none of these vanished (Redis lost, flushed)."""
    ids = list(job_ids)
    if not ids:
        return set()
    ns = namespace_of(redis)
    async with redis.pipeline(transaction=False) as pipe:
        for job_id in map(ns.job_id, ids):
            pipe.exists(job_key_prefix + job_id, in_progress_key_prefix + job_id, result_key_prefix + job_id)
        counts = await pipe.execute()
    return {job_id for job_id, count in zip(ids, counts, strict=True) if count}


async def forget_expired(redis: Redis, job_ids: Iterable[str]) -> set[str]:
    """The ids among `job_ids` whose only trace is arq's "job expired" result (the job key was gone when a
    worker came to it: a flush between its claim and its read), with that result deleted so the same id
    can be enqueued again. Any other result stays: a job that ran and failed is a dead letter, not lost."""
    ids = list(job_ids)
    if not ids:
        return set()
    ns = namespace_of(redis)
    keys = [result_key_prefix + ns.job_id(job_id) for job_id in ids]
    expired = set()
    for job_id, key, raw in zip(ids, keys, await redis.mget(keys), strict=True):
        result = None if raw is None else read_result(job_id, raw)
        outcome = None if result is None or result.success else result.outcome
        if not isinstance(outcome, StoredJobError):
            continue
        arq_expired = (outcome.type_name, outcome.message) == ("JobExecutionFailed", "job expired")
        if arq_expired and await redis.delete(key):
            expired.add(job_id)
    return expired


async def jobs_alive(redis: Redis, job_ids: Iterable[str]) -> set[str]:
    """The ids among `job_ids` that are queued, deferred or running (not finished, not vanished)."""
    ids = list(job_ids)
    if not ids:
        return set()
    ns = namespace_of(redis)
    async with redis.pipeline(transaction=False) as pipe:
        for job_id in map(ns.job_id, ids):
            pipe.exists(job_key_prefix + job_id, in_progress_key_prefix + job_id)
        counts = await pipe.execute()
    return {job_id for job_id, count in zip(ids, counts, strict=True) if count}


# --- queues ------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class QueueState:
    queue: Queue
    waiting: int  # due, not running
    deferred: int  # due later (deferred or backing off before a retry)
    running: int
    oldest_waiting_age: float  # seconds the oldest waiting job has been due; 0 when none waits
    heartbeat: str | None  # arq's `<queue>:health-check` value while a worker of the queue lives
    running_ids: tuple[str, ...] = ()
    waiting_ids: tuple[tuple[str, float], ...] = ()  # (id, score ms), oldest first

    @property
    def label(self) -> str:
        return self.queue.label

    @property
    def depth(self) -> int:
        return self.waiting + self.deferred


async def queue_state(
    redis: Redis, queue: Queue, *, now_ms: float | None = None, listed: set[str] | None = None
) -> QueueState:
    now_ms = now_ms if now_ms is not None else time.time() * 1000
    ns = namespace_of(redis)
    name = ns.queue_name(queue.value)
    async with redis.pipeline(transaction=False) as pipe:
        pipe.zcount(name, "-inf", now_ms)
        pipe.zcount(name, f"({now_ms}", "+inf")
        pipe.zrangebyscore(name, "-inf", now_ms, start=0, num=HEAD_SCAN, withscores=True)
        pipe.get(ns.health_check_key(queue.value))
        due_total, deferred, head, heartbeat = await pipe.execute()
    head = [(_text(job_id), float(score)) for job_id, score in head]
    in_progress: list[Any] = []
    if head:
        async with redis.pipeline(transaction=False) as pipe:
            for job_id, _ in head:
                pipe.exists(in_progress_key_prefix + job_id)
            in_progress = await pipe.execute()
    # listed (ids the live workers run): arq keeps a cron's in-progress key 60 s after an attempt ends.
    runs = [b and (listed is None or j in listed) for (j, _), b in zip(head, in_progress, strict=True)]
    running = tuple(job_id for (job_id, _), busy in zip(head, runs, strict=True) if busy)
    waiting = tuple((job_id, score) for (job_id, score), busy in zip(head, runs, strict=True) if not busy)
    waiting_count = int(due_total) - len(running)
    if waiting:
        oldest = (now_ms - waiting[0][1]) / 1000
    elif waiting_count > 0 and head:
        oldest = (now_ms - head[-1][1]) / 1000  # every job in the head runs: a lower bound
    else:
        oldest = 0.0
    return QueueState(
        queue=queue,
        waiting=max(waiting_count, 0),
        deferred=int(deferred),
        running=len(running),
        oldest_waiting_age=max(oldest, 0.0),
        heartbeat=_text(heartbeat) if heartbeat is not None else None,
        running_ids=running,
        waiting_ids=waiting,
    )


async def queue_states(redis: Redis, workers: Sequence[WorkerInfo] | None = None) -> list[QueueState]:
    now_ms, ns, states = time.time() * 1000, namespace_of(redis), []
    for queue in Queue:
        own = [w for w in workers or () if w.queue in {queue.value, ns.queue_name(queue.value)}]
        # Given the live workers, running means one of them runs it (plain arq workers write no presence).
        listed = {job_id for w in own for job_id, _, _ in w.running} if own else None
        states.append(await queue_state(redis, queue, now_ms=now_ms, listed=listed))
    return states


async def heartbeat_alive(redis: Redis, queue: Queue) -> bool:
    """arq's `<queue>:health-check` key exists: a worker of the queue lives (what `arq --check` reads)."""
    return bool(await redis.exists(namespace_of(redis).health_check_key(queue.value)))


# --- the workers' presence (mluv.jobs.presence.WorkerPresence writes it) ------------------------------------


@dataclass(frozen=True)
class WorkerInfo:
    worker_id: str
    queue: str
    host: str
    pid: int
    started_at: float
    seen_at: float
    max_jobs: int
    jobs_done: int
    running: tuple[tuple[str, int, float], ...]  # (job id, try, started at)

    @property
    def load(self) -> float:
        return len(self.running) / self.max_jobs if self.max_jobs else 0.0


async def read_workers(redis: Redis) -> list[WorkerInfo]:
    """Workers whose presence key is still fresh (a SIGKILLed worker vanishes within its TTL)."""
    ns = namespace_of(redis)
    ids = [_text(i) for i in await redis.zrange(ns.rekey(WORKERS_KEY), 0, -1)]
    if not ids:
        return []
    values = await redis.mget([ns.rekey(worker_key(worker_id)) for worker_id in ids])
    workers: list[WorkerInfo] = []
    for raw in values:
        if raw is None:
            continue
        try:
            data = json.loads(raw)
            workers.append(
                WorkerInfo(
                    worker_id=str(data["id"]),
                    queue=str(data["queue"]),
                    host=str(data["host"]),
                    pid=int(data["pid"]),
                    started_at=float(data["started_at"]),
                    seen_at=float(data["seen_at"]),
                    max_jobs=int(data["max_jobs"]),
                    jobs_done=int(data["jobs_done"]),
                    running=tuple(
                        (str(r["job_id"]), int(r["try"]), float(r["started_at"])) for r in data["running"]
                    ),
                )
            )
        except (ValueError, KeyError, TypeError):  # a foreign or older value: skip it, never fail the page
            continue
    return sorted(workers, key=lambda w: (w.queue, w.worker_id))


async def read_recent_job_ids(redis: Redis, limit: int = RECENT_JOBS_KEPT) -> list[str]:
    """Ids of the jobs that finished last, newest first, each once."""
    raw = await redis.lrange(namespace_of(redis).rekey(RECENT_JOBS_KEY), 0, limit - 1)  # type: ignore[misc]
    seen: dict[str, None] = {}
    for item in raw:
        seen.setdefault(_text(item), None)
    return list(seen)


@dataclass(frozen=True)
class WorkersView:
    workers: list[WorkerInfo]
    heartbeats: dict[str, str | None]  # queue label -> arq heartbeat text (None: no live worker)


async def workers_view(redis: Redis) -> WorkersView:
    heartbeats = {}
    for queue in Queue:
        value = await redis.get(namespace_of(redis).health_check_key(queue.value))
        heartbeats[queue.label] = _text(value) if value is not None else None
    return WorkersView(await read_workers(redis), heartbeats)


# --- jobs waiting and running ------------------------------------------------------------------------------


class JobState(StrEnum):
    RUNNING = "running"
    QUEUED = "queued"  # due, waiting for a worker
    DEFERRED = "deferred"  # due later


@dataclass(frozen=True)
class ArqJob:
    """A queued, deferred or running job as arq holds it; the arguments are raw (not redacted)."""

    job_id: str
    queue: Queue
    state: JobState
    function: str  # UNREADABLE_PAYLOAD when the payload does not decode
    args: tuple[Any, ...]
    kwargs: dict[str, Any]
    job_try: int  # the running try, or the next one for waiting jobs
    enqueued_ms: float | None
    due_ms: float | None  # the queue's score; None for running jobs
    started_at: float | None = None  # unix s, from the worker's presence
    worker: str | None = None
    aborting: bool = False


@dataclass(frozen=True)
class JobsSnapshot:
    running: list[ArqJob]
    waiting: list[ArqJob]  # queued (due) then deferred


async def _read_jobs(
    redis: Redis,
    items: Sequence[tuple[str, Queue, JobState, float | None]],
    presence: dict[str, tuple[str, int, float]],
) -> list[ArqJob]:
    """items: (job id, queue, state, score ms)."""
    if not items:
        return []
    async with redis.pipeline(transaction=False) as pipe:
        for job_id, *_ in items:
            pipe.get(job_key_prefix + job_id)
            pipe.get(retry_key_prefix + job_id)
            pipe.zscore(abort_jobs_ss, job_id)
        replies = await pipe.execute()
    jobs: list[ArqJob] = []
    for index, (job_id, queue, state, score) in enumerate(items):
        payload, retries, abort_score = replies[3 * index : 3 * index + 3]
        if payload is None:  # finished between the two reads
            continue
        try:
            data = deserialize(payload)
            function, args, kwargs = str(data["f"]), tuple(data.get("a") or ()), dict(data.get("k") or {})
            enqueued = data.get("et")
        except Exception:  # an unreadable payload (e.g. a planted pickle) is shown, never executed
            function, args, kwargs, enqueued = UNREADABLE_PAYLOAD, (), {}, None
        tries = int(retries) if retries is not None else 0
        worker, started = None, None
        if job_id in presence:
            worker, tries, started = presence[job_id]
        jobs.append(
            ArqJob(
                job_id=job_id,
                queue=queue,
                state=state,
                function=function,
                args=args,
                kwargs=kwargs,
                job_try=tries if state is JobState.RUNNING else tries + 1,
                enqueued_ms=enqueued,
                due_ms=score,
                started_at=started,
                worker=worker,
                aborting=abort_score is not None,
            )
        )
    return jobs


def _presence_index(workers: Iterable[WorkerInfo]) -> dict[str, tuple[str, int, float]]:
    return {
        job_id: (w.worker_id, job_try, started) for w in workers for job_id, job_try, started in w.running
    }


async def jobs_snapshot(
    redis: Redis,
    states: Sequence[QueueState],
    workers: Sequence[WorkerInfo],
    *,
    limit: int = 100,
) -> JobsSnapshot:
    presence = _presence_index(workers)
    now_ms = time.time() * 1000
    running: list[tuple[str, Queue, JobState, float | None]] = []
    seen: set[str] = set()
    for state in states:
        for job_id in state.running_ids:
            running.append((job_id, state.queue, JobState.RUNNING, None))
            seen.add(job_id)
    for worker in workers:
        # A running job beyond the head of the queue is still known from its worker.
        for job_id, _, _ in worker.running:
            if job_id not in seen:
                queue = next((q for q in Queue if q.value == worker.queue), Queue.FAST)
                running.append((job_id, queue, JobState.RUNNING, None))
                seen.add(job_id)
    waiting: list[tuple[str, Queue, JobState, float | None]] = []
    for state in states:
        waiting.extend(
            (job_id, state.queue, JobState.QUEUED, score) for job_id, score in state.waiting_ids[:limit]
        )
        deferred = await redis.zrangebyscore(
            namespace_of(redis).queue_name(state.queue.value),
            f"({now_ms}",
            "+inf",
            start=0,
            num=limit,
            withscores=True,
        )
        waiting.extend(
            (_text(job_id), state.queue, JobState.DEFERRED, float(score)) for job_id, score in deferred
        )
    return JobsSnapshot(
        running=await _read_jobs(redis, running[:limit], presence),
        waiting=await _read_jobs(redis, waiting[: 2 * limit], presence),
    )


# --- results -----------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ArqResult:
    """A finished job's kept result (`arq:result:<id>`); the outcome is raw (not redacted)."""

    job_id: str
    function: str
    queue: str
    success: bool
    outcome: Any  # the return value, or the exception (a StoredJobError with our serializer)
    job_try: int
    enqueued_ms: float | None
    started_ms: float | None
    finished_ms: float | None


def read_result(job_id: str, raw: bytes) -> ArqResult | None:
    """The decoded result, or None if it does not decode (never unpickled)."""
    try:
        data = deserialize(raw)
    except Exception:
        return None
    return ArqResult(
        job_id=_text(data.get("id") or job_id),
        function=str(data.get("f", "?")),
        queue=str(data.get("q", "")),
        success=bool(data.get("s")),
        outcome=data.get("r"),
        job_try=int(data.get("t") or 1),
        enqueued_ms=data.get("et"),
        started_ms=data.get("st"),
        finished_ms=data.get("ft"),
    )


def matches(result: ArqResult, query: str) -> bool:
    query = query.strip().lower()
    return not query or query in result.function.lower() or query in result.job_id.lower()


async def recent_results(redis: Redis, query: str = "", *, limit: int = 50) -> list[ArqResult]:
    """Newest first, from the workers' recent-jobs index; a query matches a job name or id (substring)."""
    ids = await read_recent_job_ids(redis, RESULTS_SCANNED)
    query = query.strip()
    if query and query not in ids:
        ids.insert(0, query)  # an exact id older than the index is still found while its result is kept
    results: list[ArqResult] = []
    for start in range(0, len(ids), 200):
        chunk = ids[start : start + 200]
        for job_id, raw in zip(chunk, await redis.mget([result_key_prefix + i for i in chunk]), strict=True):
            if raw is None:
                continue
            result = read_result(job_id, raw)
            if result is not None and matches(result, query):
                results.append(result)
        if len(results) >= limit:
            break
    # A result without a finish time sorts last, as if it finished at the epoch.
    results.sort(key=lambda r: r.finished_ms or 0, reverse=True)
    return results[:limit]
