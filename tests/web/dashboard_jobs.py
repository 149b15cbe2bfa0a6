"""Jobs that exist only for the dashboard tests (names are unique: the registry is process-wide)."""

from __future__ import annotations

import asyncio
from typing import Any

from mluv.jobs import JobContext, Queue, job

BROKEN_KEY = "mluv:test:dashboard:broken"


@job(queue=Queue.FAST, keep_result=600)
async def dashboard_test_flaky(ctx: JobContext[Any], token: str) -> dict[str, str]:
    """Fails (no retry: straight to the dead letters) while BROKEN_KEY exists, then succeeds."""
    if await ctx.redis.exists(BROKEN_KEY):
        raise RuntimeError(f"upstream refused {token}")
    return {"token": token, "fixed": "yes"}


@job(queue=Queue.FAST, keep_result=600)
async def dashboard_test_sleep(ctx: JobContext[Any], seconds: float, note: str = "") -> str:
    await asyncio.sleep(seconds)
    return f"slept {seconds}"
