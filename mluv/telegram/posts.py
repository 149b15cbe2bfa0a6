"""What operators post before it goes out: broadcast drafts and scheduled posts, and their state changes.

A broadcast draft (`/broadcast`, BroadcastStatus.DRAFT) is decided once by its buttons: confirmed (its
job then runs it, mluv.telegram.broadcasts) or cancelled; a double tap cannot start two broadcasts. A draft
older than DRAFT_LIFETIME cannot be confirmed: its Confirm button cancels it (DraftExpired), so an old
preview scrolled up in the chat never starts a broadcast.

A scheduled post (`/schedule`, ScheduledStatus):

    scheduled ──claim_due_posts──▶ sending ──▶ sent | failed

Due posts are claimed with SKIP LOCKED; the run then handles each while holding its row lock
(`lock_post`), so a concurrent run skips it, and a post left `sending` by a run that died (its lock is
gone) is claimed again by the next run; the delivery ledger keeps it to one message. A post for everyone
becomes a confirmed broadcast (`create_confirmed`, once per post).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import func, select, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from mluv.db.models import Broadcast, BroadcastStatus, ScheduledMessage, ScheduledStatus, User

# --- broadcast drafts ---------------------------------------------------------------------------------------

DRAFT_LIFETIME = dt.timedelta(minutes=30)


class DraftExpired(Exception):
    """The draft was older than DRAFT_LIFETIME when confirmed: it is now cancelled, nothing is sent."""


@dataclass(frozen=True)
class Draft:
    id: int
    audience: int  # active learners now (the snapshot when it starts decides who gets it)


async def _audience_size(session: AsyncSession) -> int:
    return int(await session.scalar(select(func.count(User.id)).where(User.is_active.is_(True))) or 0)


async def create_draft(session: AsyncSession, *, created_by: int, text: str) -> Draft:
    """An operator's draft to every learner, in the caller's transaction."""
    draft = Broadcast(created_by=created_by, text=text, target="all", status=BroadcastStatus.DRAFT)
    session.add(draft)
    audience = await _audience_size(session)
    await session.flush()
    return Draft(draft.id, audience)


async def decide_draft(
    session: AsyncSession,
    broadcast_id: int,
    *,
    confirm: bool,
    progress_chat_id: int | None,
    progress_message_id: int | None,
) -> Draft | None:
    """draft → confirmed (its progress then shows in the given message) or cancelled, in the caller's
    transaction; None if it was no longer a draft: only a draft can be decided, once. Confirming a draft
    older than DRAFT_LIFETIME cancels it and raises DraftExpired."""
    now = dt.datetime.now(dt.UTC)
    if confirm:
        expired = await session.scalar(
            update(Broadcast)
            .where(
                Broadcast.id == broadcast_id,
                Broadcast.status == BroadcastStatus.DRAFT,
                Broadcast.created_at <= now - DRAFT_LIFETIME,
            )
            .values(status=BroadcastStatus.CANCELLED, cancelled_at=now)
            .returning(Broadcast.id)
        )
        if expired is not None:
            raise DraftExpired(broadcast_id)
    decided = await session.scalar(
        update(Broadcast)
        .where(Broadcast.id == broadcast_id, Broadcast.status == BroadcastStatus.DRAFT)
        .values(
            status=BroadcastStatus.CONFIRMED if confirm else BroadcastStatus.CANCELLED,
            cancelled_at=None if confirm else now,
            progress_chat_id=progress_chat_id,
            progress_message_id=progress_message_id,
        )
        .returning(Broadcast.id)
    )
    if decided is None:
        return None
    return Draft(decided, await _audience_size(session))


async def create_confirmed(
    session_factory: async_sessionmaker[AsyncSession],
    *,
    created_by: int,
    text: str,
    parse_mode: str | None,
    idempotency_key: str,
) -> int:
    """A confirmed broadcast to every learner, created once per idempotency key and committed before the
    caller enqueues its job, so the job always finds it; its id."""
    async with session_factory.begin() as session:
        created = await session.scalar(
            insert(Broadcast)
            .values(
                created_by=created_by,
                text=text,
                parse_mode=parse_mode,
                target="all",
                status=BroadcastStatus.CONFIRMED,
                idempotency_key=idempotency_key,
            )
            .on_conflict_do_nothing(index_elements=["idempotency_key"])
            .returning(Broadcast.id)
        )
        if created is not None:
            return int(created)
        existing = await session.scalar(
            select(Broadcast.id).where(Broadcast.idempotency_key == idempotency_key)
        )
    assert existing is not None
    return int(existing)


# --- scheduled posts ----------------------------------------------------------------------------------------


async def schedule_post(session: AsyncSession, *, created_by: int, text: str, send_at: dt.datetime) -> None:
    """A post to every learner at `send_at`, in the caller's transaction."""
    session.add(ScheduledMessage(created_by=created_by, target="all", text=text, send_at=send_at))


async def claim_due_posts(
    session_factory: async_sessionmaker[AsyncSession], *, now: dt.datetime, limit: int
) -> list[int]:
    """The posts to handle now: those due, claimed (scheduled → sending) with SKIP LOCKED, oldest first,
    then those a dead run left `sending`."""
    due = (
        select(ScheduledMessage.id)
        .where(ScheduledMessage.status == ScheduledStatus.SCHEDULED, ScheduledMessage.send_at <= now)
        .order_by(ScheduledMessage.send_at)
        .limit(limit)
        .with_for_update(skip_locked=True)
    )
    async with session_factory.begin() as session:
        claimed = (
            await session.scalars(
                update(ScheduledMessage)
                .where(ScheduledMessage.id.in_(due))
                .values(status=ScheduledStatus.SENDING)
                .returning(ScheduledMessage.id)
            )
        ).all()
        stranded = (
            await session.scalars(
                select(ScheduledMessage.id)
                .where(
                    ScheduledMessage.status == ScheduledStatus.SENDING,
                    ScheduledMessage.id.not_in(claimed or [0]),
                )
                .limit(limit)
            )
        ).all()
    return [*sorted(claimed), *stranded]


async def lock_post(session: AsyncSession, post_id: int) -> ScheduledMessage | None:
    """The post if it is `sending` and no other run handles it; its row lock, held until the caller's
    transaction ends, marks it as being handled (a dead run's lock is gone)."""
    found = await session.execute(
        select(ScheduledMessage)
        .where(ScheduledMessage.id == post_id, ScheduledMessage.status == ScheduledStatus.SENDING)
        .with_for_update(skip_locked=True)
    )
    return found.scalar_one_or_none()


def post_sent(post: ScheduledMessage, now: dt.datetime) -> None:
    """sending → sent, in the transaction that holds the post (lock_post)."""
    post.status, post.sent_at, post.error = ScheduledStatus.SENT, now, None


def post_failed(post: ScheduledMessage, error: str) -> None:
    """sending → failed with the ledger's reason, in the transaction that holds the post (lock_post)."""
    post.status, post.error = ScheduledStatus.FAILED, error
