"""Operators' commands (ADMIN_IDS only): /broadcast with a confirm button, /schedule, /jobs.

Everyone else gets a polite refusal for these commands (the refusal handlers are registered after the
admin ones, so they only see non-admins).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from aiogram import Router
from aiogram.filters import BaseFilter, Command, CommandObject
from aiogram.types import CallbackQuery, Message, TelegramObject
from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from mluv.bot.keyboards import BroadcastAction, broadcast_keyboard
from mluv.db.models import Broadcast, JobFailure, ScheduledMessage, User
from mluv.domain.schedule import ScheduleTimeError, split_schedule_arguments
from mluv.i18n import t
from mluv.jobs import Queue, registry
from mluv.jobs.metrics import read_job_stats
from mluv.resources import Resources
from mluv.settings import Settings

router = Router(name="admin")
ADMIN_COMMANDS = ("broadcast", "schedule", "jobs")


class IsAdmin(BaseFilter):
    async def __call__(self, event: TelegramObject, settings: Settings, **data: Any) -> bool:
        user = data.get("event_from_user")
        return user is not None and user.id in settings.admin_ids


@router.message(Command("broadcast"), IsAdmin())
async def broadcast(
    message: Message, command: CommandObject, session: AsyncSession, user: User, lang: str
) -> None:
    text = (command.args or "").strip()
    if not text:
        await message.answer(t(lang, "broadcast-usage"))
        return
    draft = Broadcast(created_by=user.id, text=text, target="all", status="draft")
    session.add(draft)
    audience = await session.scalar(select(func.count(User.id)).where(User.is_active.is_(True)))
    await session.flush()
    await message.answer(
        t(lang, "broadcast-confirm", preview=text, count=audience or 0),
        reply_markup=broadcast_keyboard(lang, draft.id),
    )


@router.callback_query(BroadcastAction.filter(), IsAdmin())
async def broadcast_decision(
    query: CallbackQuery, callback_data: BroadcastAction, session: AsyncSession, lang: str
) -> None:
    confirm = callback_data.action == "confirm"
    progress = query.message if isinstance(query.message, Message) else None
    # Only a draft can be decided, once: a double tap must not start two broadcasts.
    decided = await session.scalar(
        update(Broadcast)
        .where(Broadcast.id == callback_data.broadcast_id, Broadcast.status == "draft")
        .values(
            status="confirmed" if confirm else "cancelled",
            cancelled_at=None if confirm else dt.datetime.now(dt.UTC),
            progress_chat_id=progress.chat.id if progress else None,
            progress_message_id=progress.message_id if progress else None,
        )
        .returning(Broadcast.id)
    )
    await query.answer()
    if decided is None:
        return
    audience = await session.scalar(select(func.count(User.id)).where(User.is_active.is_(True)))
    await session.commit()
    job = registry.jobs.get("broadcast")
    if confirm and job is not None:
        await job.enqueue(broadcast_id=decided)
    if progress is not None:
        text = (
            t(lang, "broadcast-confirmed", count=audience or 0) if confirm else t(lang, "broadcast-cancelled")
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
    session.add(ScheduledMessage(created_by=user.id, target="all", text=text, send_at=send_at))
    await message.answer(t(lang, "schedule-done", time=send_at.strftime("%Y-%m-%d %H:%M")))


@router.message(Command("jobs"), IsAdmin())
async def jobs(message: Message, session: AsyncSession, resources: Resources, lang: str) -> None:
    redis = resources.pool
    now_ms = dt.datetime.now(dt.UTC).timestamp() * 1000
    queued = scheduled = 0
    for queue in Queue:
        due = await redis.zcount(queue.value, "-inf", now_ms)
        queued += due
        scheduled += await redis.zcard(queue.value) - due
    running = 0
    async for _ in redis.scan_iter("arq:in-progress:*", count=1000):
        running += 1
    failed = await session.scalar(select(func.count(JobFailure.id)).where(JobFailure.status == "open"))
    stats = sorted(await read_job_stats(redis), key=lambda s: s.executed, reverse=True)[:8]
    lines = [f"{s.name}: {s.succeeded}✓ {s.failed}✗ {s.retried}↻" for s in stats]
    summary = t(lang, "jobs-summary", queued=queued, running=running, scheduled=scheduled, failed=failed or 0)
    await message.answer("\n\n".join([summary, *(["\n".join(lines)] if lines else [])]))


@router.message(Command(*ADMIN_COMMANDS))
async def refuse(message: Message, lang: str) -> None:
    await message.answer(t(lang, "admin-only"))


@router.callback_query(BroadcastAction.filter())
async def refuse_button(query: CallbackQuery, lang: str) -> None:
    await query.answer(t(lang, "admin-only"), show_alert=True)
