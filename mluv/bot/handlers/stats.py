"""/stats and /report: today's progress, the streak, the daily challenge; the weekly report on demand."""

from __future__ import annotations

import datetime as dt

from aiogram import Router
from aiogram.filters import Command
from aiogram.types import Message, ReplyParameters
from arq.connections import ArqRedis
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from mluv.db.learners import streak_state, totals_for_day
from mluv.db.models import Delivery, DeliveryStatus, User
from mluv.domain.progress import ChallengeProgress, local_date, previous_week_start, streak_as_of
from mluv.domain.reports import week_label
from mluv.i18n import t
from workers.analytics import REPORT_KIND, generate_weekly_report

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


async def sent_report_message_id(session: AsyncSession, user: User, week: dt.date) -> int | None:
    """The Telegram message id of `week`'s report if it was delivered to the learner, else None."""
    # The same kind and business key generate_weekly_report sends under: a stored report that was never
    # delivered (the learner had blocked the bot, a send failed) does not count as sent.
    sent = await session.execute(
        select(Delivery.telegram_message_id).where(
            Delivery.kind == REPORT_KIND,
            Delivery.recipient_id == user.id,
            Delivery.business_key == f"report:{week.isoformat()}",
            Delivery.status == DeliveryStatus.SENT,
        )
    )
    row = sent.first()
    return None if row is None else (row[0] or 0)


@router.message(Command("report"))
async def report(message: Message, session: AsyncSession, pool: ArqRedis, user: User, lang: str) -> None:
    # The week the job picks: the last one over in the learner's time zone.
    week = previous_week_start(local_date(dt.datetime.now(dt.UTC), user.timezone))
    sent = await sent_report_message_id(session, user, week)
    if sent is not None:
        # Checked before enqueueing: one plain answer, no "preparing…" followed by "already above".
        reply = ReplyParameters(message_id=sent, allow_sending_without_reply=True) if sent else None
        await message.answer(t(lang, "report-sent-before", time=week_label(week)), reply_parameters=reply)
        return
    await generate_weekly_report.enqueue(pool, user_id=user.id)
    await message.answer(t(lang, "report-queued"))
