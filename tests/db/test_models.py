"""The schema's constraints and defaults, exercised on a real PostgreSQL migrated to head."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from sqlalchemy import Executable, delete, func, insert, select, text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from mluv.db.models import (
    Broadcast,
    CronRun,
    DailyStats,
    Delivery,
    JobFailure,
    Message,
    ScheduledMessage,
    Streak,
    User,
    WeeklyReport,
)

LEARNER = 42
DAY = dt.date(2026, 11, 21)
NOW = dt.datetime(2026, 11, 21, 10, 5, tzinfo=dt.UTC)


def twice(statement: Executable) -> list[Executable]:
    return [statement, statement]


CONSTRAINT_VIOLATIONS = [
    pytest.param(
        twice(
            insert(Delivery).values(kind="streak_reminder", recipient_id=LEARNER, business_key="2026-11-21")
        ),
        "uq_deliveries_kind_recipient_id_business_key",
        id="delivery sent twice",
    ),
    pytest.param(
        twice(insert(DailyStats).values(user_id=LEARNER, date=DAY)),
        "uq_daily_stats_user_id_date",
        id="daily stats twice for a day",
    ),
    pytest.param(
        twice(
            insert(CronRun).values(
                cron_name="check_and_reset_streaks", business_key="2026-11-21", business_date=DAY
            )
        ),
        "uq_cron_runs_cron_name_business_key",
        id="cron run twice for a business key",
    ),
    pytest.param(
        twice(insert(WeeklyReport).values(user_id=LEARNER, week_start=DAY, data={})),
        "uq_weekly_reports_user_id_week_start",
        id="weekly report twice for a week",
    ),
    pytest.param(
        twice(insert(Broadcast).values(created_by=1, text="Ahoj", target="all", idempotency_key="k")),
        "uq_broadcasts_idempotency_key",
        id="broadcast idempotency key reused",
    ),
    pytest.param(
        [insert(User).values(id=7, language="en")],
        "ck_users_language",
        id="language en",
    ),
    pytest.param(
        [insert(User).values(id=7, level="expert")],
        "ck_users_level",
        id="unknown level",
    ),
    pytest.param(
        [insert(User).values(id=7, reminder_hour=24)],
        "ck_users_reminder_hour",
        id="reminder hour 24",
    ),
    pytest.param(
        [insert(Message).values(user_id=LEARNER, text="Ahoj", correctness=101)],
        "ck_messages_correctness",
        id="correctness above 100",
    ),
    pytest.param(
        [insert(Message).values(user_id=7, text="Ahoj")],
        "fk_messages_user_id_users",
        id="message of an unknown user",
    ),
    pytest.param(
        [insert(Delivery).values(kind="broadcast", recipient_id=1, business_key="b:1", status="lost")],
        "ck_deliveries_status",
        id="unknown delivery status",
    ),
    pytest.param(
        [insert(ScheduledMessage).values(created_by=1, target="user", text="Ahoj", send_at=NOW)],
        "ck_scheduled_messages_chat_id_required",
        id="scheduled message to a user without chat id",
    ),
    pytest.param(
        [insert(Streak).values(user_id=LEARNER, current=5, longest=3)],
        "ck_streaks_lengths",
        id="streak longer than its longest",
    ),
    pytest.param(
        [insert(JobFailure).values(job_id="j", job_name="n", queue="q", error="E", status="closed")],
        "ck_job_failures_status",
        id="unknown job failure status",
    ),
    pytest.param(
        [insert(CronRun).values(cron_name="c", business_key="k", business_date=DAY, status="done")],
        "ck_cron_runs_status",
        id="unknown cron run status",
    ),
]


@pytest.mark.parametrize(("statements", "constraint"), CONSTRAINT_VIOLATIONS)
async def test_constraint_rejects(
    migrated_engine: AsyncEngine, statements: list[Executable], constraint: str
) -> None:
    async with migrated_engine.connect() as connection:
        await connection.execute(insert(User).values(id=LEARNER))
        for statement in statements[:-1]:
            await connection.execute(statement)

        with pytest.raises(IntegrityError, match=constraint):
            await connection.execute(statements[-1])


async def test_deleting_a_user_deletes_their_data(
    migrated_sessions: async_sessionmaker[AsyncSession],
) -> None:
    async with migrated_sessions.begin() as session:
        session.add_all([User(id=LEARNER), User(id=LEARNER + 1)])
        await session.flush()
        for user_id in (LEARNER, LEARNER + 1):
            session.add_all(
                [
                    Message(user_id=user_id, text="Dobrý den", word_count=2),
                    Message(user_id=user_id, text="Jak se máš?", word_count=3),
                    DailyStats(user_id=user_id, date=DAY, messages_count=2, words_count=5),
                    Streak(user_id=user_id, current=1, longest=1, last_active_date=DAY),
                    WeeklyReport(user_id=user_id, week_start=DAY, data={"words": 5}),
                ]
            )

    async with migrated_sessions.begin() as session:
        await session.execute(delete(User).where(User.id == LEARNER))

    async with migrated_sessions() as session:
        for model in (Message, DailyStats, Streak, WeeklyReport):
            owners = (await session.scalars(select(model.user_id).distinct())).all()
            assert owners == [LEARNER + 1], model.__tablename__


async def test_server_defaults_are_loaded_after_commit(
    migrated_sessions: async_sessionmaker[AsyncSession],
) -> None:
    async with migrated_sessions.begin() as session:
        user = User(id=LEARNER, first_name="Olena")
        streak = Streak(user_id=LEARNER)
        session.add(user)
        await session.flush()
        session.add(streak)

    # Readable without a lazy load (which would fail in async code): fetched by RETURNING.
    assert (user.language, user.level, user.timezone, user.reminder_hour) == (
        "ru",
        "beginner",
        "Europe/Prague",
        18,
    )
    assert (user.reminders_enabled, user.is_active, user.is_blocked, user.stars) == (True, True, False, 0)
    assert user.created_at.utcoffset() == dt.timedelta(0)
    assert (streak.current, streak.longest, streak.milestones_awarded) == (0, 0, [])
    created = user.updated_at

    async with migrated_sessions.begin() as session:
        session.add(user)
        user.language = "uk"

    assert user.updated_at > created


async def test_milestones_are_appended_once(migrated_engine: AsyncEngine) -> None:
    award: Any = text(
        "UPDATE streaks SET milestones_awarded = array_append(milestones_awarded, :milestone) "
        "WHERE user_id = :user_id AND NOT :milestone = ANY(milestones_awarded) RETURNING user_id"
    )
    async with migrated_engine.begin() as connection:
        await connection.execute(insert(User).values(id=LEARNER))
        await connection.execute(insert(Streak).values(user_id=LEARNER, current=7, longest=7))
        first = await connection.execute(award, {"milestone": 7, "user_id": LEARNER})
        second = await connection.execute(award, {"milestone": 7, "user_id": LEARNER})
        assert (len(first.all()), len(second.all())) == (1, 0)
        awarded = await connection.scalar(select(Streak.milestones_awarded))
        assert awarded == [7]


async def test_engine_identifies_itself_and_works_in_utc(migrated_engine: AsyncEngine) -> None:
    async with migrated_engine.connect() as connection:
        name = await connection.scalar(text("SHOW application_name"))
        zone = await connection.scalar(text("SHOW TimeZone"))
        now = await connection.scalar(select(func.now()))
    assert (name, zone) == ("mluv", "UTC")
    assert now is not None
    assert now.utcoffset() == dt.timedelta(0)
