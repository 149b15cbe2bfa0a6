"""Operators' drafts and scheduled posts (mluv.telegram.posts) on real PostgreSQL: a draft is decided
once, a confirmed broadcast is created once per key, a due post is handled by one run at a time; posts
are checked before they are stored and record their audience, format and who started them; a pending
post is listed and can be cancelled until a run claims it."""

from __future__ import annotations

import asyncio
import datetime as dt

import pytest
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from mluv.db.models import Broadcast, ScheduledMessage, User
from mluv.domain.audience import Audience, PostOptions
from mluv.domain.post_format import PostError, PostFormat
from mluv.telegram import audiences, posts
from tests.telegram.sender_harness import LEARNERS, OLGA

ADMIN = posts.StartedBy(OLGA)


async def learners(session_factory: async_sessionmaker[AsyncSession]) -> None:
    async with session_factory.begin() as db:
        db.add_all(User(id=user_id, first_name="Learner") for user_id in LEARNERS)


async def test_a_draft_is_decided_once(
    clean_tables: None, session_factory: async_sessionmaker[AsyncSession]
) -> None:
    await learners(session_factory)
    async with session_factory.begin() as db:
        draft = await posts.create_draft(db, started_by=posts.StartedBy(OLGA), text="Ahoj")
    assert draft.size == len(LEARNERS)

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
        session_factory, started_by=ADMIN, text="Všem", parse_mode=None, idempotency_key="scheduled:1"
    )
    again = await posts.create_confirmed(
        session_factory, started_by=ADMIN, text="Všem", parse_mode=None, idempotency_key="scheduled:1"
    )
    assert first == again
    now = dt.datetime.now(dt.UTC)
    async with session_factory.begin() as db:
        await posts.schedule_post(db, started_by=ADMIN, text="Teď", send_at=now)
        await posts.schedule_post(db, started_by=ADMIN, text="Zítra", send_at=now + dt.timedelta(days=1))
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


async def test_posts_record_their_audience_format_and_who_started_them(
    clean_tables: None, session_factory: async_sessionmaker[AsyncSession]
) -> None:
    await learners(session_factory)
    uk_html = PostOptions(Audience(language="uk", active_days=7), PostFormat.HTML)
    async with session_factory.begin() as db:
        await db.execute(update(User).where(User.id.in_(LEARNERS[:3])).values(language="uk"))
        draft = await posts.create_draft(
            db, started_by=posts.StartedBy(operator="olga"), text="<b>Ahoj</b>", options=uk_html
        )
        await audiences.add_channel(db, chat_id=-100, title="Novinky", added_by="olga")
        to_channel = PostOptions(Audience(channel_id=-100))
        channel_draft = await posts.create_draft(db, started_by=ADMIN, text="Novinky", options=to_channel)
        post_id = await posts.schedule_post(
            db, started_by=ADMIN, text="<i>Zítra</i>", send_at=dt.datetime.now(dt.UTC), options=uk_html
        )
    assert (draft.size, channel_draft.size) == (3, 1)
    async with session_factory() as db:
        row = await db.get(Broadcast, draft.id)
        channel_row = await db.get(Broadcast, channel_draft.id)
        post = await db.get(ScheduledMessage, post_id)
    assert row is not None and channel_row is not None and post is not None
    assert (row.created_by, row.operator, row.parse_mode, row.target) == (None, "olga", "HTML", "all")
    assert audiences.of_broadcast(row) == uk_html.audience
    assert posts.started_by_of(row) == posts.StartedBy(operator="olga")
    assert (channel_row.target, channel_row.channel_ids, channel_row.created_by) == ("channels", [-100], OLGA)
    assert (post.target, post.parse_mode, audiences.of_post(post)) == ("all", "HTML", uk_html.audience)


@pytest.mark.parametrize(
    ("text", "options", "key"),
    [
        ("<b>Ahoj", PostOptions(post_format=PostFormat.HTML), "post-html-unclosed-tag"),
        ("<h1>Ahoj</h1>", PostOptions(post_format=PostFormat.HTML), "post-html-unknown-tag"),
        ("x" * 4097, PostOptions(), "post-error-too-long"),
        ("Novinky", PostOptions(Audience(channel_id=-999)), "post-option-channel"),
    ],
    ids=["unclosed", "unknown-tag", "too-long", "unknown-channel"],
)
async def test_a_post_telegram_would_refuse_is_not_stored(
    clean_tables: None,
    session_factory: async_sessionmaker[AsyncSession],
    text: str,
    options: PostOptions,
    key: str,
) -> None:
    now = dt.datetime.now(dt.UTC)
    async with session_factory.begin() as db:
        with pytest.raises(PostError) as draft_error:
            await posts.create_draft(db, started_by=ADMIN, text=text, options=options)
        with pytest.raises(PostError) as post_error:
            await posts.schedule_post(db, started_by=ADMIN, text=text, send_at=now, options=options)
    assert draft_error.value.key == post_error.value.key == key
    async with session_factory() as db:
        assert (await db.scalars(select(Broadcast))).all() == []
        assert (await db.scalars(select(ScheduledMessage))).all() == []


async def test_pending_posts_are_listed_and_cancelled_until_a_run_claims_them(
    clean_tables: None, session_factory: async_sessionmaker[AsyncSession]
) -> None:
    now = dt.datetime.now(dt.UTC)
    async with session_factory.begin() as db:
        due = await posts.schedule_post(db, started_by=ADMIN, text="Teď", send_at=now)
        later = await posts.schedule_post(
            db, started_by=ADMIN, text="Za hodinu", send_at=now + dt.timedelta(hours=1)
        )
        soon = await posts.schedule_post(
            db, started_by=ADMIN, text="Za minutu", send_at=now + dt.timedelta(minutes=1)
        )
    async with session_factory() as db:
        listed = await posts.pending_posts(db)
        assert await posts.count_pending_posts(db) == 3
    assert [(p.id, p.text, p.started_by) for p in listed] == [
        (due, "Teď", ADMIN),
        (soon, "Za minutu", ADMIN),
        (later, "Za hodinu", ADMIN),
    ]
    assert await posts.claim_due_posts(session_factory, now=now, limit=10) == [due]
    async with session_factory.begin() as db:
        assert not await posts.cancel_post(db, due)  # being sent: too late
        assert await posts.cancel_post(db, later)
        assert not await posts.cancel_post(db, later)  # once
        assert not await posts.cancel_post(db, 999_999)
    async with session_factory() as db:
        assert [p.id for p in await posts.pending_posts(db)] == [soon]
        cancelled = await db.get(ScheduledMessage, later)
    assert cancelled is not None and cancelled.status == "cancelled" and cancelled.cancelled_at is not None
