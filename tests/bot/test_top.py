"""/top end to end (the bot polling the sandbox, real PostgreSQL and Redis), in ru and uk: the weekly board
from the materialized view refreshed as the hourly cron does, first names only, the learner's own line
marked (and shown below the top 10 when outside it), an empty week, a learner who left the board or is
not on it yet; and leaving and rejoining the board from /settings."""

from __future__ import annotations

import datetime as dt
from typing import Literal

import pytest

from mluv.bot.keyboards import SettingsAction
from mluv.db.maintenance import refresh_view
from mluv.db.models import Message, User
from mluv.i18n import t
from tests.bot.test_settings_menu import button_texts
from tests.bot.test_start import LEARNER, BotStack, bot_stack

__all__ = ["bot_stack"]  # the fixture, shared with test_start.py

pytestmark = [pytest.mark.integration, pytest.mark.e2e]

LANGUAGES = ["ru", "uk"]
# Others on the board: ids from here, never chats in the sandbox (they only need rows).
OTHERS = 557_000_001


async def learner(
    stack: BotStack, lang: Literal["ru", "uk"], words: list[int], *, on_leaderboard: bool = True
) -> None:
    """The asking learner: a Telegram profile with a last name and a username, a row, `words` messages."""
    await stack.sandbox.create_user(
        LEARNER, "Olga", last_name="Novakova", username="olga_secret", language_code=lang
    )
    await add_user(stack, LEARNER, "Olga", words, language=lang, on_leaderboard=on_leaderboard)


async def add_user(
    stack: BotStack,
    user_id: int,
    first_name: str | None,
    words: list[int],
    *,
    language: str = "ru",
    on_leaderboard: bool = True,
) -> None:
    async with stack.resources.session_factory.begin() as session:
        session.add(
            User(
                id=user_id,
                first_name=first_name,
                last_name="Surname",
                username=f"user{user_id}",
                language=language,
                on_leaderboard=on_leaderboard,
            )
        )
        await session.flush()
        yesterday = dt.datetime.now(dt.UTC) - dt.timedelta(days=1)
        session.add_all(
            Message(user_id=user_id, text="Ahoj", word_count=count, created_at=yesterday) for count in words
        )


async def refresh(stack: BotStack) -> None:
    """What the hourly refresh_materialized_views cron does."""
    await refresh_view(stack.resources.session_factory, "weekly_leaderboard")


async def ask_top(stack: BotStack, count: int = 1) -> str:
    """Send /top and return the answer, the bot's `count`-th message in the chat."""
    await stack.sandbox.send_text(LEARNER, "/top")
    return (await stack.next_message(count))["text"] or ""


def line(lang: str, rank: int, name: str, words: int, messages: int = 1, *, own: bool = False) -> str:
    return t(
        lang,
        "top-line-you" if own else "top-line",
        rank=rank,
        name=name,
        words=t(lang, "n-words", count=words),
        messages=t(lang, "n-messages", count=messages),
    )


@pytest.mark.parametrize("lang", LANGUAGES)
async def test_the_board_shows_first_names_and_marks_the_learner(
    bot_stack: BotStack, lang: Literal["ru", "uk"]
) -> None:
    await add_user(bot_stack, OTHERS, "Taras", [40])
    await add_user(bot_stack, OTHERS + 1, None, [12])  # no first name: a neutral placeholder
    await add_user(bot_stack, OTHERS + 2, "Hidden", [99], on_leaderboard=False)  # left the board
    await learner(bot_stack, lang, [10, 10])
    await refresh(bot_stack)

    text = await ask_top(bot_stack)

    assert text.splitlines() == [
        t(lang, "top-title"),
        line(lang, 1, "Taras", 40),
        line(lang, 2, "Olga", 20, 2, own=True),
        line(lang, 3, t(lang, "top-no-name"), 12),
    ]
    for never_shown in ("Novakova", "olga_secret", "Surname", "user557", "Hidden"):
        assert never_shown not in text


@pytest.mark.parametrize("lang", LANGUAGES)
async def test_a_learner_outside_the_top_10_sees_their_own_place_below_it(
    bot_stack: BotStack, lang: Literal["ru", "uk"]
) -> None:
    for index in range(11):
        await add_user(bot_stack, OTHERS + index, f"N{index}", [100 - index])
    await learner(bot_stack, lang, [3])
    await refresh(bot_stack)

    lines = (await ask_top(bot_stack)).splitlines()

    assert lines == [
        t(lang, "top-title"),
        *(line(lang, index + 1, f"N{index}", 100 - index) for index in range(10)),
        "…",
        line(lang, 12, "Olga", 3, own=True),
    ]


@pytest.mark.parametrize("lang", LANGUAGES)
async def test_an_empty_week_says_nobody_has_practised_yet(
    bot_stack: BotStack, lang: Literal["ru", "uk"]
) -> None:
    await learner(bot_stack, lang, [])
    await refresh(bot_stack)

    text = await ask_top(bot_stack)

    assert text == f"{t(lang, 'top-empty')}\n\n{t(lang, 'top-not-yet')}"


@pytest.mark.parametrize("lang", LANGUAGES)
async def test_a_learner_not_on_the_board_yet_is_told_it_is_updated_hourly(
    bot_stack: BotStack, lang: Literal["ru", "uk"]
) -> None:
    await add_user(bot_stack, OTHERS, "Taras", [40])
    await refresh(bot_stack)
    await learner(bot_stack, lang, [25])  # wrote after the last refresh

    text = await ask_top(bot_stack)

    assert text.split("\n") == [t(lang, "top-title"), line(lang, 1, "Taras", 40), "", t(lang, "top-not-yet")]


@pytest.mark.parametrize("lang", LANGUAGES)
async def test_a_learner_who_left_the_board_is_told_how_to_come_back(
    bot_stack: BotStack, lang: Literal["ru", "uk"]
) -> None:
    await add_user(bot_stack, OTHERS, "Taras", [40])
    await learner(bot_stack, lang, [50], on_leaderboard=False)
    await refresh(bot_stack)

    text = await ask_top(bot_stack)

    assert text.split("\n") == [t(lang, "top-title"), line(lang, 1, "Taras", 40), "", t(lang, "top-hidden")]
    assert "/settings" in t(lang, "top-hidden")


@pytest.mark.parametrize("lang", LANGUAGES)
async def test_leaving_and_rejoining_the_board_in_settings(
    bot_stack: BotStack, lang: Literal["ru", "uk"]
) -> None:
    await add_user(bot_stack, OTHERS, "Taras", [40])
    await learner(bot_stack, lang, [20])
    await refresh(bot_stack)
    assert line(lang, 2, "Olga", 20, own=True) in await ask_top(bot_stack, 1)

    await bot_stack.sandbox.send_text(LEARNER, "/settings")
    menu = await bot_stack.next_message(2)
    assert t(lang, "btn-leaderboard-off") in button_texts(menu)
    await bot_stack.sandbox.press_button(
        LEARNER, menu["message_id"], SettingsAction(action="leaderboard", value="off").pack()
    )
    hidden = await bot_stack.edited(menu["message_id"])
    assert t(lang, "btn-leaderboard-on") in button_texts(hidden)
    assert not (await bot_stack.user()).on_leaderboard
    await refresh(bot_stack)

    text = await ask_top(bot_stack, 3)
    assert text.split("\n") == [t(lang, "top-title"), line(lang, 1, "Taras", 40), "", t(lang, "top-hidden")]

    await bot_stack.sandbox.press_button(
        LEARNER, menu["message_id"], SettingsAction(action="leaderboard", value="on").pack()
    )
    await bot_stack.edited(menu["message_id"], edits=2)
    assert (await bot_stack.user()).on_leaderboard
    await refresh(bot_stack)

    assert (await ask_top(bot_stack, 4)).split("\n") == [
        t(lang, "top-title"),
        line(lang, 1, "Taras", 40),
        line(lang, 2, "Olga", 20, own=True),
    ]
