"""/start: register the learner, ask the interface language when Telegram's is neither ru nor uk, then the
level; a learner who has already practised is greeted back instead.

- A learner who has practised (a streak row with a last active day) gets one message: welcome back, their
  streak today and what to do. Their settings stay as they are.
- Otherwise, when Telegram's `language_code` is Russian or Ukrainian, the learner already has that language
  (the learner middleware set it) and gets the welcome and the level question in one message.
- Otherwise (English, Czech, none…) the first message is the language question, in both languages, with
  ru/uk buttons; the choice turns that message into the welcome and the level question.
- Choosing the level removes the buttons and sends the confirmation as a new message, so the welcome stays
  in the chat (it is never edited away).
"""

from __future__ import annotations

import datetime as dt

from aiogram import F, Router
from aiogram.filters import CommandStart
from aiogram.types import CallbackQuery, Message
from sqlalchemy.ext.asyncio import AsyncSession

from mluv.bot.keyboards import LanguageChoice, LevelChoice, language_keyboard, level_keyboard
from mluv.db.learners import streak_state
from mluv.db.models import User
from mluv.domain.progress import local_date, streak_as_of
from mluv.i18n import SUPPORTED_LANGUAGES, t

router = Router(name="start")


def speaks_supported_language(language_code: str | None) -> bool:
    """Telegram's language tag is Russian or Ukrainian ("ru", "uk-UA"…)."""
    primary = (language_code or "").strip().replace("_", "-").split("-", 1)[0].lower()
    return primary in SUPPORTED_LANGUAGES


def onboarding_text(lang: str) -> str:
    return f"{t(lang, 'start-welcome')}\n\n{t(lang, 'start-choose-level')}"


@router.message(CommandStart())
async def start(message: Message, session: AsyncSession, user: User, lang: str) -> None:
    # The learner middleware already created or refreshed the row; a repeated /start keeps settings.
    # One message per /start (decision 15: Telegram allows about one message per second per chat).
    streak = await streak_state(session, user.id)
    if streak.last_active_date is not None:
        today = local_date(dt.datetime.now(dt.UTC), user.timezone)
        await message.answer(t(lang, "start-welcome-back", streak=streak_as_of(streak, today)))
        return
    code = message.from_user.language_code if message.from_user else None
    if speaks_supported_language(code):
        await message.answer(onboarding_text(lang), reply_markup=level_keyboard(lang))
        return
    question = "\n".join(t(language, "start-choose-language") for language in SUPPORTED_LANGUAGES)
    await message.answer(question, reply_markup=language_keyboard(lang, onboarding=True))


@router.callback_query(LanguageChoice.filter(F.onboarding))
async def choose_language(
    query: CallbackQuery, callback_data: LanguageChoice, user: User, session: AsyncSession
) -> None:
    if callback_data.language not in SUPPORTED_LANGUAGES:
        await query.answer(t(user.language, "error-generic"))
        return
    user.language = callback_data.language
    # Stored before the welcome in it goes out: a level pressed at once is answered in this language.
    await session.commit()
    await query.answer()
    if isinstance(query.message, Message):
        # The question becomes the welcome: nothing the learner read is lost, and no second message.
        await query.message.edit_text(
            onboarding_text(user.language), reply_markup=level_keyboard(user.language)
        )


@router.callback_query(LevelChoice.filter())
async def choose_level(
    query: CallbackQuery, callback_data: LevelChoice, user: User, session: AsyncSession
) -> None:
    user.level = callback_data.level
    await session.commit()  # stored before it is confirmed, so the confirmation is never untrue
    await query.answer()
    if isinstance(query.message, Message):
        # The welcome stays; only its buttons go. The confirmation is the one message this press sends.
        await query.message.edit_reply_markup(reply_markup=None)
        await query.message.answer(t(user.language, "start-done", level=user.level))
