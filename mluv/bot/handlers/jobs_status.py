"""Operators' /jobs: queues, running jobs, open dead letters and the busiest jobs (ADMIN_IDS only)."""

from __future__ import annotations

import datetime as dt

from aiogram import Router
from aiogram.filters import Command
from aiogram.types import Message
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from mluv.bot.filters import IsAdmin
from mluv.db.models import JobFailure
from mluv.i18n import t
from mluv.jobs import Queue
from mluv.jobs.metrics import read_job_stats
from mluv.resources import Resources

router = Router(name="jobs_status")


@router.message(Command("jobs"), IsAdmin())
async def jobs(message: Message, session: AsyncSession, resources: Resources, lang: str) -> None:
    redis = resources.pool
    now_ms = dt.datetime.now(dt.UTC).timestamp() * 1000
    queued = scheduled = 0
    for queue in Queue:
        due = await redis.zcount(queue.value, "-inf", now_ms)
        queued += due
        scheduled += await redis.zcard(queue.value) - due
    running = 0
    async for _ in redis.scan_iter("arq:in-progress:*", count=1000):
        running += 1
    failed = await session.scalar(select(func.count(JobFailure.id)).where(JobFailure.status == "open"))
    stats = sorted(await read_job_stats(redis), key=lambda s: s.executed, reverse=True)[:8]
    lines = [f"{s.name}: {s.succeeded}✓ {s.failed}✗ {s.retried}↻" for s in stats]
    summary = t(lang, "jobs-summary", queued=queued, running=running, scheduled=scheduled, failed=failed or 0)
    await message.answer("\n\n".join([summary, *(["\n".join(lines)] if lines else [])]))
