"""Operators' /broadcast (with a confirm button) and /schedule (ADMIN_IDS only; see admin_only.py).

The drafts and posts they create, and the decision on a draft, are mluv.telegram.posts. The confirmation
always fits one Telegram message (a long text's preview is shortened, and says so); a draft older than
posts.DRAFT_LIFETIME is not sent when its Confirm button is pressed.
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
from mluv.domain.telegram_text import TELEGRAM_TEXT_LIMIT, shorten, utf16_length
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
        confirm_text(lang, text, draft.audience), reply_markup=broadcast_keyboard(lang, draft.id)
    )


def confirm_text(lang: str, text: str, count: int) -> str:
    """The confirmation with its preview, shortened (saying so) when the whole would not fit one message."""
    full = t(lang, "broadcast-confirm", preview=text, count=count)
    if utf16_length(full) <= TELEGRAM_TEXT_LIMIT:
        return full
    note = t(lang, "broadcast-preview-shortened", count=utf16_length(text))
    frame = utf16_length(t(lang, "broadcast-confirm", preview=f"\n\n{note}", count=count))
    preview = shorten(text, TELEGRAM_TEXT_LIMIT - frame)
    return t(lang, "broadcast-confirm", preview=f"{preview}\n\n{note}", count=count)


@router.callback_query(BroadcastAction.filter(), IsAdmin())
async def broadcast_decision(
    query: CallbackQuery, callback_data: BroadcastAction, session: AsyncSession, pool: ArqRedis, lang: str
) -> None:
    confirm = callback_data.action == "confirm"
    progress = query.message if isinstance(query.message, Message) else None
    try:
        decided = await posts.decide_draft(
            session,
            callback_data.broadcast_id,
            confirm=confirm,
            progress_chat_id=progress.chat.id if progress else None,
            progress_message_id=progress.message_id if progress else None,
        )
    except posts.DraftExpired:
        await session.commit()
        expired = t(lang, "broadcast-expired", count=int(posts.DRAFT_LIFETIME.total_seconds() // 60))
        await query.answer(expired, show_alert=True)
        if progress is not None:
            await progress.edit_text(expired)
        return
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
