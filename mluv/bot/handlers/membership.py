"""my_chat_member: a learner who blocks the bot is marked inactive (no more reminders or broadcasts)."""

from __future__ import annotations

import datetime as dt

from aiogram import Router
from aiogram.filters import KICKED, MEMBER, ChatMemberUpdatedFilter
from aiogram.types import ChatMemberUpdated
from sqlalchemy.ext.asyncio import AsyncSession

from mluv.db.learners import mark_blocked, mark_unblocked
from mluv.logs import get_logger

router = Router(name="membership")
log = get_logger(__name__)


@router.my_chat_member(ChatMemberUpdatedFilter(member_status_changed=KICKED))
async def blocked(event: ChatMemberUpdated, session: AsyncSession) -> None:
    await mark_blocked(session, event.from_user.id, dt.datetime.now(dt.UTC))
    log.info("learner blocked the bot", user_id=event.from_user.id)


@router.my_chat_member(ChatMemberUpdatedFilter(member_status_changed=MEMBER))
async def unblocked(event: ChatMemberUpdated, session: AsyncSession) -> None:
    await mark_unblocked(session, event.from_user.id)
