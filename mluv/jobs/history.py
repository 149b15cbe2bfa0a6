"""Job history in Redis, bounded: each try of a job run, and per-minute outcomes per job; and their reads.

Written by the worker (mluv.jobs.run records every try that reaches it, mluv.jobs.worker a job arq gave
up) through `JobHistory`, which aggregates in process and flushes one pipeline a second like the job
counters (mluv.jobs.counters), so recording adds no Redis round trip per job.

- `mluv:metrics:tries:<job id>`: a list of JSON try records (start, duration, outcome, error, worker),
  the last TRIES_KEPT of them, expiring TRIES_TTL after the last try (a day: as long as the longest kept
  result, a cron's), so the dashboard's run page shows each try of every run it can still show.
- `mluv:metrics:minutes:<job name>:<unix hour>`: a hash of `<minute>:<outcome>` counts, expiring
  MINUTES_TTL (48 h) after its hour began: throughput and failures over time, at most 48 hashes per job.

Also the one read of a single run's arq keys (payload, in progress, tries, result) for the run page.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import json
import time
from collections import defaultdict
from dataclasses import asdict, dataclass
from typing import Any

from arq.constants import in_progress_key_prefix, job_key_prefix, result_key_prefix, retry_key_prefix
from redis.asyncio import Redis

from mluv.jobs.arq_state import ArqResult, read_result
from mluv.jobs.counters import KEY_PREFIX, Outcome, cancel_task, flush_periodically
from mluv.jobs.deployment import namespace_of
from mluv.jobs.queues import Queue
from mluv.jobs.serializer import deserialize
from mluv.logs import redact

TRIES_PREFIX = f"{KEY_PREFIX}:tries"
MINUTES_PREFIX = f"{KEY_PREFIX}:minutes"
TRIES_KEPT = 25
TRIES_TTL = 86_400
MINUTES_TTL = 48 * 3600
ERROR_KEPT = 1000

# Key of arq's ctx where a worker keeps its JobHistory (start_bookkeeping puts it there).
CTX_HISTORY = "mluv_history"


class TryOutcome:
    """What one try ended with (a try record's `outcome`): the counters' three, plus two finer ones."""

    SUCCEEDED = "succeeded"
    FAILED = "failed"
    RETRIED = "retried"
    SKIPPED = "skipped"  # started past its stale_after: not run, counted as succeeded
    GIVEN_UP = "given up"  # arq gave it up before this try ran (tries used up by crashes)


COUNTED_AS = {
    TryOutcome.SUCCEEDED: Outcome.SUCCEEDED,
    TryOutcome.SKIPPED: Outcome.SUCCEEDED,
    TryOutcome.FAILED: Outcome.FAILED,
    TryOutcome.GIVEN_UP: Outcome.FAILED,
    TryOutcome.RETRIED: Outcome.RETRIED,
}


def tries_key(job_id: str) -> str:
    return f"{TRIES_PREFIX}:{job_id}"


def minutes_key(name: str, hour: int) -> str:
    return f"{MINUTES_PREFIX}:{name}:{hour}"


@dataclass(frozen=True)
class TryRecord:
    job_id: str
    job_name: str
    job_try: int
    started_at: float  # unix s
    duration: float  # s
    outcome: str  # a TryOutcome
    error: str | None  # redacted
    worker: str | None  # the worker id (host:pid:queue), None when unknown

    @property
    def failed(self) -> bool:
        return COUNTED_AS.get(self.outcome) is not Outcome.SUCCEEDED


class JobHistory:
    """In-process try records and per-minute counts of one worker, flushed to Redis in batches."""

    def __init__(self, worker_id: str | None, flush_interval: float = 1.0) -> None:
        self.worker_id = worker_id
        self.flush_interval = flush_interval
        self._tries: list[TryRecord] = []
        self._minutes: dict[tuple[str, int, int, str], int] = defaultdict(int)
        self._task: asyncio.Task[None] | None = None

    def record(
        self,
        job_id: str,
        job_name: str,
        job_try: int,
        outcome: str,
        *,
        started_at: float,
        duration: float,
        error: BaseException | str | None = None,
    ) -> None:
        if isinstance(error, BaseException):
            error = f"{type(error).__name__}: {error}"
        text = redact(error)[:ERROR_KEPT] if error else None
        record = TryRecord(job_id, job_name, job_try, started_at, duration, outcome, text, self.worker_id)
        self._tries.append(record)
        ended = int(started_at + duration)
        self._minutes[(job_name, ended // 3600, ended % 3600 // 60, COUNTED_AS[outcome].value)] += 1

    async def flush(self, redis: Redis) -> int:
        """Write the pending records and counts in one pipeline; returns the number of tries written."""
        if not self._tries and not self._minutes:
            return 0
        tries, self._tries = self._tries, []
        minutes, self._minutes = self._minutes, defaultdict(int)
        ns = namespace_of(redis)
        try:
            async with redis.pipeline(transaction=False) as pipe:
                for record in tries:
                    key = ns.rekey(tries_key(record.job_id))
                    pipe.rpush(key, json.dumps(asdict(record)))
                    pipe.ltrim(key, -TRIES_KEPT, -1)
                    pipe.expire(key, TRIES_TTL)
                for (name, hour, minute, outcome), count in minutes.items():
                    key = ns.rekey(minutes_key(name, hour))
                    pipe.hincrby(key, f"{minute}:{outcome}", count)
                    # Counted from the hour's start: the hash is gone 48 h after it began, whoever wrote.
                    pipe.expireat(key, hour * 3600 + MINUTES_TTL)
                await pipe.execute()
        except Exception:
            self._tries[:0] = tries
            for item, count in minutes.items():
                self._minutes[item] += count
            raise
        return len(tries)

    def start(self, redis: Redis) -> None:
        if self._task is None:
            loop = flush_periodically(lambda: self.flush(redis), self.flush_interval, "job history flush")
            self._task = asyncio.create_task(loop, name="mluv-job-history")

    async def stop(self, redis: Redis) -> None:
        await cancel_task(self._task)
        self._task = None
        with contextlib.suppress(Exception):
            await self.flush(redis)


def note_try(
    ctx: dict[str, Any],
    name: str,
    outcome: str,
    *,
    started_at: float,
    duration: float,
    error: BaseException | str | None = None,
) -> None:
    """Record the try arq's ctx describes, if this worker keeps a history (plain arq workers do not)."""
    history: JobHistory | None = ctx.get(CTX_HISTORY)
    if history is not None:
        job_id, job_try = str(ctx.get("job_id", "")), int(ctx.get("job_try", 1))
        history.record(job_id, name, job_try, outcome, started_at=started_at, duration=duration, error=error)


# --- reads -------------------------------------------------------------------------------------------------


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


async def read_tries(redis: Redis, job_id: str) -> list[TryRecord]:
    """The recorded tries of a run, oldest first; a record that does not decode is skipped."""
    ns = namespace_of(redis)
    raw = await redis.lrange(ns.rekey(tries_key(ns.job_id(job_id))), 0, -1)  # type: ignore[misc]
    records = []
    for item in raw:
        try:
            data = json.loads(item)
            records.append(
                TryRecord(
                    job_id=str(data["job_id"]),
                    job_name=str(data["job_name"]),
                    job_try=int(data["job_try"]),
                    started_at=float(data["started_at"]),
                    duration=float(data["duration"]),
                    outcome=str(data["outcome"]),
                    error=None if data.get("error") is None else str(data["error"]),
                    worker=None if data.get("worker") is None else str(data["worker"]),
                )
            )
        except (ValueError, KeyError, TypeError):
            continue
    return records


@dataclass(frozen=True)
class Slot:
    """Outcomes of one job in one minute or hour."""

    start: dt.datetime
    succeeded: int = 0
    failed: int = 0
    retried: int = 0

    @property
    def total(self) -> int:
        return self.succeeded + self.failed + self.retried


@dataclass(frozen=True)
class Throughput:
    name: str
    minutes: list[Slot]  # the last 60 minutes, oldest first, the current one last
    hours: list[Slot]  # the last 48 hours, oldest first, the current one last


async def read_throughput(redis: Redis, name: str, *, now: float | None = None) -> Throughput:
    """Per-minute outcomes of the last hour and per-hour outcomes of the last 48 h, from MINUTES_PREFIX."""
    now = time.time() if now is None else now
    ns = namespace_of(redis)
    current = int(now) // 3600
    hours = list(range(current - MINUTES_TTL // 3600 + 1, current + 1))
    async with redis.pipeline(transaction=False) as pipe:
        for hour in hours:
            pipe.hgetall(ns.rekey(minutes_key(name, hour)))
        hashes = await pipe.execute()
    counts: dict[int, dict[str, int]] = defaultdict(lambda: defaultdict(int))  # unix minute -> outcome
    per_hour = []
    for hour, raw in zip(hours, hashes, strict=True):
        totals: dict[str, int] = defaultdict(int)
        for field_name, value in raw.items():
            minute, _, outcome = _text(field_name).partition(":")
            if not minute.isdigit():
                continue
            counts[hour * 60 + int(minute)][outcome] += int(value)
            totals[outcome] += int(value)
        per_hour.append(_slot(hour * 3600, totals))
    last_minute = int(now) // 60
    per_minute = [_slot(m * 60, counts.get(m, {})) for m in range(last_minute - 59, last_minute + 1)]
    return Throughput(name, per_minute, per_hour)


def _slot(start: int, outcomes: dict[str, int]) -> Slot:
    return Slot(
        dt.datetime.fromtimestamp(start, dt.UTC),
        succeeded=outcomes.get(Outcome.SUCCEEDED, 0),
        failed=outcomes.get(Outcome.FAILED, 0),
        retried=outcomes.get(Outcome.RETRIED, 0),
    )


@dataclass(frozen=True)
class RunState:
    """What arq holds of one run: its payload while queued or running, its result once finished."""

    job_id: str
    function: str | None
    args: tuple[Any, ...]
    kwargs: dict[str, Any]
    queue: Queue | None  # the queue it waits or runs in; None once finished (the result names it)
    due_ms: float | None
    enqueued_ms: float | None
    in_progress: bool
    tries_started: int  # arq's retry counter
    result: ArqResult | None

    @property
    def known(self) -> bool:
        return self.function is not None or self.result is not None


async def read_run(redis: Redis, job_id: str) -> RunState:
    ns = namespace_of(redis)
    stored_id = ns.job_id(job_id)
    async with redis.pipeline(transaction=False) as pipe:
        pipe.get(job_key_prefix + stored_id)
        pipe.exists(in_progress_key_prefix + stored_id)
        pipe.get(retry_key_prefix + stored_id)
        pipe.get(result_key_prefix + stored_id)
        for each in Queue:
            pipe.zscore(ns.queue_name(each.value), stored_id)
        payload, in_progress, retries, raw_result, *scores = await pipe.execute()
    function, args, kwargs, enqueued = None, (), {}, None
    if payload is not None:
        try:
            data = deserialize(payload)
            function, args, kwargs = str(data["f"]), tuple(data.get("a") or ()), dict(data.get("k") or {})
            enqueued = data.get("et")
        except Exception:  # an unreadable payload is shown as such, never executed
            function = "<unreadable payload>"
    if payload is None and raw_result is not None:
        # A finished job's payload is gone; arq's result keeps its arguments.
        with contextlib.suppress(Exception):
            data = deserialize(raw_result)
            args, kwargs = tuple(data.get("a") or ()), dict(data.get("k") or {})
    found = [(q, float(s)) for q, s in zip(Queue, scores, strict=True) if s is not None]
    queue: Queue | None = found[0][0] if found else None
    due = found[0][1] if found else None
    return RunState(
        job_id=stored_id,
        function=function,
        args=args,
        kwargs=kwargs,
        queue=queue,
        due_ms=due,
        enqueued_ms=enqueued,
        in_progress=bool(in_progress),
        tries_started=int(retries) if retries is not None else 0,
        result=read_result(stored_id, raw_result) if raw_result is not None else None,
    )
