"""/stats and /report: today's progress, the streak, the daily challenge; the weekly report on demand."""

from __future__ import annotations

import datetime as dt

from aiogram import Router
from aiogram.filters import Command
from aiogram.types import Message
from arq.connections import ArqRedis
from sqlalchemy.ext.asyncio import AsyncSession

from mluv.db.learners import streak_state, totals_for_day
from mluv.db.models import User
from mluv.domain.progress import ChallengeProgress, local_date, streak_as_of
from mluv.i18n import t
from workers.analytics import generate_weekly_report

router = Router(name="stats")


@router.message(Command("stats"))
async def stats(message: Message, session: AsyncSession, user: User, lang: str) -> None:
    today = local_date(dt.datetime.now(dt.UTC), user.timezone)
    messages, words = await totals_for_day(session, user, today)
    streak = await streak_state(session, user.id)
    challenge = ChallengeProgress(done=messages)
    text = t(
        lang,
        "stats",
        messages=messages,
        words=words,
        streak=streak_as_of(streak, today),
        longest=streak.longest,
        done=min(challenge.done, challenge.target),
        goal=challenge.target,
    )
    if challenge.completed:
        text += "\n" + t(lang, "challenge-completed", goal=challenge.target)
    await message.answer(text)


@router.message(Command("report"))
async def report(message: Message, pool: ArqRedis, user: User, lang: str) -> None:
    await generate_weekly_report.enqueue(pool, user_id=user.id)
    await message.answer(t(lang, "report-queued"))
