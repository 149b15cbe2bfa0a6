"""Operators' /broadcast (with a confirm button) and /schedule (ADMIN_IDS only; see admin_only.py).

The drafts and posts they create, and the decision on a draft, are mluv.telegram.posts.
"""

from __future__ import annotations

import datetime as dt

from aiogram import Router
from aiogram.filters import Command, CommandObject
from aiogram.types import CallbackQuery, Message
from arq.connections import ArqRedis
from sqlalchemy.ext.asyncio import AsyncSession

from mluv.bot.filters import IsAdmin
from mluv.bot.keyboards import BroadcastAction, broadcast_keyboard
from mluv.db.models import User
from mluv.domain.schedule import ScheduleTimeError, split_schedule_arguments
from mluv.i18n import t
from mluv.telegram import posts
from workers.broadcasts import broadcast as broadcast_job

router = Router(name="broadcasts")


@router.message(Command("broadcast"), IsAdmin())
async def broadcast(
    message: Message, command: CommandObject, session: AsyncSession, user: User, lang: str
) -> None:
    text = (command.args or "").strip()
    if not text:
        await message.answer(t(lang, "broadcast-usage"))
        return
    draft = await posts.create_draft(session, created_by=user.id, text=text)
    await message.answer(
        t(lang, "broadcast-confirm", preview=text, count=draft.audience),
        reply_markup=broadcast_keyboard(lang, draft.id),
    )


@router.callback_query(BroadcastAction.filter(), IsAdmin())
async def broadcast_decision(
    query: CallbackQuery, callback_data: BroadcastAction, session: AsyncSession, pool: ArqRedis, lang: str
) -> None:
    confirm = callback_data.action == "confirm"
    progress = query.message if isinstance(query.message, Message) else None
    decided = await posts.decide_draft(
        session,
        callback_data.broadcast_id,
        confirm=confirm,
        progress_chat_id=progress.chat.id if progress else None,
        progress_message_id=progress.message_id if progress else None,
    )
    await query.answer()
    if decided is None:
        return
    await session.commit()
    if confirm:
        await broadcast_job.enqueue(pool, broadcast_id=decided.id)
    if progress is not None:
        text = (
            t(lang, "broadcast-confirmed", count=decided.audience)
            if confirm
            else t(lang, "broadcast-cancelled")
        )
        await progress.edit_text(text)


@router.message(Command("schedule"), IsAdmin())
async def schedule(
    message: Message, command: CommandObject, session: AsyncSession, user: User, lang: str
) -> None:
    try:
        send_at, text = split_schedule_arguments(command.args or "", dt.datetime.now(dt.UTC))
    except ScheduleTimeError as error:
        await message.answer(t(lang, "schedule-usage") + f"\n\n{error}")
        return
    await posts.schedule_post(session, created_by=user.id, text=text, send_at=send_at)
    await message.answer(t(lang, "schedule-done", time=send_at.strftime("%Y-%m-%d %H:%M")))
