"""A learner's message is stored once however often Telegram delivers it (record_practice, migration 0003)."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from mluv.db.learners import record_practice
from mluv.db.models import Message, User

LEARNER = 42
NOW = dt.datetime(2026, 11, 21, 10, 5, tzinfo=dt.UTC)
SENT = NOW - dt.timedelta(seconds=1)


async def deliver(
    sessions: async_sessionmaker[AsyncSession], message_id: int, sent_at: dt.datetime
) -> tuple[int, bool, int]:
    async with sessions.begin() as session:
        user = await session.get(User, LEARNER)
        assert user is not None
        practice = await record_practice(
            session,
            user,
            text="Dobrý den",
            word_count=2,
            telegram_message_id=message_id,
            now=NOW,
            sent_at=sent_at,
        )
        return practice.message.id, practice.streak_changed, practice.messages_today


async def stored(sessions: async_sessionmaker[AsyncSession]) -> int:
    async with sessions() as session:
        return int(await session.scalar(select(func.count()).select_from(Message)) or 0)


async def test_a_redelivered_message_is_stored_once_and_keeps_its_row(
    migrated_sessions: async_sessionmaker[AsyncSession],
) -> None:
    async with migrated_sessions.begin() as session:
        session.add(User(id=LEARNER))

    first = await deliver(migrated_sessions, 7, SENT)
    again = await deliver(migrated_sessions, 7, SENT)

    assert first == (first[0], True, 1)
    # The same row (review jobs are keyed by its id), the streak not advanced twice, one message today.
    assert again == (first[0], False, 1)
    assert await stored(migrated_sessions) == 1


async def test_a_restarted_sandboxs_message_ids_are_new_messages(
    migrated_sessions: async_sessionmaker[AsyncSession],
) -> None:
    async with migrated_sessions.begin() as session:
        session.add(User(id=LEARNER))

    before_restart = await deliver(migrated_sessions, 1, SENT)
    after_restart = await deliver(migrated_sessions, 1, NOW)

    assert before_restart[0] != after_restart[0]
    assert after_restart[2] == 2
    assert await stored(migrated_sessions) == 2
