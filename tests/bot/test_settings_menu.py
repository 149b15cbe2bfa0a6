"""/settings end to end: the time zone shown and offered localized, every sub-menu with a Back button to
the menu, each choice saved and confirmed, the name on the /top leaderboard hidden and shown again; and the
zone names themselves."""

from __future__ import annotations

import datetime as dt
from typing import Literal

import pytest

from mluv.bot.handlers.preferences import menu_text
from mluv.bot.keyboards import (
    BACK_TO_SETTINGS,
    SettingsAction,
    settings_keyboard,
    timezone_keyboard,
    timezone_name,
    utc_offset,
)
from mluv.db.models import User
from mluv.domain.progress import COMMON_TIMEZONES
from mluv.i18n import t
from mluv.telegram.sandbox import MessageRecord
from tests.bot.test_e2e import button_data
from tests.bot.test_start import LEARNER, BotStack, bot_stack

__all__ = ["bot_stack"]  # the fixture, shared with test_start.py

LANGUAGES = ["ru", "uk"]
JANUARY = dt.datetime(2026, 1, 15, 12, tzinfo=dt.UTC)
JULY = dt.datetime(2026, 7, 15, 12, tzinfo=dt.UTC)


def button_texts(record: MessageRecord) -> list[str]:
    markup = record["reply_markup"] or {}
    return [button["text"] for row in markup.get("inline_keyboard", []) for button in row]


def last_row(record: MessageRecord) -> list[str]:
    markup = record["reply_markup"] or {}
    return [button["callback_data"] for button in markup["inline_keyboard"][-1]]


async def open_settings(stack: BotStack, lang: Literal["ru", "uk"]) -> MessageRecord:
    learner = await stack.learner(lang)
    await stack.sandbox.send_text(learner, "/settings")
    return await stack.next_message(1)


@pytest.mark.integration
@pytest.mark.e2e
@pytest.mark.parametrize("lang", LANGUAGES)
async def test_the_menu_shows_the_zone_localized(bot_stack: BotStack, lang: Literal["ru", "uk"]) -> None:
    menu = await open_settings(bot_stack, lang)
    assert menu["text"] == menu_text(await bot_stack.user())
    assert timezone_name(lang, "Europe/Prague") in (menu["text"] or "")
    assert "Europe/" not in (menu["text"] or "")


@pytest.mark.integration
@pytest.mark.e2e
@pytest.mark.parametrize("lang", LANGUAGES)
async def test_choosing_a_zone_from_localized_buttons(bot_stack: BotStack, lang: Literal["ru", "uk"]) -> None:
    menu = await open_settings(bot_stack, lang)
    message_id = menu["message_id"]
    await bot_stack.sandbox.press_button(
        LEARNER, message_id, SettingsAction(action="menu", value="tz").pack()
    )
    zones = await bot_stack.edited(message_id)
    assert zones["text"] == t(lang, "settings-timezone-prompt")
    names = [timezone_name(lang, name) for name in COMMON_TIMEZONES]
    assert button_texts(zones) == [*names, t(lang, "btn-back")]
    assert last_row(zones) == [BACK_TO_SETTINGS.pack()]

    kyiv = COMMON_TIMEZONES.index("Europe/Kyiv")
    await bot_stack.sandbox.press_button(
        LEARNER, message_id, SettingsAction(action="tz", value=str(kyiv)).pack()
    )
    back = await bot_stack.edited(message_id, edits=2)
    user = await bot_stack.user()
    assert user.timezone == "Europe/Kyiv"
    assert back["text"] == menu_text(user)
    assert timezone_name(lang, "Europe/Kyiv") in (back["text"] or "")


@pytest.mark.integration
@pytest.mark.e2e
@pytest.mark.parametrize("submenu", ["hour", "tz", "lang"])
@pytest.mark.parametrize("lang", LANGUAGES)
async def test_every_submenu_has_a_back_button_to_the_menu(
    bot_stack: BotStack, lang: Literal["ru", "uk"], submenu: str
) -> None:
    menu = await open_settings(bot_stack, lang)
    message_id = menu["message_id"]
    await bot_stack.sandbox.press_button(
        LEARNER, message_id, SettingsAction(action="menu", value=submenu).pack()
    )
    opened = await bot_stack.edited(message_id)
    assert opened["text"] != menu["text"]
    assert last_row(opened) == [BACK_TO_SETTINGS.pack()]
    assert button_texts(opened)[-1] == t(lang, "btn-back")

    await bot_stack.sandbox.press_button(LEARNER, message_id, BACK_TO_SETTINGS.pack())
    back = await bot_stack.edited(message_id, edits=2)
    assert back["text"] == menu["text"]
    assert button_data(back) == button_data(menu)
    user = await bot_stack.user()
    assert (user.timezone, user.language, user.reminder_hour) == ("Europe/Prague", lang, 18)


@pytest.mark.integration
@pytest.mark.e2e
@pytest.mark.parametrize("lang", LANGUAGES)
async def test_the_leaderboard_toggle_hides_and_shows_the_name(
    bot_stack: BotStack, lang: Literal["ru", "uk"]
) -> None:
    menu = await open_settings(bot_stack, lang)
    message_id = menu["message_id"]
    assert (await bot_stack.user()).on_leaderboard
    assert t(lang, "btn-leaderboard-off") in button_texts(menu)

    # Each press: saved, confirmed, the menu shows the new state and offers the opposite button.
    for edits, (value, shown, offered) in enumerate([("off", False, "on"), ("on", True, "off")], start=1):
        await bot_stack.sandbox.press_button(
            LEARNER, message_id, SettingsAction(action="leaderboard", value=value).pack()
        )
        back = await bot_stack.edited(message_id, edits=edits)
        user = await bot_stack.user()
        assert user.on_leaderboard is shown
        assert back["text"] == menu_text(user)
        assert t(lang, f"btn-leaderboard-{offered}") in button_texts(back)
        assert (await bot_stack.sandbox.callbacks())[-1]["answer"]["text"] == t(
            lang, f"settings-leaderboard-{value}"
        )
    assert (user.reminders_enabled, user.reminder_hour, user.language) == (True, 18, lang)


@pytest.mark.parametrize(
    ("lang", "on_leaderboard", "state", "toggle"),
    [
        ("ru", True, "🏆 Имя в рейтинге /top: показано", "🙈 Скрыть меня из рейтинга"),
        ("ru", False, "🏆 Имя в рейтинге /top: скрыто", "🏆 Показывать меня в рейтинге"),
        ("uk", True, "🏆 Ім'я в рейтингу /top: показано", "🙈 Приховати мене з рейтингу"),
        ("uk", False, "🏆 Ім'я в рейтингу /top: приховано", "🏆 Показувати мене в рейтингу"),
    ],
)
def test_the_menu_shows_the_leaderboard_state(
    lang: str, on_leaderboard: bool, state: str, toggle: str
) -> None:
    user = User(
        id=LEARNER,
        language=lang,
        reminders_enabled=True,
        on_leaderboard=on_leaderboard,
        reminder_hour=18,
        timezone="Europe/Prague",
    )
    assert state in menu_text(user).splitlines()
    keyboard = settings_keyboard(lang, reminders_enabled=True, on_leaderboard=on_leaderboard)
    texts = [button.text for row in keyboard.inline_keyboard for button in row]
    assert texts[1] == toggle  # right below the reminders' toggle


@pytest.mark.parametrize(
    ("lang", "zone", "moment", "expected"),
    [
        ("ru", "Europe/Kyiv", JANUARY, "Киев (UTC+2)"),
        ("uk", "Europe/Kyiv", JANUARY, "Київ (UTC+2)"),
        ("ru", "Europe/Kyiv", JULY, "Киев (UTC+3)"),
        ("uk", "Europe/Prague", JANUARY, "Прага (UTC+1)"),
        ("ru", "Europe/Warsaw", JULY, "Варшава (UTC+2)"),
        ("uk", "Europe/Berlin", JANUARY, "Берлін (UTC+1)"),
        ("ru", "Europe/London", JANUARY, "Лондон (UTC+0)"),
        ("uk", "Europe/Moscow", JULY, "Москва (UTC+3)"),
        ("ru", "Asia/Almaty", JANUARY, "Алматы (UTC+5)"),
        ("uk", "America/New_York", JANUARY, "Нью-Йорк (UTC-5)"),
        ("ru", "Asia/Kolkata", JANUARY, "Asia/Kolkata (UTC+5:30)"),
    ],
)
def test_zone_names(lang: str, zone: str, moment: dt.datetime, expected: str) -> None:
    assert timezone_name(lang, zone, moment) == expected


@pytest.mark.parametrize("lang", LANGUAGES)
def test_every_offered_zone_has_a_localized_name(lang: str) -> None:
    texts = [button.text for row in timezone_keyboard(lang, JANUARY).inline_keyboard for button in row]
    assert len(texts) == len(COMMON_TIMEZONES) + 1
    for text in texts[:-1]:
        assert "/" not in text and "_" not in text
    assert utc_offset("Europe/Kyiv", JULY) == "UTC+3"
