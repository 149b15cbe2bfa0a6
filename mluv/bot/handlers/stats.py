"""/stats and /report: today, the last 7 days, the streak, the daily challenge, stars and the next milestone;
the report of the last 7 days (today included) on demand."""

from __future__ import annotations

import datetime as dt

from aiogram import Router
from aiogram.filters import Command
from aiogram.types import Message, ReplyParameters
from arq.connections import ArqRedis
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from mluv.db.analytics import is_stored_day, period_totals, stored_days
from mluv.db.learners import awarded_milestones, figures_for_day, streak_state
from mluv.db.models import Delivery, DeliveryStatus, User
from mluv.domain.progress import (
    ChallengeProgress,
    challenge_target,
    last_days,
    local_date,
    next_reward,
    streak_as_of,
)
from mluv.domain.reports import period_label, recent_period_start
from mluv.i18n import t
from workers.analytics import RECENT_REPORT_KIND, recent_report_key, send_recent_report

router = Router(name="stats")


@router.message(Command("stats"))
async def stats(message: Message, session: AsyncSession, user: User, lang: str) -> None:
    """Today (live), the last 7 days (ended days from daily_stats, today live), the streak, the daily
    challenge (one line: progress, or done), stars and the next milestone the streak can still earn."""
    today = local_date(dt.datetime.now(dt.UTC), user.timezone)
    live = await figures_for_day(session, user, today)
    first, yesterday = last_days(today)
    week = await stored_days(session, user.id, first, yesterday) + live
    # The nightly run writes yesterday up to ~24 h after it ended (west of UTC the next night): till then
    # it is counted live, so the week never misses it.
    if not await is_stored_day(session, user.id, yesterday):
        week += await figures_for_day(session, user, yesterday)
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


async def sent_report_message_id(session: AsyncSession, user: User, business_key: str) -> int | None:
    """The Telegram message id of the last 7 days' report under `business_key` if it was delivered to the
    learner, else None."""
    # The kind send_recent_report sends under: a report whose send failed (the learner had blocked the
    # bot, Telegram refused) does not count as sent.
    sent = await session.execute(
        select(Delivery.telegram_message_id).where(
            Delivery.kind == RECENT_REPORT_KIND,
            Delivery.recipient_id == user.id,
            Delivery.business_key == business_key,
            Delivery.status == DeliveryStatus.SENT,
        )
    )
    row = sent.first()
    return None if row is None else (row[0] or 0)


@router.message(Command("report"))
async def report(message: Message, session: AsyncSession, pool: ArqRedis, user: User, lang: str) -> None:
    """The last 7 local days, today included up to now; asked again with no new message in them since,
    one plain answer replying to the report already in the chat."""
    today = local_date(dt.datetime.now(dt.UTC), user.timezone)
    first_day = recent_period_start(today)
    messages, _ = await period_totals(session, user.id, first_day, user.timezone)
    # The same day and message count is the same report: its ledger key (see send_recent_report).
    sent = await sent_report_message_id(session, user, recent_report_key(today, messages))
    if sent is not None:
        # Checked before enqueueing: one plain answer, no "preparing…" followed by "already above".
        reply = ReplyParameters(message_id=sent, allow_sending_without_reply=True) if sent else None
        label = period_label(first_day)
        await message.answer(t(lang, "report-sent-before", time=label), reply_parameters=reply)
        return
    # "Preparing" first, so the photo can never arrive before it.
    await message.answer(t(lang, "report-queued"))
    await send_recent_report.enqueue(pool, user_id=user.id, today=today, messages=messages)
