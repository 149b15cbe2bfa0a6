"""Jobs that exist only for bench/chaos_faults.py's `always-failing-job`; workers load them through
EXTRA_JOB_MODULES=bench.chaos_jobs. Each run leaves a trace in Redis (db of the scenario), so tries and
executions are counted from outside the worker."""

from __future__ import annotations

from typing import Any

from mluv.jobs import JobContext, Queue, RetryPolicy, job

# A few tries with a short, exact backoff (no jitter): 0.5, 1, 2 s between the 4 tries.
ALWAYS_FAILS_TRIES = 4
ALWAYS_FAILS_RETRY = RetryPolicy(
    max_tries=ALWAYS_FAILS_TRIES, retry_on=(ConnectionError,), backoff_base=0.5, backoff_cap=2, jitter=0
)


def tries_key(token: str) -> str:
    return f"mluv:chaos:{token}:tries"


def done_key(token: str) -> str:
    return f"mluv:chaos:{token}:done"


@job(queue=Queue.FAST, retry=ALWAYS_FAILS_RETRY, job_id="chaos:always-fails:{token}")
async def chaos_always_fails(ctx: JobContext[Any], token: str) -> None:
    """Fails every try with a retryable error (an upstream that never answers)."""
    await ctx.redis.rpush(tries_key(token), ctx.job_try)  # type: ignore[misc]
    raise ConnectionError("chaos: the upstream never answers")


@job(queue=Queue.FAST, job_id="chaos:ok:{token}:{n}")
async def chaos_ok(ctx: JobContext[Any], token: str, n: int) -> int:
    """Succeeds at once; SADD makes a second execution of the same n visible as a repeat count."""
    added = await ctx.redis.sadd(done_key(token), n)  # type: ignore[misc]
    if not added:
        await ctx.redis.incr(f"{done_key(token)}:repeats")
    return n
