"""/settings: reminders on/off, the name on the /top leaderboard shown or hidden, reminder hour, timezone
and interface language, with inline keyboards.

The menu and its sub-menus are one message edited in place; every sub-menu has a Back button to the menu,
and a choice returns to the menu with a short confirmation. The time zone is shown localized
("Київ (UTC+2)", mluv.bot.keyboards.timezone_name), never as its IANA name.
"""

from __future__ import annotations

from aiogram import F, Router
from aiogram.filters import Command
from aiogram.types import CallbackQuery, InlineKeyboardMarkup, Message
from sqlalchemy.ext.asyncio import AsyncSession

from mluv.bot.keyboards import (
    LanguageChoice,
    SettingsAction,
    hour_keyboard,
    settings_keyboard,
    settings_language_keyboard,
    timezone_keyboard,
    timezone_name,
)
from mluv.db.models import User
from mluv.domain.progress import COMMON_TIMEZONES
from mluv.i18n import SUPPORTED_LANGUAGES, t

router = Router(name="preferences")


def menu_text(user: User) -> str:
    return t(
        user.language,
        "settings-menu",
        reminders="on" if user.reminders_enabled else "off",
        leaderboard="on" if user.on_leaderboard else "off",
        hour=user.reminder_hour,
        timezone=timezone_name(user.language, user.timezone),
        language=user.language,
    )


def menu_keyboard(user: User) -> InlineKeyboardMarkup:
    return settings_keyboard(
        user.language, reminders_enabled=user.reminders_enabled, on_leaderboard=user.on_leaderboard
    )


@router.message(Command("settings"))
async def show_settings(message: Message, user: User) -> None:
    await message.answer(menu_text(user), reply_markup=menu_keyboard(user))


async def _show(query: CallbackQuery, text: str, markup: InlineKeyboardMarkup | None) -> None:
    await query.answer()
    if isinstance(query.message, Message):
        await query.message.edit_text(text, reply_markup=markup)


async def _back_to_menu(query: CallbackQuery, user: User, session: AsyncSession, confirmation: str) -> None:
    await session.commit()  # stored before it is confirmed, so the confirmation is never untrue
    await query.answer(confirmation)
    if isinstance(query.message, Message):
        await query.message.edit_text(menu_text(user), reply_markup=menu_keyboard(user))


@router.callback_query(SettingsAction.filter(F.action == "menu"))
async def open_submenu(query: CallbackQuery, callback_data: SettingsAction, user: User) -> None:
    lang = user.language
    if callback_data.value == "hour":
        await _show(query, t(lang, "settings-hour-prompt"), hour_keyboard(lang))
    elif callback_data.value == "tz":
        await _show(query, t(lang, "settings-timezone-prompt"), timezone_keyboard(lang))
    elif callback_data.value == "lang":
        await _show(query, t(lang, "settings-language-prompt"), settings_language_keyboard(lang))
    else:  # "main": the Back button
        await _show(query, menu_text(user), menu_keyboard(user))


@router.callback_query(SettingsAction.filter(F.action == "reminders"))
async def toggle_reminders(
    query: CallbackQuery, callback_data: SettingsAction, user: User, session: AsyncSession
) -> None:
    user.reminders_enabled = callback_data.value == "on"
    await _back_to_menu(query, user, session, t(user.language, f"settings-reminders-{callback_data.value}"))


@router.callback_query(SettingsAction.filter(F.action == "leaderboard"))
async def toggle_leaderboard(
    query: CallbackQuery, callback_data: SettingsAction, user: User, session: AsyncSession
) -> None:
    user.on_leaderboard = callback_data.value == "on"
    state = "on" if user.on_leaderboard else "off"
    await _back_to_menu(query, user, session, t(user.language, f"settings-leaderboard-{state}"))


@router.callback_query(SettingsAction.filter(F.action == "hour"))
async def set_hour(
    query: CallbackQuery, callback_data: SettingsAction, user: User, session: AsyncSession
) -> None:
    hour = int(callback_data.value) if callback_data.value.isdigit() else -1
    if not 0 <= hour <= 23:
        await query.answer(t(user.language, "settings-hour-invalid"))
        return
    user.reminder_hour = hour
    await _back_to_menu(query, user, session, t(user.language, "settings-hour-set", hour=hour))


@router.callback_query(SettingsAction.filter(F.action == "tz"))
async def set_timezone(
    query: CallbackQuery, callback_data: SettingsAction, user: User, session: AsyncSession
) -> None:
    index = int(callback_data.value) if callback_data.value.isdigit() else -1
    if not 0 <= index < len(COMMON_TIMEZONES):
        await query.answer(t(user.language, "settings-timezone-invalid", timezone=callback_data.value))
        return
    user.timezone = COMMON_TIMEZONES[index]
    name = timezone_name(user.language, user.timezone)
    await _back_to_menu(query, user, session, t(user.language, "settings-timezone-set", timezone=name))


@router.callback_query(SettingsAction.filter(F.action == "lang"))
async def set_language(
    query: CallbackQuery, callback_data: SettingsAction, user: User, session: AsyncSession
) -> None:
    if callback_data.value not in SUPPORTED_LANGUAGES:
        await query.answer(t(user.language, "error-generic"))
        return
    user.language = callback_data.value
    await _back_to_menu(query, user, session, t(user.language, "settings-language-set"))


@router.callback_query(LanguageChoice.filter(~F.onboarding))
async def set_language_outside_onboarding(
    query: CallbackQuery, callback_data: LanguageChoice, user: User, session: AsyncSession
) -> None:
    user.language = callback_data.language
    await _back_to_menu(query, user, session, t(user.language, "settings-language-set"))
