"""/stats and /report: today, the last 7 days, the streak, the daily challenge, stars and the next milestone;
the weekly report on demand."""

from __future__ import annotations

import datetime as dt

from aiogram import Router
from aiogram.filters import Command
from aiogram.types import Message, ReplyParameters
from arq.connections import ArqRedis
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from mluv.db.analytics import stored_days
from mluv.db.learners import awarded_milestones, figures_for_day, streak_state
from mluv.db.models import Delivery, DeliveryStatus, User
from mluv.domain.progress import (
    ChallengeProgress,
    challenge_target,
    last_days,
    local_date,
    next_reward,
    previous_week_start,
    streak_as_of,
)
from mluv.domain.reports import week_label
from mluv.i18n import t
from workers.analytics import REPORT_KIND, generate_weekly_report

router = Router(name="stats")


@router.message(Command("stats"))
async def stats(message: Message, session: AsyncSession, user: User, lang: str) -> None:
    """Today (live), the last 7 days (ended days from daily_stats, today live), the streak, the daily
    challenge (one line: progress, or done), stars and the next milestone the streak can still earn."""
    today = local_date(dt.datetime.now(dt.UTC), user.timezone)
    live = await figures_for_day(session, user, today)
    week = await stored_days(session, user.id, *last_days(today)) + live
    streak = await streak_state(session, user.id)
    current = streak_as_of(streak, today)
    challenge = ChallengeProgress(done=live.messages, target=challenge_target(user.level))
    today_line = dict(messages=live.messages, words=live.words, streak=current, longest=streak.longest)
    lines = [
        # One challenge line: "stats" ends with the progress, "stats-completed" with "done" instead.
        t(lang, "stats-completed", **today_line, goal=challenge.target)
        if challenge.completed
        else t(lang, "stats", **today_line, done=challenge.done, goal=challenge.target),
        t(lang, "stats-week", messages=week.messages, words=week.words)
        if week.correctness is None
        else t(
            lang,
            "stats-week-correctness",
            messages=week.messages,
            words=week.words,
            correctness=week.correctness,
        ),
        t(lang, "stats-stars", stars=user.stars),
    ]
    reward = next_reward(current, await awarded_milestones(session, user.id))
    if reward is None:
        lines.append(t(lang, "stats-milestones-done"))
    else:
        days, stars = reward
        lines.append(t(lang, "stats-next-milestone", left=days - current, days=days, stars=stars))
    await message.answer("\n".join(lines))


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
