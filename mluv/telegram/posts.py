"""What operators post before it goes out: broadcast drafts and scheduled posts, and their state changes.

A broadcast draft (`/broadcast`, BroadcastStatus.DRAFT) is decided once by its buttons: confirmed (its
job then runs it, mluv.telegram.broadcasts) or cancelled; a double tap cannot start two broadcasts. A draft
older than DRAFT_LIFETIME cannot be confirmed: its Confirm button cancels it (DraftExpired), so an old
preview scrolled up in the chat never starts a broadcast.

Every post is checked before it is stored (mluv.domain.post_format.check_post: valid Telegram HTML or
plain text, within the length limit once parsed) and records its audience (mluv.domain.audience; the
query: mluv.telegram.audiences) and who started it: an admin's Telegram id (`created_by`, the bot) or a
web operator's name (`operator`). The web compose page uses these same functions.

A scheduled post (`/schedule`, ScheduledStatus):

    scheduled ──claim_due_posts──▶ sending ──▶ sent | failed
        └── cancel_post ──▶ cancelled

Due posts are claimed with SKIP LOCKED; the run then handles each while holding its row lock
(`lock_post`), so a concurrent run skips it, and a post left `sending` by a run that died (its lock is
gone) is claimed again by the next run; the delivery ledger keeps it to one message. A post for everyone
to learners becomes a confirmed broadcast to the same audience (`create_confirmed`, once per post).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal

from sqlalchemy import func, select, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from mluv.db.models import Broadcast, BroadcastStatus, ScheduledMessage, ScheduledStatus
from mluv.domain.audience import EVERYONE, PLAIN_TO_EVERYONE, Audience, PostOptions
from mluv.domain.post_format import PostFormat, check_post
from mluv.telegram import audiences

# --- broadcast drafts ---------------------------------------------------------------------------------------

DRAFT_LIFETIME = dt.timedelta(minutes=30)
# Bot API 7.11, aiogram's docstring of allow_paid_broadcast: "for a fee of 0.1 Telegram Stars per message".
PAID_BROADCAST_STARS_PER_MESSAGE = Decimal("0.1")


def paid_broadcast_stars(recipients: int) -> Decimal:
    """What a paid broadcast to `recipients` costs at most: one message each, every one sent with
    allow_paid_broadcast, 0.1 Stars a message from the bot's balance. A learner who blocked the bot gets
    no message (403), so the bill can only be lower; the audience is counted again when it starts."""
    return recipients * PAID_BROADCAST_STARS_PER_MESSAGE


def stars_text(stars: Decimal, decimal_comma: bool = True) -> str:
    """Stars as shown to operators: one decimal, thousands apart ("1 234,5"; "1,234.5" on the web)."""
    shown = f"{stars:,.1f}"
    return shown.replace(",", "\u202f").replace(".", ",") if decimal_comma else shown


class DraftExpired(Exception):
    """The draft was older than DRAFT_LIFETIME when confirmed: it is now cancelled, nothing is sent."""


@dataclass(frozen=True)
class StartedBy:
    """Who starts a post: an admin in the bot (Telegram id) or an operator on the web (name)."""

    admin_id: int | None = None
    operator: str | None = None

    def __post_init__(self) -> None:
        assert (self.admin_id is None) != (self.operator is None), "an admin or an operator, not both"

    def columns(self) -> dict[str, object]:
        return {"created_by": self.admin_id, "operator": self.operator}


def started_by_of(row: Broadcast | ScheduledMessage) -> StartedBy:
    """Who started a stored post."""
    return StartedBy(operator=row.operator) if row.created_by is None else StartedBy(row.created_by)


@dataclass(frozen=True)
class Draft:
    id: int
    size: int  # recipients now (the snapshot when it starts decides who gets it)


async def create_draft(
    session: AsyncSession, *, started_by: StartedBy, text: str, options: PostOptions = PLAIN_TO_EVERYONE
) -> Draft:
    """An operator's draft, checked (PostError if it could not be sent), in the caller's transaction."""
    check_post(text, options.post_format)
    await audiences.check_audience(session, options.audience)
    draft = Broadcast(
        text=text,
        parse_mode=options.post_format.parse_mode,
        status=BroadcastStatus.DRAFT,
        **started_by.columns(),
        **audiences.broadcast_columns(options.audience),
    )
    session.add(draft)
    await session.flush()
    return Draft(draft.id, await audiences.size(session, options.audience))


async def decide_draft(
    session: AsyncSession,
    broadcast_id: int,
    *,
    confirm: bool,
    progress_chat_id: int | None,
    progress_message_id: int | None,
    paid: bool = False,
) -> Draft | None:
    """draft → confirmed (its progress then shows in the given message) or cancelled, in the caller's
    transaction; None if it was no longer a draft: only a draft can be decided, once. Confirming a draft
    older than DRAFT_LIFETIME cancels it and raises DraftExpired. `paid`: a paid broadcast (its rows are
    sent with allow_paid_broadcast)."""
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
            paid=confirm and paid,
        )
        .returning(Broadcast)
    )
    if decided is None:
        return None
    return Draft(decided.id, await audiences.size(session, audiences.of_broadcast(decided)))


async def create_confirmed(
    session_factory: async_sessionmaker[AsyncSession],
    *,
    started_by: StartedBy,
    text: str,
    parse_mode: str | None,
    idempotency_key: str,
    audience: Audience = EVERYONE,
    paid: bool = False,
) -> int:
    """A confirmed broadcast to `audience` (`paid`: a paid broadcast), created once per idempotency key and
    committed before the caller enqueues its job, so the job always finds it; its id."""
    async with session_factory.begin() as session:
        created = await session.scalar(
            insert(Broadcast)
            .values(
                text=text,
                parse_mode=parse_mode,
                status=BroadcastStatus.CONFIRMED,
                idempotency_key=idempotency_key,
                paid=paid,
                **started_by.columns(),
                **audiences.broadcast_columns(audience),
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


async def schedule_post(
    session: AsyncSession,
    *,
    started_by: StartedBy,
    text: str,
    send_at: dt.datetime,
    options: PostOptions = PLAIN_TO_EVERYONE,
) -> int:
    """A post to `options.audience` at `send_at`, checked (PostError if it could not be sent), in the
    caller's transaction; its id."""
    check_post(text, options.post_format)
    await audiences.check_audience(session, options.audience)
    post = ScheduledMessage(
        text=text,
        parse_mode=options.post_format.parse_mode,
        send_at=send_at,
        **started_by.columns(),
        **audiences.post_columns(options.audience),
    )
    session.add(post)
    await session.flush()
    return post.id


@dataclass(frozen=True)
class PendingPost:
    id: int
    send_at: dt.datetime
    audience: Audience
    post_format: PostFormat
    text: str
    started_by: StartedBy


async def pending_posts(session: AsyncSession, *, limit: int = 50) -> list[PendingPost]:
    """Posts still waiting for their time, soonest first."""
    rows = await session.scalars(
        select(ScheduledMessage)
        .where(ScheduledMessage.status == ScheduledStatus.SCHEDULED)
        .order_by(ScheduledMessage.send_at, ScheduledMessage.id)
        .limit(limit)
    )
    return [
        PendingPost(
            row.id,
            row.send_at,
            audiences.of_post(row),
            PostFormat.of(row.parse_mode),
            row.text,
            started_by_of(row),
        )
        for row in rows
    ]


async def count_pending_posts(session: AsyncSession) -> int:
    query = select(func.count()).where(ScheduledMessage.status == ScheduledStatus.SCHEDULED)
    return int(await session.scalar(query) or 0)


async def cancel_post(session: AsyncSession, post_id: int) -> bool:
    """scheduled → cancelled, in the caller's transaction; False if it is not waiting any more (sent,
    being sent, cancelled already) or does not exist."""
    cancelled = await session.scalar(
        update(ScheduledMessage)
        .where(ScheduledMessage.id == post_id, ScheduledMessage.status == ScheduledStatus.SCHEDULED)
        .values(status=ScheduledStatus.CANCELLED, cancelled_at=dt.datetime.now(dt.UTC))
        .returning(ScheduledMessage.id)
    )
    return cancelled is not None


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
