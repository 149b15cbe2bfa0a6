"""The polite refusal of operators' commands and buttons to everyone else.

This router must be included after the broadcasts and jobs_status routers: it only sees what their
IsAdmin filters let through, i.e. updates from non-admins.
"""

from __future__ import annotations

from aiogram import Router
from aiogram.filters import Command
from aiogram.types import CallbackQuery, Message

from mluv.bot.keyboards import BroadcastAction
from mluv.i18n import t

router = Router(name="admin_only")
ADMIN_COMMANDS = ("broadcast", "schedule", "jobs")


@router.message(Command(*ADMIN_COMMANDS))
async def refuse(message: Message, lang: str) -> None:
    await message.answer(t(lang, "admin-only"))


@router.callback_query(BroadcastAction.filter())
async def refuse_button(query: CallbackQuery, lang: str) -> None:
    await query.answer(t(lang, "admin-only"), show_alert=True)
