"""Who an operator's post reaches: the query that both sizes an audience and snapshots it (so the size an
operator is shown is the size that is sent), and the channels the bot posts to (the `channels` table).

The audience's rules (which filters exist, which combine) are mluv.domain.audience. Learners who blocked
the bot or left (not active) are never in an audience.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import Select, delete, func, select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from mluv.db.models import Broadcast, Channel, ScheduledMessage, User
from mluv.domain.audience import Audience
from mluv.domain.post_format import PostError
from mluv.i18n import t


def learners(audience: Audience, *, now: dt.datetime | None = None) -> Select[tuple[int]]:
    """The ids of the learners `audience` reaches now (not for a channel audience)."""
    query = select(User.id).where(User.is_active.is_(True), User.is_blocked.is_(False))
    if audience.language is not None:
        query = query.where(User.language == audience.language)
    if audience.active_days is not None:
        since = (now or dt.datetime.now(dt.UTC)) - dt.timedelta(days=audience.active_days)
        query = query.where(User.last_active_at >= since)
    return query


async def size(session: AsyncSession, audience: Audience) -> int:
    """How many recipients `audience` has now: the snapshot's own query, counted (a channel is one)."""
    if audience.channel_id is not None:
        return 1
    return int(await session.scalar(select(func.count()).select_from(learners(audience).subquery())) or 0)


def of_broadcast(row: Broadcast) -> Audience:
    """The audience a broadcast row records (a channel broadcast: its first channel)."""
    if row.target == "channels":
        return Audience(channel_id=(row.channel_ids or [0])[0])
    return Audience(language=row.audience_language, active_days=row.active_days)


def of_post(row: ScheduledMessage) -> Audience:
    if row.target == "all":
        return Audience(language=row.audience_language, active_days=row.active_days)
    return Audience(channel_id=row.chat_id)


def broadcast_columns(audience: Audience) -> dict[str, object]:
    """The `broadcasts` columns that record `audience`."""
    if audience.channel_id is not None:
        return {"target": "channels", "channel_ids": [audience.channel_id]}
    return {"target": "all", "audience_language": audience.language, "active_days": audience.active_days}


def post_columns(audience: Audience) -> dict[str, object]:
    """The `scheduled_messages` columns that record `audience`."""
    if audience.channel_id is not None:
        return {"target": "channel", "chat_id": audience.channel_id}
    return {"target": "all", "audience_language": audience.language, "active_days": audience.active_days}


async def describe(session: AsyncSession, lang: str, audience: Audience) -> str:
    """Who `audience` is, in words (the draft, the scheduled posts' list, the web page)."""
    if audience.channel_id is not None:
        channel = await get_channel(session, audience.channel_id)
        return t(lang, "audience-channel", title=channel.title if channel else str(audience.channel_id))
    if audience.language is not None and audience.active_days is not None:
        return t(lang, "audience-language-active", language=audience.language, days=audience.active_days)
    if audience.language is not None:
        return t(lang, "audience-language", language=audience.language)
    if audience.active_days is not None:
        return t(lang, "audience-active", days=audience.active_days)
    return t(lang, "audience-everyone")


# --- channels -------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ChannelInfo:
    chat_id: int
    title: str
    added_by: str
    added_at: dt.datetime


def _info(row: Channel) -> ChannelInfo:
    return ChannelInfo(row.chat_id, row.title, row.added_by, row.added_at)


async def add_channel(session: AsyncSession, *, chat_id: int, title: str, added_by: str) -> ChannelInfo:
    """Keep a channel (again: its title is updated), in the caller's transaction."""
    title = title.strip()
    if not title:
        raise PostError("channel-error-title")
    row = await session.scalar(
        insert(Channel)
        .values(chat_id=chat_id, title=title, added_by=added_by)
        .on_conflict_do_update(index_elements=[Channel.chat_id], set_={"title": title})
        .returning(Channel)
    )
    assert row is not None
    return _info(row)


async def list_channels(session: AsyncSession) -> list[ChannelInfo]:
    return [_info(row) for row in await session.scalars(select(Channel).order_by(Channel.title))]


async def get_channel(session: AsyncSession, chat_id: int) -> ChannelInfo | None:
    row = await session.get(Channel, chat_id)
    return _info(row) if row is not None else None


async def remove_channel(session: AsyncSession, chat_id: int) -> bool:
    """Forget a channel (posts already made to it keep their chat id); False if it was not kept."""
    forget = delete(Channel).where(Channel.chat_id == chat_id).returning(Channel.chat_id)
    removed = await session.scalar(forget)
    return removed is not None


async def check_audience(session: AsyncSession, audience: Audience) -> None:
    """PostError unless a channel audience names a kept channel."""
    if audience.channel_id is not None and await get_channel(session, audience.channel_id) is None:
        raise PostError("post-option-channel", {"value": str(audience.channel_id)})
