"""Jobs that exist only for the worker-process tests; loaded by workers via EXTRA_JOB_MODULES."""

from __future__ import annotations

import asyncio
import time
from typing import Any

from mluv.jobs import CronRun, JobContext, Queue, RetryPolicy, cron, job


def key(token: str, what: str) -> str:
    return f"mluv:test:{token}:{what}"


async def push(ctx: JobContext[Any], list_key: str, value: object) -> None:
    await ctx.redis.rpush(list_key, str(value))  # type: ignore[misc]


@job(queue=Queue.FAST, keep_result=600)
async def sample_slow(ctx: JobContext[Any], token: str, seconds: float) -> dict[str, object]:
    await push(ctx, key(token, "started"), f"{ctx.job_try}:{time.time()}")
    await asyncio.sleep(seconds)
    await push(ctx, key(token, "finished"), ctx.job_try)
    return {"token": token, "try": ctx.job_try}


@job(
    queue=Queue.FAST,
    retry=RetryPolicy(max_tries=4, retry_on=(ConnectionError,), backoff_base=0.4, backoff_cap=5, jitter=0),
    keep_result=600,
)
async def sample_always_fails(ctx: JobContext[Any], token: str) -> None:
    await push(ctx, key(token, "tries"), f"{ctx.job_try}:{time.time()}")
    raise ConnectionError("upstream unavailable")


@job(queue=Queue.FAST)
async def sample_side_effect(ctx: JobContext[Any], token: str) -> None:
    await ctx.redis.set(key(token, "ran"), 1)


@cron(queue=Queue.FAST, hour=0, minute=5, catch_up=True)
async def sample_daily(ctx: JobContext[Any], run: CronRun) -> dict[str, str]:
    await push(ctx, key("daily", "runs"), run.business_key)
    return {"business_date": run.business_date.isoformat()}
