"""Database access for learners: users, their messages and streaks (one place for these tables)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, literal_column, select, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from mluv.db.models import Message, Streak, User
from mluv.domain.progress import PeriodFigures, StreakState, advance_streak, day_bounds, local_date

# The unique constraint that makes a redelivered message a no-op (migration 0003).
MESSAGE_DELIVERED_ONCE = "uq_messages_user_id_telegram_message_id_sent_at"


@dataclass(frozen=True)
class TelegramProfile:
    """What Telegram tells us about a user on every update."""

    id: int
    first_name: str | None = None
    last_name: str | None = None
    username: str | None = None
    language: str = "ru"


async def upsert_user(session: AsyncSession, profile: TelegramProfile, now: dt.datetime) -> tuple[User, bool]:
    """Create the learner on first contact or refresh their names; (user, created).

    Existing settings (language, level, reminders) are never overwritten: a repeated /start keeps them.
    """
    statement: Any = (
        insert(User)
        .values(
            id=profile.id,
            first_name=profile.first_name,
            last_name=profile.last_name,
            username=profile.username,
            language=profile.language,
            last_active_at=now,
        )
        .on_conflict_do_update(
            index_elements=[User.id],
            set_={
                "first_name": profile.first_name,
                "last_name": profile.last_name,
                "username": profile.username,
                # A learner who writes again after blocking the bot has unblocked it.
                "is_active": True,
                "is_blocked": False,
                "blocked_at": None,
            },
        )
        # xmax = 0 only for a freshly inserted row: tells insert from update in one round trip.
        .returning(User, literal_column("xmax = 0").label("created"))
    )
    row = (await session.execute(statement.execution_options(populate_existing=True))).one()
    return row[0], bool(row[1])


async def mark_blocked(session: AsyncSession, user_id: int, now: dt.datetime) -> bool:
    """The learner blocked the bot (my_chat_member kicked): stop every delivery to them."""
    result = await session.execute(
        update(User)
        .where(User.id == user_id)
        .values(is_active=False, is_blocked=True, blocked_at=now)
        .returning(User.id)
    )
    return result.scalar_one_or_none() is not None


async def mark_unblocked(session: AsyncSession, user_id: int) -> None:
    await session.execute(
        update(User).where(User.id == user_id).values(is_active=True, is_blocked=False, blocked_at=None)
    )


@dataclass(frozen=True)
class Practice:
    message: Message
    streak: StreakState
    streak_changed: bool
    messages_today: int


async def record_practice(
    session: AsyncSession,
    user: User,
    *,
    text: str,
    word_count: int,
    telegram_message_id: int | None,
    now: dt.datetime,
    sent_at: dt.datetime | None = None,
) -> Practice:
    """Store a learner's text, mark them active and advance their streak, in the caller's transaction.

    Idempotent: a message Telegram delivers again (same learner, `telegram_message_id` and `sent_at`, its
    Telegram date) is not stored again and leaves the streak alone; the first delivery's row is returned,
    with `streak_changed` False, so the caller's jobs (keyed by the message id) are not duplicated.
    """
    user.last_active_at = now
    stored = await session.scalar(
        insert(Message)
        .values(
            user_id=user.id,
            text=text,
            word_count=word_count,
            telegram_message_id=telegram_message_id,
            sent_at=sent_at,
            created_at=now,
        )
        .on_conflict_do_nothing(constraint=MESSAGE_DELIVERED_ONCE)
        .returning(Message)
    )
    today = local_date(now, user.timezone)
    if stored is None:
        first = await session.scalar(
            select(Message).where(
                Message.user_id == user.id,
                Message.telegram_message_id == telegram_message_id,
                Message.sent_at == sent_at,
            )
        )
        assert first is not None  # the row the insert conflicted with
        messages_today, _ = await totals_for_day(session, user, today)
        return Practice(first, await streak_state(session, user.id), False, messages_today)
    # Row lock: two messages of one learner at once must not both read the old streak.
    streak = await session.get(Streak, user.id, with_for_update=True)
    if streak is None:
        streak = Streak(user_id=user.id, current=0, longest=0, last_active_date=None)
        session.add(streak)
    before = StreakState(streak.current or 0, streak.longest or 0, streak.last_active_date)
    after = advance_streak(before, today)
    streak.current, streak.longest, streak.last_active_date = (
        after.current,
        after.longest,
        after.last_active_date,
    )
    await session.flush()
    messages_today, _ = await totals_for_day(session, user, today)
    return Practice(stored, after, after != before, messages_today)


async def totals_for_day(session: AsyncSession, user: User, day: dt.date) -> tuple[int, int]:
    """(messages, words) the learner wrote on their local `day`."""
    start, end = day_bounds(day, user.timezone)
    row = (
        await session.execute(
            select(func.count(Message.id), func.coalesce(func.sum(Message.word_count), 0)).where(
                Message.user_id == user.id, Message.created_at >= start, Message.created_at < end
            )
        )
    ).one()
    return int(row[0]), int(row[1])


async def streak_state(session: AsyncSession, user_id: int) -> StreakState:
    streak = await session.get(Streak, user_id)
    if streak is None:
        return StreakState(0, 0, None)
    return StreakState(streak.current, streak.longest, streak.last_active_date)


async def figures_for_day(session: AsyncSession, user: User, day: dt.date) -> PeriodFigures:
    """The learner's local `day` live from messages, with correctness (as daily_stats computes it)."""
    start, end = day_bounds(day, user.timezone)
    reviewed = Message.correctness.is_not(None)
    row = (
        await session.execute(
            select(
                func.count(Message.id),
                func.coalesce(func.sum(Message.word_count), 0),
                func.coalesce(func.sum(Message.word_count * Message.correctness).filter(reviewed), 0),
                func.coalesce(func.sum(Message.word_count).filter(reviewed), 0),
            ).where(Message.user_id == user.id, Message.created_at >= start, Message.created_at < end)
        )
    ).one()
    return PeriodFigures(*(int(value) for value in row))


async def awarded_milestones(session: AsyncSession, user_id: int) -> tuple[int, ...]:
    """The streak milestones already rewarded to the learner (each pays once in a lifetime)."""
    awarded = await session.scalar(select(Streak.milestones_awarded).where(Streak.user_id == user_id))
    return tuple(awarded or ())


async def learner_level(session: AsyncSession, user_id: int) -> str | None:
    """The learner's level (users.level), None for an unknown learner."""
    level: str | None = await session.scalar(select(User.level).where(User.id == user_id))
    return level
