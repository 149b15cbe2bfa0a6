"""Database access for gamification: streak resets, milestone awards and stars (one place for them).

Awarding is a transactional outbox: in one transaction the milestone is appended to
streaks.milestones_awarded, the stars are added to users.stars and the congratulation is written to the
delivery ledger as a pending row. Stars and the message therefore exist together or not at all, and a
job that crashes after the commit finds the pending row and sends it (once: the Sender claims it).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, cast

from sqlalchemy import CursorResult, Date, Text, column, func, select, update, values
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from mluv.db.models import Delivery, Streak, User
from mluv.domain.gamification import Award

MILESTONE_KIND = "milestone"


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


async def record_awards(
    session: AsyncSession,
    user_id: int,
    awards: Sequence[Award],
    texts: Mapping[int, str],
    *,
    job_id: str | None,
) -> None:
    """Mark `awards` as given, add their stars and queue their congratulations, in the caller's transaction.

    `texts` maps a milestone's days to its message. Call with the streak row locked (lock_milestones).
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
    await session.execute(
        insert(Delivery)
        .values(
            [
                {
                    "kind": MILESTONE_KIND,
                    "recipient_id": user_id,
                    "business_key": award.business_key,
                    # The Sender's payload shape, so the ledger row can be (re)sent from it alone.
                    "payload": {"method": "sendMessage", "text": texts[award.days], "parse_mode": None},
                    "job_id": job_id,
                }
                for award in awards
            ]
        )
        .on_conflict_do_nothing(index_elements=["kind", "recipient_id", "business_key"])
    )


@dataclass(frozen=True)
class PendingMessage:
    business_key: str
    text: str


async def pending_congratulations(session: AsyncSession, user_id: int) -> list[PendingMessage]:
    """Congratulations recorded with their award but not yet sent (also those a crash left behind)."""
    rows = await session.execute(
        select(Delivery.business_key, Delivery.payload)
        .where(
            Delivery.kind == MILESTONE_KIND,
            Delivery.recipient_id == user_id,
            Delivery.status == "pending",
        )
        .order_by(Delivery.id)
    )
    return [
        PendingMessage(key, str(payload["text"]))
        for key, payload in rows.tuples()
        if payload and payload.get("text")
    ]


async def stars_of(session: AsyncSession, user_id: int) -> int:
    return int(await session.scalar(select(func.coalesce(User.stars, 0)).where(User.id == user_id)) or 0)


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
