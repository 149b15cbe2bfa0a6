"""Database access for notifications: who is due a reminder or the weekly report, and how much they wrote.

Reads users, streaks, messages and ledger rows; writes nothing (deliveries go through the Sender).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import Date, SmallInteger, Text, and_, column, exists, func, or_, select, values
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql.elements import ColumnElement

from mluv.db.models import Delivery, Message, Streak, User
from mluv.domain.progress import StreakState, week_window
from mluv.domain.reminders import ReminderSlot

# "Active" for reminders: practised (or joined) within this many days.
ACTIVE_DAYS = 7


def reachable() -> ColumnElement[bool]:
    """Learners the bot may write to: not blocked, not deactivated."""
    return and_(User.is_active.is_(True), User.is_blocked.is_(False))


def active_since(now: dt.datetime) -> dt.datetime:
    return now - dt.timedelta(days=ACTIVE_DAYS)


async def reminder_timezones(session: AsyncSession, now: dt.datetime) -> list[str]:
    """The timezones of learners who could be due a reminder (few distinct values)."""
    rows = await session.scalars(
        select(User.timezone)
        .where(reachable(), User.reminders_enabled.is_(True), User.last_active_at >= active_since(now))
        .distinct()
    )
    return list(rows)


@dataclass(frozen=True)
class DueReminder:
    user_id: int
    day: dt.date  # the learner's local date at the tick


async def due_reminders(
    session: AsyncSession,
    slots: Sequence[ReminderSlot],
    now: dt.datetime,
    *,
    not_in_ledger: tuple[str, str] | None = None,
) -> list[DueReminder]:
    """Learners whose local reminder hour it is in their slot and who have not practised that local day;
    with `not_in_ledger` (kind, key prefix), only those with no ledger row `<prefix><local day>` yet."""
    if not slots:
        return []
    slot = values(
        column("timezone", Text), column("hour", SmallInteger), column("day", Date), name="slot"
    ).data([(s.timezone, s.hour, s.day) for s in slots])
    unledgered: list[ColumnElement[bool]] = []
    if not_in_ledger is not None:
        kind, prefix = not_in_ledger
        key = func.concat(prefix, func.to_char(slot.c.day, "YYYY-MM-DD"))
        unledgered.append(
            ~exists().where(
                Delivery.kind == kind, Delivery.recipient_id == User.id, Delivery.business_key == key
            )
        )
    rows = await session.execute(
        select(User.id, slot.c.day)
        .join(slot, and_(User.timezone == slot.c.timezone, User.reminder_hour == slot.c.hour))
        .outerjoin(Streak, Streak.user_id == User.id)
        .where(
            reachable(),
            User.reminders_enabled.is_(True),
            User.last_active_at >= active_since(now),
            # streaks.last_active_date is the learner's last local practice day (set with each message).
            or_(Streak.last_active_date.is_(None), Streak.last_active_date < slot.c.day),
            *unledgered,
        )
        .order_by(User.id)
    )
    return [DueReminder(user_id, day) for user_id, day in rows.tuples()]


@dataclass(frozen=True)
class Recipient:
    """A learner about to receive a notification, with what the text and the checks need."""

    user_id: int
    language: str
    timezone: str
    reminders_enabled: bool
    is_active: bool
    is_blocked: bool
    streak: StreakState

    @property
    def reachable(self) -> bool:
        return self.is_active and not self.is_blocked


async def recipient(session: AsyncSession, user_id: int) -> Recipient | None:
    row = (
        await session.execute(
            select(User, Streak.current, Streak.longest, Streak.last_active_date)
            .outerjoin(Streak, Streak.user_id == User.id)
            .where(User.id == user_id)
        )
    ).one_or_none()
    if row is None:
        return None
    user, current, longest, last_active_date = row._tuple()
    return Recipient(
        user_id=user.id,
        language=user.language,
        timezone=user.timezone,
        reminders_enabled=user.reminders_enabled,
        is_active=user.is_active,
        is_blocked=user.is_blocked,
        streak=StreakState(current or 0, longest or 0, last_active_date),
    )


async def weekly_recipients(session: AsyncSession, week_start: dt.date) -> list[int]:
    """Reachable learners who wrote during the week starting `week_start` (in any timezone).

    Activity must be inside the reported week: a learner who only arrived since has nothing to report.
    """
    start, end = week_window(week_start)
    wrote = (
        select(Message.id)
        .where(Message.user_id == User.id, Message.created_at >= start, Message.created_at < end)
        .exists()
    )
    rows = await session.scalars(select(User.id).where(reachable(), wrote).order_by(User.id))
    return list(rows)


async def count_written(session: AsyncSession, user_id: int, start: dt.datetime, end: dt.datetime) -> int:
    """How many messages the learner wrote in [start, end) (ix_messages_user_id_created_at)."""
    count = await session.scalar(
        select(func.count(Message.id)).where(
            Message.user_id == user_id, Message.created_at >= start, Message.created_at < end
        )
    )
    return int(count or 0)
