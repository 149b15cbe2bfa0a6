"""Everything no other router took: /help, unknown commands, stickers, photos, voice, anything else.

Included last, so it only sees what the feature routers did not handle.
"""

from __future__ import annotations

from aiogram import F, Router
from aiogram.filters import Command
from aiogram.types import Message

from mluv.i18n import t

router = Router(name="fallback")


@router.message(Command("help"))
async def help_command(message: Message, lang: str) -> None:
    await message.answer(t(lang, "help"))


@router.message(F.text.startswith("/"))
async def unknown_command(message: Message, lang: str) -> None:
    await message.answer(t(lang, "unknown-command"))


@router.message(F.sticker)
async def sticker(message: Message, lang: str) -> None:
    await message.answer(t(lang, "unsupported-sticker"))


@router.message(F.photo)
async def photo(message: Message, lang: str) -> None:
    await message.answer(t(lang, "unsupported-photo"))


@router.message(F.voice | F.audio | F.video_note)
async def voice(message: Message, lang: str) -> None:
    await message.answer(t(lang, "unsupported-voice"))


@router.message()
async def anything_else(message: Message, lang: str) -> None:
    await message.answer(t(lang, "unsupported-other"))
