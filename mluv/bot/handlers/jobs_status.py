"""Operators' /jobs: queues, running jobs, open dead letters and the busiest jobs (ADMIN_IDS only).

The queue figures are arq's queue states (mluv.jobs.arq_state): waiting, running, deferred; no SCAN.
Running means a live worker reports the job (its presence): a cron job whose attempt ended keeps arq's
in-progress key for 60 s, and is not running.
"""

from __future__ import annotations

from aiogram import Router
from aiogram.filters import Command
from aiogram.types import Message
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from mluv.bot.filters import IsAdmin
from mluv.db.models import FailureStatus, JobFailure
from mluv.i18n import t
from mluv.jobs.arq_state import queue_states, read_workers
from mluv.jobs.counters import read_job_stats
from mluv.resources import Resources

router = Router(name="jobs_status")


@router.message(Command("jobs"), IsAdmin())
async def jobs(message: Message, session: AsyncSession, resources: Resources, lang: str) -> None:
    redis = resources.pool
    states = await queue_states(redis, await read_workers(redis))
    queued = sum(state.waiting for state in states)
    running = sum(state.running for state in states)
    scheduled = sum(state.deferred for state in states)
    failed = await session.scalar(
        select(func.count(JobFailure.id)).where(JobFailure.status == FailureStatus.OPEN)
    )
    stats = sorted(await read_job_stats(redis), key=lambda s: s.executed, reverse=True)[:8]
    lines = [f"{s.name}: {s.succeeded}✓ {s.failed}✗ {s.retried}↻" for s in stats]
    summary = t(lang, "jobs-summary", queued=queued, running=running, scheduled=scheduled, failed=failed or 0)
    await message.answer("\n\n".join([summary, *(["\n".join(lines)] if lines else [])]))
