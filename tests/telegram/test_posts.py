"""Operators' drafts and scheduled posts (mluv.telegram.posts) on real PostgreSQL: a draft is decided
once, a confirmed broadcast is created once per key, a due post is handled by one run at a time."""

from __future__ import annotations

import asyncio
import datetime as dt

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from mluv.db.models import Broadcast, ScheduledMessage, User
from mluv.telegram import posts
from tests.telegram.sender_harness import LEARNERS, OLGA


async def learners(session_factory: async_sessionmaker[AsyncSession]) -> None:
    async with session_factory.begin() as db:
        db.add_all(User(id=user_id, first_name="Learner") for user_id in LEARNERS)


async def test_a_draft_is_decided_once(
    clean_tables: None, session_factory: async_sessionmaker[AsyncSession]
) -> None:
    await learners(session_factory)
    async with session_factory.begin() as db:
        draft = await posts.create_draft(db, created_by=OLGA, text="Ahoj")
    assert draft.audience == len(LEARNERS)

    async def tap(confirm: bool) -> posts.Draft | None:
        async with session_factory.begin() as db:
            return await posts.decide_draft(
                db, draft.id, confirm=confirm, progress_chat_id=OLGA, progress_message_id=7
            )

    decided = await asyncio.gather(tap(True), tap(True), tap(False))
    assert [d for d in decided if d is not None] == [posts.Draft(draft.id, len(LEARNERS))]
    async with session_factory() as db:
        row = await db.get(Broadcast, draft.id)
    assert row is not None and row.status in ("confirmed", "cancelled") and row.progress_message_id == 7


async def test_a_confirmed_broadcast_per_key_and_due_posts_claimed_once(
    clean_tables: None, session_factory: async_sessionmaker[AsyncSession]
) -> None:
    first = await posts.create_confirmed(
        session_factory, created_by=OLGA, text="Všem", parse_mode=None, idempotency_key="scheduled:1"
    )
    again = await posts.create_confirmed(
        session_factory, created_by=OLGA, text="Všem", parse_mode=None, idempotency_key="scheduled:1"
    )
    assert first == again
    now = dt.datetime.now(dt.UTC)
    async with session_factory.begin() as db:
        await posts.schedule_post(db, created_by=OLGA, text="Teď", send_at=now)
        await posts.schedule_post(db, created_by=OLGA, text="Zítra", send_at=now + dt.timedelta(days=1))
    claimed = await posts.claim_due_posts(session_factory, now=now, limit=10)
    # A post the first run left `sending` (it died, or still handles it) is the next run's to try again.
    assert await posts.claim_due_posts(session_factory, now=now, limit=10) == claimed
    (post_id,) = claimed
    async with session_factory.begin() as db:
        post = await posts.lock_post(db, post_id)
        assert post is not None
        async with session_factory.begin() as other:
            assert await posts.lock_post(other, post_id) is None  # handled by the first run
        posts.post_failed(post, "failed: chat not found")
    async with session_factory() as db:
        states = {p.text: (p.status, p.error) for p in await db.scalars(select(ScheduledMessage))}
    assert states == {"Teď": ("failed", "failed: chat not found"), "Zítra": ("scheduled", None)}
