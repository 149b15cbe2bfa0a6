"""Inline keyboards and their callback data (aiogram CallbackData: typed, prefixed, ≤ 64 bytes)."""

from __future__ import annotations

from aiogram.filters.callback_data import CallbackData
from aiogram.types import InlineKeyboardMarkup
from aiogram.utils.keyboard import InlineKeyboardBuilder

from mluv.domain.progress import COMMON_TIMEZONES
from mluv.i18n import SUPPORTED_LANGUAGES, t

LEVELS = ("beginner", "intermediate", "advanced")
REMINDER_HOURS = (7, 8, 9, 12, 17, 18, 19, 20, 21, 22)


class LanguageChoice(CallbackData, prefix="lang"):
    language: str
    onboarding: bool


class LevelChoice(CallbackData, prefix="level"):
    level: str


class SettingsAction(CallbackData, prefix="set"):
    action: str  # menu | reminders | hour | tz | lang
    value: str = ""


class BroadcastAction(CallbackData, prefix="bc"):
    action: str  # confirm | cancel
    broadcast_id: int


def language_keyboard(lang: str, *, onboarding: bool) -> InlineKeyboardMarkup:
    builder = InlineKeyboardBuilder()
    for language in SUPPORTED_LANGUAGES:
        builder.button(
            text=t(lang, f"btn-language-{language}"),
            callback_data=LanguageChoice(language=language, onboarding=onboarding),
        )
    return builder.as_markup()


def level_keyboard(lang: str) -> InlineKeyboardMarkup:
    builder = InlineKeyboardBuilder()
    for level in LEVELS:
        builder.button(text=t(lang, f"level-{level}"), callback_data=LevelChoice(level=level))
    builder.adjust(1)
    return builder.as_markup()


def settings_keyboard(lang: str, *, reminders_enabled: bool) -> InlineKeyboardMarkup:
    builder = InlineKeyboardBuilder()
    toggle = "off" if reminders_enabled else "on"
    builder.button(
        text=t(lang, f"btn-reminders-{toggle}"),
        callback_data=SettingsAction(action="reminders", value=toggle),
    )
    builder.button(text=t(lang, "btn-hour"), callback_data=SettingsAction(action="menu", value="hour"))
    builder.button(text=t(lang, "btn-timezone"), callback_data=SettingsAction(action="menu", value="tz"))
    builder.button(text=t(lang, "btn-language"), callback_data=SettingsAction(action="menu", value="lang"))
    builder.adjust(1)
    return builder.as_markup()


def hour_keyboard() -> InlineKeyboardMarkup:
    builder = InlineKeyboardBuilder()
    for hour in REMINDER_HOURS:
        builder.button(text=f"{hour:02d}:00", callback_data=SettingsAction(action="hour", value=str(hour)))
    builder.adjust(5)
    return builder.as_markup()


def timezone_keyboard() -> InlineKeyboardMarkup:
    builder = InlineKeyboardBuilder()
    for index, name in enumerate(COMMON_TIMEZONES):
        # The index, not the name: callback data is limited to 64 bytes.
        builder.button(
            text=name.split("/")[-1].replace("_", " "),
            callback_data=SettingsAction(action="tz", value=str(index)),
        )
    builder.adjust(2)
    return builder.as_markup()


def settings_language_keyboard(lang: str) -> InlineKeyboardMarkup:
    builder = InlineKeyboardBuilder()
    for language in SUPPORTED_LANGUAGES:
        builder.button(
            text=t(lang, f"btn-language-{language}"),
            callback_data=SettingsAction(action="lang", value=language),
        )
    return builder.as_markup()


def broadcast_keyboard(lang: str, broadcast_id: int) -> InlineKeyboardMarkup:
    builder = InlineKeyboardBuilder()
    builder.button(
        text=t(lang, "btn-confirm"),
        callback_data=BroadcastAction(action="confirm", broadcast_id=broadcast_id),
    )
    builder.button(
        text=t(lang, "btn-cancel"), callback_data=BroadcastAction(action="cancel", broadcast_id=broadcast_id)
    )
    return builder.as_markup()
