"""Job counters shared by all workers: per job, counts by outcome and a duration histogram in Redis.

(The word "metrics" is kept for what /metrics exports, mluv.web.prometheus, and for the Redis prefix
`mluv:metrics`, which deployed dashboards read.)

A tuned arq worker spends ~0.5 ms of CPU per job, mostly in Redis round trips, so recording must not add
a round trip per job: outcomes are aggregated in process and flushed in one pipeline every second (and at
shutdown). Counters are HINCRBY deltas, so any number of workers add up correctly.
"""

from __future__ import annotations

import asyncio
import bisect
import contextlib
import time
from collections import defaultdict
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from redis.asyncio import Redis

from mluv.jobs.deployment import namespace_of
from mluv.logs import get_logger

log = get_logger(__name__)

KEY_PREFIX = "mluv:metrics"
NAMES_KEY = f"{KEY_PREFIX}:jobs"
LAST_EXECUTION_KEY = f"{KEY_PREFIX}:last_execution"
# Upper bounds in seconds (Prometheus-style "le"); the last bucket is +Inf.
BUCKETS: tuple[float, ...] = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 1800)


def job_key(name: str) -> str:
    return f"{KEY_PREFIX}:job:{name}"


class Outcome(StrEnum):
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    RETRIED = "retried"


@dataclass
class _Delta:
    counts: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    duration_sum: float = 0.0
    last_execution: float = 0.0


class JobCounters:
    """In-process aggregation of job outcomes, flushed to Redis in batches."""

    def __init__(self, flush_interval: float = 1.0) -> None:
        self.flush_interval = flush_interval
        self._pending: dict[str, _Delta] = defaultdict(_Delta)
        self._task: asyncio.Task[None] | None = None

    def record(self, name: str, outcome: Outcome, duration: float, finished_at: float | None = None) -> None:
        delta = self._pending[name]
        delta.counts["executed"] += 1
        delta.counts[outcome.value] += 1
        delta.counts["duration_count"] += 1
        delta.counts[f"b{bisect.bisect_left(BUCKETS, duration)}"] += 1
        delta.duration_sum += duration
        delta.last_execution = max(delta.last_execution, finished_at or time.time())

    async def flush(self, redis: Redis) -> int:
        """Write pending deltas in one pipeline; returns the number of jobs flushed."""
        if not self._pending:
            return 0
        pending, self._pending = self._pending, defaultdict(_Delta)
        ns = namespace_of(redis)
        try:
            async with redis.pipeline(transaction=False) as pipe:
                pipe.sadd(ns.rekey(NAMES_KEY), *pending)
                for name, delta in pending.items():
                    key = ns.rekey(job_key(name))
                    for field_name, count in delta.counts.items():
                        pipe.hincrby(key, field_name, count)
                    pipe.hincrbyfloat(key, "duration_sum", delta.duration_sum)
                    # GT keeps the newest timestamp whichever worker flushes last.
                    pipe.zadd(ns.rekey(LAST_EXECUTION_KEY), {name: delta.last_execution}, gt=True)
                await pipe.execute()
        except Exception:
            self._merge_back(pending)
            raise
        return len(pending)

    def _merge_back(self, pending: dict[str, _Delta]) -> None:
        for name, delta in pending.items():
            target = self._pending[name]
            for field_name, count in delta.counts.items():
                target.counts[field_name] += count
            target.duration_sum += delta.duration_sum
            target.last_execution = max(target.last_execution, delta.last_execution)

    def start(self, redis: Redis) -> None:
        if self._task is None:
            # A failed flush keeps its deltas for the next one (_merge_back).
            loop = flush_periodically(lambda: self.flush(redis), self.flush_interval, "job metrics flush")
            self._task = asyncio.create_task(loop, name="mluv-job-metrics")

    async def stop(self, redis: Redis) -> None:
        await cancel_task(self._task)
        self._task = None
        with contextlib.suppress(Exception):
            await self.flush(redis)


async def flush_periodically(flush: Callable[[], Awaitable[object]], interval: float, what: str) -> None:
    """Call `flush` every `interval` seconds forever; a failure is logged and never stops the jobs."""
    while True:
        await asyncio.sleep(interval)
        try:
            await flush()
        except Exception as error:
            log.warning(f"{what} failed", error=str(error))


async def cancel_task(task: asyncio.Task[None] | None) -> None:
    if task is not None:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


@dataclass(frozen=True)
class JobStats:
    name: str
    executed: int
    succeeded: int
    failed: int
    retried: int
    duration_count: int
    duration_sum: float
    buckets: tuple[int, ...]  # non-cumulative counts per BUCKETS entry, +Inf last
    last_execution: float | None

    @property
    def mean(self) -> float | None:
        return self.duration_sum / self.duration_count if self.duration_count else None

    def quantile(self, q: float) -> float | None:
        """Estimate from the histogram by linear interpolation inside the bucket (as Prometheus does)."""
        total = sum(self.buckets)
        if not total:
            return None
        rank = q * total
        seen = 0
        for index, count in enumerate(self.buckets):
            if count and seen + count >= rank:
                lower = BUCKETS[index - 1] if index > 0 else 0.0
                upper = BUCKETS[index] if index < len(BUCKETS) else BUCKETS[-1]
                return lower + (upper - lower) * ((rank - seen) / count)
            seen += count
        return BUCKETS[-1]

    @property
    def p50(self) -> float | None:
        return self.quantile(0.5)

    @property
    def p95(self) -> float | None:
        return self.quantile(0.95)


def _stats_from_hash(name: str, raw: dict[Any, Any], last: float | None) -> JobStats:
    data = {(k.decode() if isinstance(k, bytes) else k): v for k, v in raw.items()}

    def count(field_name: str) -> int:
        return int(data.get(field_name, 0))

    return JobStats(
        name=name,
        executed=count("executed"),
        succeeded=count("succeeded"),
        failed=count("failed"),
        retried=count("retried"),
        duration_count=count("duration_count"),
        duration_sum=float(data.get("duration_sum", 0.0)),
        buckets=tuple(count(f"b{i}") for i in range(len(BUCKETS) + 1)),
        last_execution=last,
    )


async def read_job_stats(redis: Redis) -> list[JobStats]:
    """Metrics of every job that ever ran, summed over all workers."""
    ns = namespace_of(redis)
    members: set[Any] = await redis.smembers(ns.rekey(NAMES_KEY))  # type: ignore[misc]
    names = sorted(n.decode() if isinstance(n, bytes) else n for n in members)
    if not names:
        return []
    async with redis.pipeline(transaction=False) as pipe:
        for name in names:
            pipe.hgetall(ns.rekey(job_key(name)))
        pipe.zrange(ns.rekey(LAST_EXECUTION_KEY), 0, -1, withscores=True)
        *hashes, last_rows = await pipe.execute()
    last = {(n.decode() if isinstance(n, bytes) else n): float(score) for n, score in last_rows}
    return [_stats_from_hash(name, raw, last.get(name)) for name, raw in zip(names, hashes, strict=True)]
