"""Database access for gamification: streak resets, milestone awards and stars (one place for them).

Awarding (`mark_awarded`) runs in the caller's transaction, under the streak's row lock
(`lock_milestones`): workers/gamification.py adds the congratulations to the delivery ledger in the same
transaction (a transactional outbox), so stars and messages exist together or not at all.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, cast

from sqlalchemy import CursorResult, Date, Text, column, select, update, values
from sqlalchemy.ext.asyncio import AsyncSession

from mluv.db.models import Streak, User
from mluv.domain.gamification import Award


@dataclass(frozen=True)
class MilestoneState:
    current: int
    awarded: tuple[int, ...]
    language: str


async def lock_milestones(session: AsyncSession, user_id: int) -> MilestoneState | None:
    """The learner's streak and awarded milestones, with the streak row locked until commit.

    The lock serialises concurrent award jobs of one learner: the second sees the first's awards.
    """
    row = (
        await session.execute(
            select(Streak.current, Streak.milestones_awarded, User.language)
            .join(User, User.id == Streak.user_id)
            .where(Streak.user_id == user_id)
            .with_for_update(of=Streak)
        )
    ).one_or_none()
    if row is None:
        return None
    current, awarded, language = row._tuple()
    return MilestoneState(current, tuple(awarded or ()), language)


async def mark_awarded(session: AsyncSession, user_id: int, awards: Sequence[Award]) -> None:
    """Mark `awards` as given and add their stars, in the caller's transaction.

    Call with the streak row locked (lock_milestones).
    """
    if not awards:
        return
    days = [award.days for award in awards]
    await session.execute(
        update(Streak)
        .where(Streak.user_id == user_id)
        .values(milestones_awarded=Streak.milestones_awarded + days)
    )
    await session.execute(
        update(User).where(User.id == user_id).values(stars=User.stars + sum(award.stars for award in awards))
    )


async def running_streak_timezones(session: AsyncSession) -> list[str]:
    """The timezones of learners with a running streak (few distinct values)."""
    rows = await session.scalars(
        select(User.timezone).join(Streak, Streak.user_id == User.id).where(Streak.current > 0).distinct()
    )
    return list(rows)


async def reset_broken_streaks(session: AsyncSession, yesterday_by_timezone: Mapping[str, dt.date]) -> int:
    """Set current = 0 for running streaks whose learner did not practise on their local yesterday.

    Idempotent: a reset streak is not running any more. A message stored concurrently wins: PostgreSQL
    re-checks the condition on the row it updated, so a streak that just advanced is not reset.
    """
    if not yesterday_by_timezone:
        return 0
    local = values(column("timezone", Text), column("yesterday", Date), name="local").data(
        list(yesterday_by_timezone.items())
    )
    result = cast(
        CursorResult[Any],
        await session.execute(
            update(Streak)
            .where(
                Streak.user_id == User.id,
                User.timezone == local.c.timezone,
                Streak.current > 0,
                Streak.last_active_date < local.c.yesterday,
            )
            .values(current=0)
            .execution_options(synchronize_session=False)
        ),
    )
    return result.rowcount or 0
