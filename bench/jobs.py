"""Jobs for the worker benchmarks, in two forms: declared through the jobs framework (registered when
a worker imports this module: EXTRA_JOB_MODULES=bench.jobs) and plain arq functions for the bare
worker (`arq bench.jobs.BareWorkerSettings`), with the same worker settings as the framework's.
"""

from __future__ import annotations

import asyncio
from typing import Any

from arq.worker import func

from bench.common import DONE_CHANNEL as DONE_CHANNEL  # re-exported: bench.e2e_latency
from mluv.jobs import JobContext, Queue, job
from mluv.jobs.connections import redis_settings
from mluv.jobs.serializer import deserialize, serialize
from mluv.settings import get_settings


@job(name="bench_noop", queue=Queue.FAST)
async def bench_noop(ctx: JobContext[Any], n: int) -> None:
    return None


@job(name="bench_sleep", queue=Queue.FAST)
async def bench_sleep(ctx: JobContext[Any], n: int, seconds: float) -> None:
    await asyncio.sleep(seconds)


@job(name="bench_signal", queue=Queue.FAST)
async def bench_signal(ctx: JobContext[Any], n: int) -> None:
    await ctx.redis.publish(DONE_CHANNEL, n)


async def bare_noop(ctx: dict[str, Any], n: int) -> None:
    return None


async def bare_sleep(ctx: dict[str, Any], n: int, seconds: float) -> None:
    await asyncio.sleep(seconds)


async def bare_signal(ctx: dict[str, Any], n: int) -> None:
    await ctx["redis"].publish(DONE_CHANNEL, n)


def _bare_settings() -> type:
    """arq's own Worker with the framework worker's settings (mluv.jobs.worker.build_worker_settings)."""
    settings = get_settings()
    assert settings.redis_url is not None, "REDIS_URL is required"
    attributes: dict[str, Any] = {
        "functions": [
            func(bare_noop, name="bench_noop"),
            func(bare_sleep, name="bench_sleep"),
            func(bare_signal, name="bench_signal"),
        ],
        "queue_name": Queue.FAST.value,
        "redis_settings": redis_settings(settings.redis_url),
        "job_serializer": serialize,
        "job_deserializer": deserialize,
        "job_timeout": settings.fast_job_timeout,
        "max_jobs": settings.worker_max_jobs,
        "poll_delay": settings.worker_poll_delay,
        "keep_result": settings.job_keep_result,
        "health_check_interval": settings.worker_heartbeat_seconds,
        "allow_abort_jobs": True,
        "log_results": False,
    }
    return type("BareWorkerSettings", (), attributes)


def __getattr__(name: str) -> Any:
    # Built on access, from the environment of the worker process (like workers.WorkerSettings).
    if name == "BareWorkerSettings":
        return _bare_settings()
    raise AttributeError(name)
