"""/start: register the learner, then ask for the interface language and the level."""

from __future__ import annotations

from aiogram import F, Router
from aiogram.filters import CommandStart
from aiogram.types import CallbackQuery, Message

from mluv.bot.keyboards import LanguageChoice, LevelChoice, language_keyboard, level_keyboard
from mluv.db.models import User
from mluv.i18n import t

router = Router(name="start")


@router.message(CommandStart())
async def start(message: Message, user: User, lang: str) -> None:
    # The learner middleware already created or refreshed the row; a repeated /start keeps settings.
    # One message, not two: Telegram allows about one message per second per chat.
    text = f"{t(lang, 'start-welcome')}\n\n{t(lang, 'start-choose-language')}"
    await message.answer(text, reply_markup=language_keyboard(lang, onboarding=True))


@router.callback_query(LanguageChoice.filter(F.onboarding))
async def choose_language(query: CallbackQuery, callback_data: LanguageChoice, user: User) -> None:
    user.language = callback_data.language
    await query.answer()
    if isinstance(query.message, Message):
        await query.message.edit_text(
            t(user.language, "start-choose-level"), reply_markup=level_keyboard(user.language)
        )


@router.callback_query(LevelChoice.filter())
async def choose_level(query: CallbackQuery, callback_data: LevelChoice, user: User) -> None:
    user.level = callback_data.level
    await query.answer()
    if isinstance(query.message, Message):
        await query.message.edit_text(t(user.language, "start-done", level=user.level))
