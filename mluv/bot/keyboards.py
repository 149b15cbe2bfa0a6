"""Inline keyboards and their callback data (aiogram CallbackData: typed, prefixed, ≤ 64 bytes).

Every settings sub-menu ends with a Back button to the settings menu (`SettingsAction("menu", "main")`).
Time zones are shown by their localized city and today's UTC offset ("Київ (UTC+2)"), never by their IANA
name; `timezone_name` is the one place that names a zone for the learner.
"""

from __future__ import annotations

import datetime as dt

from aiogram.filters.callback_data import CallbackData
from aiogram.types import InlineKeyboardButton, InlineKeyboardMarkup
from aiogram.utils.keyboard import InlineKeyboardBuilder

from mluv.domain.progress import COMMON_TIMEZONES, zone
from mluv.i18n import SUPPORTED_LANGUAGES, has_text, t

LEVELS = ("beginner", "intermediate", "advanced")
REMINDER_HOURS = (7, 8, 9, 12, 17, 18, 19, 20, 21, 22)


class LanguageChoice(CallbackData, prefix="lang"):
    language: str
    onboarding: bool


class LevelChoice(CallbackData, prefix="level"):
    level: str


class SettingsAction(CallbackData, prefix="set"):
    action: str  # menu (value: main | hour | tz | lang) | reminders | leaderboard | hour | tz | lang
    value: str = ""


BACK_TO_SETTINGS = SettingsAction(action="menu", value="main")


def utc_offset(timezone: str, now: dt.datetime) -> str:
    """ "UTC+2", "UTC-5", "UTC+5:30", "UTC+0": the zone's offset at `now` (it changes with DST)."""
    offset = now.astimezone(zone(timezone)).utcoffset() or dt.timedelta()
    minutes = int(offset.total_seconds()) // 60
    sign = "-" if minutes < 0 else "+"
    hours, rest = divmod(abs(minutes), 60)
    return f"UTC{sign}{hours}" + (f":{rest:02d}" if rest else "")


def timezone_name(lang: str, timezone: str, now: dt.datetime | None = None) -> str:
    """The zone as the learner reads it: "Киев (UTC+2)"; a zone without a text keeps its IANA name."""
    key = "tz-" + timezone.lower().replace("/", "-").replace("_", "-")
    city = t(lang, key) if has_text(key, lang) else timezone
    return f"{city} ({utc_offset(timezone, now or dt.datetime.now(dt.UTC))})"


class BroadcastAction(CallbackData, prefix="bc"):
    action: str  # confirm | paid (a paid broadcast) | cancel
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


def settings_keyboard(lang: str, *, reminders_enabled: bool, on_leaderboard: bool) -> InlineKeyboardMarkup:
    builder = InlineKeyboardBuilder()
    toggle = "off" if reminders_enabled else "on"
    builder.button(
        text=t(lang, f"btn-reminders-{toggle}"),
        callback_data=SettingsAction(action="reminders", value=toggle),
    )
    shown = "off" if on_leaderboard else "on"
    builder.button(
        text=t(lang, f"btn-leaderboard-{shown}"),
        callback_data=SettingsAction(action="leaderboard", value=shown),
    )
    builder.button(text=t(lang, "btn-hour"), callback_data=SettingsAction(action="menu", value="hour"))
    builder.button(text=t(lang, "btn-timezone"), callback_data=SettingsAction(action="menu", value="tz"))
    builder.button(text=t(lang, "btn-language"), callback_data=SettingsAction(action="menu", value="lang"))
    builder.adjust(1)
    return builder.as_markup()


def _with_back(builder: InlineKeyboardBuilder, lang: str, *widths: int) -> InlineKeyboardMarkup:
    builder.adjust(*widths)
    # Its own last row, whatever the widths above.
    builder.row(InlineKeyboardButton(text=t(lang, "btn-back"), callback_data=BACK_TO_SETTINGS.pack()))
    return builder.as_markup()


def hour_keyboard(lang: str) -> InlineKeyboardMarkup:
    builder = InlineKeyboardBuilder()
    for hour in REMINDER_HOURS:
        builder.button(text=f"{hour:02d}:00", callback_data=SettingsAction(action="hour", value=str(hour)))
    return _with_back(builder, lang, 5)


def timezone_keyboard(lang: str, now: dt.datetime | None = None) -> InlineKeyboardMarkup:
    builder = InlineKeyboardBuilder()
    for index, name in enumerate(COMMON_TIMEZONES):
        # The index, not the name: callback data is limited to 64 bytes.
        builder.button(
            text=timezone_name(lang, name, now), callback_data=SettingsAction(action="tz", value=str(index))
        )
    return _with_back(builder, lang, 2)


def settings_language_keyboard(lang: str) -> InlineKeyboardMarkup:
    builder = InlineKeyboardBuilder()
    for language in SUPPORTED_LANGUAGES:
        builder.button(
            text=t(lang, f"btn-language-{language}"),
            callback_data=SettingsAction(action="lang", value=language),
        )
    return _with_back(builder, lang, 2)


def broadcast_keyboard(lang: str, broadcast_id: int, paid_stars: str | None = None) -> InlineKeyboardMarkup:
    """Confirm, Confirm paid (when paid broadcasts are on: `paid_stars` is its cost), Cancel."""
    builder = InlineKeyboardBuilder()
    builder.button(
        text=t(lang, "btn-confirm"),
        callback_data=BroadcastAction(action="confirm", broadcast_id=broadcast_id),
    )
    if paid_stars is not None:
        builder.button(
            text=t(lang, "btn-confirm-paid", stars=paid_stars),
            callback_data=BroadcastAction(action="paid", broadcast_id=broadcast_id),
        )
    builder.button(
        text=t(lang, "btn-cancel"), callback_data=BroadcastAction(action="cancel", broadcast_id=broadcast_id)
    )
    return builder.as_markup()
