"""What the jobs system is doing, read from Redis and PostgreSQL: the data of the dashboard and /metrics.

arq's Redis layout: a zset per queue (member job id, score = due time in ms; a running job stays in it
until it finishes), `arq:job:<id>` (the payload), `arq:in-progress:<id>` (set while a worker runs it),
`arq:retry:<id>` (tries so far), `arq:result:<id>` (kept JOB_KEEP_RESULT s) and the `arq:abort` zset.
Nothing here SCANs the keyspace (an hour of results can be millions of keys): running jobs are found at the
head of the queues and in the workers' presence, recent results through the recent-jobs index.
"""

from __future__ import annotations

import datetime as dt
import json
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from arq.constants import (
    abort_jobs_ss,
    in_progress_key_prefix,
    job_key_prefix,
    result_key_prefix,
    retry_key_prefix,
)
from redis.asyncio import Redis
from sqlalchemy import func, select, text, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from mluv.db.models import Broadcast, CronRun, Delivery, JobFailure
from mluv.jobs.cron import CronJobSpec
from mluv.jobs.declare import registry
from mluv.jobs.metrics import WorkerInfo, read_recent_job_ids, read_workers
from mluv.jobs.queues import Queue
from mluv.jobs.serializer import StoredJobError, deserialize
from mluv.logs import redact

# Due entries read from the head of each queue to find running jobs and the oldest waiting one.
HEAD_SCAN = 500
RESULTS_SCANNED = 600
ARGS_SHOWN = 300
IN_FLIGHT_BROADCASTS = ("confirmed", "running")
HEALTH_KEY = "mluv:health:last"
RATELIMIT_PREFIX = "mluv:metrics:ratelimit:"
# The rate limiter's counters (mluv.telegram.ratelimit; its contract with /metrics): numbers written with
# INCRBYFLOAT, or hashes of numbers per scope.
RATELIMIT_COUNTERS = (
    "telegram_429",
    "penalty_seconds",
    "acquired",
    "waits",
    "wait_seconds",
    "refused",
    "rebooked",
)


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


def _ms_to_dt(ms: float | None) -> dt.datetime | None:
    return dt.datetime.fromtimestamp(ms / 1000, dt.UTC) if ms else None


def redacted(value: Any, limit: int = ARGS_SHOWN) -> str:
    """A short, secret-free rendering of job arguments or results for people to read."""
    try:
        rendered = json.dumps(value, default=str, ensure_ascii=False, sort_keys=True)
    except (TypeError, ValueError):
        rendered = repr(value)
    rendered = redact(rendered)
    return rendered if len(rendered) <= limit else rendered[: limit - 1] + "…"


def format_call(args: Sequence[Any], kwargs: dict[str, Any]) -> str:
    parts = [redacted(a, 80) for a in args] + [f"{k}={redacted(v, 80)}" for k, v in sorted(kwargs.items())]
    joined = ", ".join(parts)
    return joined if len(joined) <= ARGS_SHOWN else joined[: ARGS_SHOWN - 1] + "…"


# --- queues and jobs ---------------------------------------------------------------------------------------


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


async def queue_state(redis: Redis, queue: Queue, *, now_ms: float | None = None) -> QueueState:
    now_ms = now_ms if now_ms is not None else time.time() * 1000
    async with redis.pipeline(transaction=False) as pipe:
        pipe.zcount(queue.value, "-inf", now_ms)
        pipe.zcount(queue.value, f"({now_ms}", "+inf")
        pipe.zrangebyscore(queue.value, "-inf", now_ms, start=0, num=HEAD_SCAN, withscores=True)
        pipe.get(queue.health_check_key)
        due_total, deferred, head, heartbeat = await pipe.execute()
    head = [(_text(job_id), float(score)) for job_id, score in head]
    in_progress: list[int] = []
    if head:
        async with redis.pipeline(transaction=False) as pipe:
            for job_id, _ in head:
                pipe.exists(in_progress_key_prefix + job_id)
            in_progress = await pipe.execute()
    running = tuple(job_id for (job_id, _), busy in zip(head, in_progress, strict=True) if busy)
    waiting = tuple(
        (job_id, score) for (job_id, score), busy in zip(head, in_progress, strict=True) if not busy
    )
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


async def queue_states(redis: Redis) -> list[QueueState]:
    now_ms = time.time() * 1000
    return [await queue_state(redis, queue, now_ms=now_ms) for queue in Queue]


@dataclass(frozen=True)
class JobView:
    job_id: str
    queue: Queue
    function: str
    call: str  # redacted arguments
    state: str  # running, queued, deferred
    job_try: int  # the running try, or the next one for waiting jobs
    enqueued_at: dt.datetime | None
    due_at: dt.datetime | None
    started_at: dt.datetime | None = None
    worker: str | None = None
    aborting: bool = False


async def _job_views(
    redis: Redis,
    items: Sequence[tuple[str, Queue, str, float | None]],
    presence: dict[str, tuple[str, int, float]],
) -> list[JobView]:
    """items: (job id, queue, state, score ms)."""
    if not items:
        return []
    async with redis.pipeline(transaction=False) as pipe:
        for job_id, *_ in items:
            pipe.get(job_key_prefix + job_id)
            pipe.get(retry_key_prefix + job_id)
            pipe.zscore(abort_jobs_ss, job_id)
        replies = await pipe.execute()
    views: list[JobView] = []
    for index, (job_id, queue, state, score) in enumerate(items):
        payload, retries, abort_score = replies[3 * index : 3 * index + 3]
        if payload is None:  # finished between the two reads
            continue
        try:
            data = deserialize(payload)
            function, args, kwargs = str(data["f"]), tuple(data.get("a") or ()), dict(data.get("k") or {})
            enqueued = _ms_to_dt(data.get("et"))
        except Exception:  # an unreadable payload (e.g. a planted pickle) is shown, never executed
            function, args, kwargs, enqueued = "<unreadable payload>", (), {}, None
        tries = int(retries) if retries is not None else 0
        worker, started = None, None
        if job_id in presence:
            worker, tries, started_ts = presence[job_id]
            started = dt.datetime.fromtimestamp(started_ts, dt.UTC)
        views.append(
            JobView(
                job_id=job_id,
                queue=queue,
                function=function,
                call=format_call(args, kwargs),
                state=state,
                job_try=tries if state == "running" else tries + 1,
                enqueued_at=enqueued,
                due_at=_ms_to_dt(score),
                started_at=started,
                worker=worker,
                aborting=abort_score is not None,
            )
        )
    return views


def _presence_index(workers: Iterable[WorkerInfo]) -> dict[str, tuple[str, int, float]]:
    return {
        job_id: (w.worker_id, job_try, started) for w in workers for job_id, job_try, started in w.running
    }


@dataclass(frozen=True)
class JobsSnapshot:
    running: list[JobView]
    waiting: list[JobView]  # queued (due) then deferred


async def jobs_snapshot(
    redis: Redis,
    states: Sequence[QueueState],
    workers: Sequence[WorkerInfo],
    *,
    limit: int = 100,
) -> JobsSnapshot:
    presence = _presence_index(workers)
    now_ms = time.time() * 1000
    running: list[tuple[str, Queue, str, float | None]] = []
    seen: set[str] = set()
    for state in states:
        for job_id in state.running_ids:
            running.append((job_id, state.queue, "running", None))
            seen.add(job_id)
    for worker in workers:
        # A running job beyond the head of the queue is still known from its worker.
        for job_id, _, _ in worker.running:
            if job_id not in seen:
                queue = next((q for q in Queue if q.value == worker.queue), Queue.FAST)
                running.append((job_id, queue, "running", None))
                seen.add(job_id)
    waiting: list[tuple[str, Queue, str, float | None]] = []
    for state in states:
        waiting.extend((job_id, state.queue, "queued", score) for job_id, score in state.waiting_ids[:limit])
        deferred = await redis.zrangebyscore(
            state.queue.value, f"({now_ms}", "+inf", start=0, num=limit, withscores=True
        )
        waiting.extend((_text(job_id), state.queue, "deferred", float(score)) for job_id, score in deferred)
    return JobsSnapshot(
        running=await _job_views(redis, running[:limit], presence),
        waiting=await _job_views(redis, waiting[: 2 * limit], presence),
    )


# --- results -----------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ResultView:
    job_id: str
    function: str
    queue: str
    success: bool
    summary: str  # the redacted result or error
    job_try: int
    enqueued_at: dt.datetime | None
    started_at: dt.datetime | None
    finished_at: dt.datetime | None

    @property
    def duration(self) -> float | None:
        if self.started_at is None or self.finished_at is None:
            return None
        return (self.finished_at - self.started_at).total_seconds()


def _result_view(job_id: str, raw: bytes) -> ResultView | None:
    try:
        data = deserialize(raw)
    except Exception:
        return None
    outcome = data.get("r")
    success = bool(data.get("s"))
    if isinstance(outcome, StoredJobError):
        summary = redact(str(outcome))
    elif isinstance(outcome, BaseException):
        summary = redact(f"{type(outcome).__name__}: {outcome}")
    else:
        summary = redacted(outcome)
    return ResultView(
        job_id=_text(data.get("id") or job_id),
        function=str(data.get("f", "?")),
        queue=str(data.get("q", "")),
        success=success,
        summary=summary,
        job_try=int(data.get("t") or 1),
        enqueued_at=_ms_to_dt(data.get("et")),
        started_at=_ms_to_dt(data.get("st")),
        finished_at=_ms_to_dt(data.get("ft")),
    )


def matches(view: ResultView, query: str) -> bool:
    query = query.strip().lower()
    return not query or query in view.function.lower() or query in view.job_id.lower()


async def recent_results(redis: Redis, query: str = "", *, limit: int = 50) -> list[ResultView]:
    """Newest first, from the workers' recent-jobs index; a query matches a job name or id (substring)."""
    ids = await read_recent_job_ids(redis, RESULTS_SCANNED)
    query = query.strip()
    if query and query not in ids:
        ids.insert(0, query)  # an exact id older than the index is still found while its result is kept
    views: list[ResultView] = []
    for start in range(0, len(ids), 200):
        chunk = ids[start : start + 200]
        for job_id, raw in zip(chunk, await redis.mget([result_key_prefix + i for i in chunk]), strict=True):
            if raw is None:
                continue
            view = _result_view(job_id, raw)
            if view is not None and matches(view, query):
                views.append(view)
        if len(views) >= limit:
            break
    epoch = dt.datetime.min.replace(tzinfo=dt.UTC)
    views.sort(key=lambda v: v.finished_at or epoch, reverse=True)
    return views[:limit]


# --- workers -----------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class WorkersView:
    workers: list[WorkerInfo]
    heartbeats: dict[str, str | None]  # queue label -> arq heartbeat text (None: no live worker)


async def workers_view(redis: Redis) -> WorkersView:
    heartbeats = {}
    for queue in Queue:
        value = await redis.get(queue.health_check_key)
        heartbeats[queue.label] = _text(value) if value is not None else None
    return WorkersView(await read_workers(redis), heartbeats)


# --- PostgreSQL: dead letters, cron runs, broadcasts, deliveries -------------------------------------------


async def failures(
    session_factory: async_sessionmaker[AsyncSession], *, status: str | None = "open", limit: int = 50
) -> tuple[list[JobFailure], dict[str, int]]:
    async with session_factory() as session:
        query = select(JobFailure).order_by(JobFailure.failed_at.desc(), JobFailure.id.desc()).limit(limit)
        if status is not None:
            query = query.where(JobFailure.status == status)
        rows = list((await session.scalars(query)).all())
        grouped = await session.execute(select(JobFailure.status, func.count()).group_by(JobFailure.status))
        counts = {state: int(count) for state, count in grouped.tuples()}
    return rows, counts


async def open_failures_by_job(session_factory: async_sessionmaker[AsyncSession]) -> dict[str, int]:
    async with session_factory() as session:
        query = select(JobFailure.job_name, func.count()).where(JobFailure.status == "open")
        rows = await session.execute(query.group_by(JobFailure.job_name))
        return {name: int(count) for name, count in rows.tuples()}


@dataclass(frozen=True)
class CronView:
    spec: CronJobSpec
    schedule: str
    next_run: dt.datetime
    interval: float  # seconds between this tick and the next one
    last_run: CronRun | None
    last_success: dt.datetime | None

    @property
    def name(self) -> str:
        return self.spec.name


def registered_crons() -> list[CronJobSpec]:
    """The crons of the catalogue, which the process's composition root registered (serve, cli)."""
    return [spec for spec in registry.crons.values() if isinstance(spec, CronJobSpec)]


def _field_text(value: int | set[int] | None, *, step_from_zero: int | None = None) -> str:
    if value is None:
        return "*"
    if isinstance(value, int):
        return str(value)
    ordered = sorted(value)
    if step_from_zero and len(ordered) > 2 and ordered[0] == 0:
        step = ordered[1] - ordered[0]
        if ordered == list(range(0, step_from_zero, step)):
            return f"*/{step}"
    return ",".join(str(v) for v in ordered)


WEEKDAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")


def describe_schedule(spec: CronJobSpec) -> str:
    """arq's fields as a crontab-like line (with seconds), plus words for the common shapes, in UTC."""
    s = spec.schedule
    line = " ".join(
        [
            _field_text(s.get("second"), step_from_zero=60),
            _field_text(s.get("minute"), step_from_zero=60),
            _field_text(s.get("hour"), step_from_zero=24),
            _field_text(s.get("day")),
            _field_text(s.get("month")),
            _field_text(s.get("weekday")),
        ]
    )
    minute, hour, weekday = s.get("minute"), s.get("hour"), s.get("weekday")
    second, day, month = s.get("second"), s.get("day"), s.get("month")
    words = ""
    if day is None and month is None:
        if isinstance(second, set) and minute is None and hour is None and weekday is None:
            words = f"every {60 // max(len(second), 1)} s"
        elif isinstance(minute, set) and hour is None and weekday is None and second in (0, None):
            words = f"every {60 // max(len(minute), 1)} min"
        elif isinstance(minute, int) and hour is None and weekday is None:
            words = f"hourly at :{minute:02d}"
        elif isinstance(minute, int) and isinstance(hour, int):
            when = f"{hour:02d}:{minute:02d} UTC"
            if weekday is None:
                words = f"daily {when}"
            elif isinstance(weekday, int):
                words = f"{WEEKDAYS[weekday]} {when}"
            else:
                words = f"{'/'.join(WEEKDAYS[d] for d in sorted(weekday))} {when}"
    return f"{words} ({line})" if words else f"{line} UTC"


async def cron_views(
    session_factory: async_sessionmaker[AsyncSession], specs: Iterable[CronJobSpec]
) -> list[CronView]:
    now = dt.datetime.now(dt.UTC)
    specs = sorted(specs, key=lambda spec: spec.name)
    async with session_factory() as session:
        latest = (
            select(CronRun)
            .distinct(CronRun.cron_name)
            .order_by(CronRun.cron_name, CronRun.started_at.desc(), CronRun.id.desc())
        )
        last_runs = {row.cron_name: row for row in (await session.scalars(latest)).all()}
        success_query = (
            select(CronRun.cron_name, func.max(func.coalesce(CronRun.finished_at, CronRun.started_at)))
            .where(CronRun.status == "succeeded")
            .group_by(CronRun.cron_name)
        )
        successes = {name: when for name, when in (await session.execute(success_query)).tuples()}
    views = []
    for spec in specs:
        next_run = spec.next_tick(now)
        views.append(
            CronView(
                spec=spec,
                schedule=describe_schedule(spec),
                next_run=next_run,
                interval=(spec.next_tick(next_run) - next_run).total_seconds(),
                last_run=last_runs.get(spec.name),
                last_success=successes.get(spec.name),
            )
        )
    return views


async def broadcasts(
    session_factory: async_sessionmaker[AsyncSession], *, limit: int = 20
) -> list[Broadcast]:
    """In-flight broadcasts first, then the most recent others (finished, cancelled, drafts)."""
    async with session_factory() as session:
        in_flight = Broadcast.status.in_(IN_FLIGHT_BROADCASTS)
        query = select(Broadcast).order_by(in_flight.desc(), Broadcast.id.desc()).limit(limit)
        return list((await session.scalars(query)).all())


async def cancel_broadcast(session_factory: async_sessionmaker[AsyncSession], broadcast_id: int) -> bool:
    """Mark an in-flight broadcast cancelled (its job stops at its next batch); False if not in flight."""
    async with session_factory.begin() as session:
        result = await session.execute(
            update(Broadcast)
            .where(Broadcast.id == broadcast_id, Broadcast.status.in_(IN_FLIGHT_BROADCASTS))
            .values(status="cancelled", cancelled_at=func.now())
            .returning(Broadcast.id)
        )
        return result.scalar_one_or_none() is not None


async def deliveries_by_status(
    session_factory: async_sessionmaker[AsyncSession],
) -> dict[tuple[str, str], int]:
    async with session_factory() as session:
        rows = await session.execute(
            select(Delivery.kind, Delivery.status, func.count()).group_by(Delivery.kind, Delivery.status)
        )
        return {(kind, status): int(count) for kind, status, count in rows.tuples()}


async def broadcasts_by_status(session_factory: async_sessionmaker[AsyncSession]) -> dict[str, int]:
    async with session_factory() as session:
        rows = await session.execute(select(Broadcast.status, func.count()).group_by(Broadcast.status))
        return {status: int(count) for status, count in rows.tuples()}


async def database_ok(session_factory: async_sessionmaker[AsyncSession]) -> bool:
    async with session_factory() as session:
        await session.execute(text("SELECT 1"))
    return True


# --- Redis extras: the health_check report and the rate limiter's counters ----------------------------------


async def health_report(redis: Redis) -> dict[str, Any] | None:
    raw = await redis.get(HEALTH_KEY)
    if raw is None:
        return None
    try:
        report: dict[str, Any] = json.loads(raw)
    except ValueError:
        return None
    return report


async def ratelimit_counters(redis: Redis) -> dict[str, dict[str, float]]:
    """The limiter's counters by name, each mapping a scope ("" = the total) to its value; absent: {}."""
    keys = [RATELIMIT_PREFIX + name for name in RATELIMIT_COUNTERS]
    async with redis.pipeline(transaction=False) as pipe:
        for key in keys:
            pipe.type(key)
        kinds = [_text(kind) for kind in await pipe.execute()]
    async with redis.pipeline(transaction=False) as pipe:
        for key, kind in zip(keys, kinds, strict=True):
            if kind == "hash":
                pipe.hgetall(key)
            else:
                pipe.get(key)
        raw_values = await pipe.execute()
    counters: dict[str, dict[str, float]] = {}
    for name, raw in zip(RATELIMIT_COUNTERS, raw_values, strict=True):
        items = raw.items() if isinstance(raw, dict) else ([("", raw)] if raw is not None else [])
        parsed: dict[str, float] = {}
        for scope, value in items:
            try:
                parsed[_text(scope)] = float(value)
            except (TypeError, ValueError):  # a foreign value under our name: ignored, never a failed scrape
                continue
        counters[name] = parsed
    return counters
