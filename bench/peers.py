"""SAQ (saq 0.26, the `bench` extra), the fastest peer, set up like the other sides of every benchmark.

The worker is SAQ's own command with this module's settings, one process, on the same Redis:

    SAQ_CONCURRENCY=100 REDIS_URL=redis://127.0.0.1:6379/8 .venv/bin/saq bench.peers.settings

- queue: `saq_queue(url)`, a `RedisQueue` named `QUEUE` ("bench"; keys `saq:bench:*`), SAQ's defaults
  otherwise (JSON payloads, job timeout 10 s, result kept 600 s, one attempt);
- url: SAQ_REDIS_URL, else REDIS_URL (what `bench.common.worker_env` sets for every side's worker),
  else BENCH_REDIS_URL;
- concurrency: SAQ_CONCURRENCY, else WORKER_MAX_JOBS (the other sides' setting), else 100 jobs at once;
- jobs, under the names bench.jobs gives the mluv and arq sides: `bench_noop(n)`,
  `bench_sleep(n, seconds)` and `bench_signal(n)`, which PUBLISHes `n` on `DONE_CHANNEL` as its last act
  (like bench.jobs.bench_signal), so a benchmark times SAQ's jobs as it times the others.

Enqueue with `await queue.enqueue("bench_noop", n=1)` (kwargs that are not Job fields go to the job).
This module imports neither mluv nor arq: the SAQ worker loads only SAQ and redis-py, as it would
in a project of its own (its start-up time is one of the figures).
"""

from __future__ import annotations

import asyncio
import os
from typing import Any, cast

from saq.queue.redis import RedisQueue
from saq.types import Context, SettingsDict

from bench.common import BIN, DONE_CHANNEL

QUEUE = "bench"
DEFAULT_CONCURRENCY = 100


def saq_queue(redis_url: str) -> RedisQueue:
    """The benchmarks' SAQ queue on `redis_url` (call `await queue.connect()`, then `disconnect()`)."""
    return RedisQueue.from_url(redis_url, name=QUEUE)


def saq_argv() -> list[str]:
    """SAQ's own worker command with these settings (its environment gives the url and concurrency)."""
    return [str(BIN / "saq"), "bench.peers.settings"]


def ready_key() -> str:
    """A key the SAQ worker writes once it runs (its stats, written by its first upkeep)."""
    return f"saq:{QUEUE}:stats"


async def noop(ctx: Context, *, n: int) -> None:
    return None


async def sleep(ctx: Context, *, n: int, seconds: float) -> None:
    await asyncio.sleep(seconds)


async def signal(ctx: Context, *, n: int) -> None:
    queue = cast(RedisQueue, ctx["worker"].queue)
    await queue.redis.publish(DONE_CHANNEL, n)


def concurrency() -> int:
    return int(os.environ.get("SAQ_CONCURRENCY") or os.environ.get("WORKER_MAX_JOBS") or DEFAULT_CONCURRENCY)


def redis_url() -> str:
    for name in ("SAQ_REDIS_URL", "REDIS_URL", "BENCH_REDIS_URL"):
        if os.environ.get(name):
            return os.environ[name]
    raise SystemExit("bench.peers: set SAQ_REDIS_URL, REDIS_URL or BENCH_REDIS_URL")


def saq_settings() -> SettingsDict[Context]:
    """What `saq bench.peers.settings` loads, built from the environment of the worker process."""
    return {
        "queue": saq_queue(redis_url()),
        "functions": [("bench_noop", noop), ("bench_sleep", sleep), ("bench_signal", signal)],
        "concurrency": concurrency(),
    }


def __getattr__(name: str) -> Any:
    # Built on access, from the worker's environment (like bench.jobs.BareWorkerSettings).
    if name == "settings":
        return saq_settings()
    raise AttributeError(name)
