"""/start end to end (real aiogram over HTTP against the sandbox, PostgreSQL, Redis, in-process workers):
the language asked only when Telegram's is neither ru nor uk, the welcome kept, a returning learner greeted.

The `bot_stack` fixture here (polling only) also serves test_settings_menu.py and test_report.py.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any, Literal

import pytest
from sqlalchemy import update

from mluv.bot.dispatcher import create_dispatcher
from mluv.bot.handlers.start import onboarding_text, speaks_supported_language
from mluv.bot.keyboards import LanguageChoice, LevelChoice
from mluv.bot.runner import BotRunner
from mluv.db.models import Streak, User
from mluv.i18n import t
from mluv.resources import Resources
from mluv.settings import Settings
from mluv.telegram.sandbox import MessageRecord, SandboxClient, SandboxConfig, run_sandbox
from mluv.worker import InProcessWorkers
from tests.bot.test_e2e import button_data, eventually

pytestmark = [pytest.mark.integration, pytest.mark.e2e]

LEARNER = 556_000_001
LANGUAGES = ["ru", "uk"]


@dataclass
class BotStack:
    sandbox: SandboxClient
    resources: Resources

    async def learner(self, language_code: Literal["ru", "uk", "cs", "en"] | None) -> int:
        await self.sandbox.create_user(LEARNER, "Olga", language_code=language_code)
        return LEARNER

    async def user(self) -> User:
        async with self.resources.session_factory() as session:
            user = await session.get(User, LEARNER)
        assert user is not None
        return user

    async def message(self, message_id: int) -> MessageRecord:
        (record,) = [r for r in await self.sandbox.messages(LEARNER) if r["message_id"] == message_id]
        return record

    async def next_message(self, count: int) -> MessageRecord:
        """The bot's `count`-th message in the learner's chat, once it has been sent."""
        return (await self.sandbox.messages(LEARNER, wait_for=count, within=10))[count - 1]

    async def edited(self, message_id: int, edits: int = 1) -> MessageRecord:
        async def check() -> MessageRecord | None:
            record = await self.message(message_id)
            return record if len(record["edits"]) >= edits else None

        result: MessageRecord = await eventually(check, what=f"edit {edits} of message {message_id}")
        return result


@pytest.fixture
async def bot_stack(settings: Settings, clean_tables: None, redis: object) -> AsyncIterator[BotStack]:
    config = SandboxConfig(auto_create_chats=False)
    async with run_sandbox(port=0, config=config) as sandbox_url, SandboxClient(sandbox_url) as sandbox:
        configured = settings.model_copy(update={"telegram_api_base": sandbox_url})
        resources = await Resources.create(configured)
        runner = BotRunner(create_dispatcher(resources), resources.bot, configured)
        workers = InProcessWorkers(resources)
        await workers.start()
        await runner.start()
        try:
            yield BotStack(sandbox, resources)
        finally:
            await runner.stop()
            await workers.stop()
            await resources.close()


def buttons(record: MessageRecord) -> list[str]:
    return button_data(record)


@pytest.mark.parametrize("lang", LANGUAGES)
async def test_a_ru_or_uk_learner_gets_the_welcome_and_the_level_question_and_keeps_the_welcome(
    bot_stack: BotStack, lang: Literal["ru", "uk"]
) -> None:
    learner = await bot_stack.learner(lang)
    await bot_stack.sandbox.send_text(learner, "/start")
    welcome = await bot_stack.next_message(1)
    assert welcome["text"] == onboarding_text(lang)
    assert buttons(welcome) == [
        LevelChoice(level=level).pack() for level in ("beginner", "intermediate", "advanced")
    ]
    assert (await bot_stack.user()).language == lang

    await bot_stack.sandbox.press_button(learner, welcome["message_id"], LevelChoice(level="advanced").pack())
    done = await bot_stack.next_message(2)
    assert done["text"] == t(lang, "start-done", level="advanced")
    kept = await bot_stack.edited(welcome["message_id"])
    assert kept["text"] == onboarding_text(lang)  # the welcome is still there, only its buttons went
    assert not buttons(kept)
    user = await bot_stack.user()
    assert (user.language, user.level) == (lang, "advanced")


@pytest.mark.parametrize("code", ["en", "cs", None])
@pytest.mark.parametrize("lang", LANGUAGES)
async def test_another_telegram_language_is_asked_the_language_first_in_both_languages(
    bot_stack: BotStack, lang: Literal["ru", "uk"], code: Literal["en", "cs"] | None
) -> None:
    learner = await bot_stack.learner(code)
    await bot_stack.sandbox.send_text(learner, "/start")
    question = await bot_stack.next_message(1)
    assert question["text"] == f"{t('ru', 'start-choose-language')}\n{t('uk', 'start-choose-language')}"
    assert buttons(question) == [
        LanguageChoice(language=language, onboarding=True).pack() for language in LANGUAGES
    ]

    await bot_stack.sandbox.press_button(
        learner, question["message_id"], LanguageChoice(language=lang, onboarding=True).pack()
    )
    welcome = await bot_stack.edited(question["message_id"])
    assert welcome["text"] == onboarding_text(lang)
    assert LevelChoice(level="beginner").pack() in buttons(welcome)
    assert (await bot_stack.user()).language == lang

    await bot_stack.sandbox.press_button(learner, welcome["message_id"], LevelChoice(level="beginner").pack())
    assert (await bot_stack.next_message(2))["text"] == t(lang, "start-done", level="beginner")
    assert (await bot_stack.edited(question["message_id"], edits=2))["text"] == onboarding_text(lang)


async def _practised(stack: BotStack, lang: str) -> list[MessageRecord]:
    """The learner starts, writes one Czech message and waits for its feedback."""
    await stack.sandbox.send_text(LEARNER, "/start")
    await stack.next_message(1)
    await stack.sandbox.send_text(LEARNER, "Ahoj, dnes je krásný den.")

    async def streak_row() -> Any:
        async with stack.resources.session_factory() as session:
            return await session.get(Streak, LEARNER)

    await eventually(streak_row, what="the streak row")
    return await stack.sandbox.messages(LEARNER)


@pytest.mark.parametrize("lang", LANGUAGES)
async def test_a_learner_who_practised_is_greeted_back_with_their_streak(
    bot_stack: BotStack, lang: Literal["ru", "uk"]
) -> None:
    learner = await bot_stack.learner(lang)
    before = len(await _practised(bot_stack, lang))
    await bot_stack.sandbox.send_text(learner, "/start")

    async def greeting() -> MessageRecord | None:
        expected = t(lang, "start-welcome-back", streak=1)
        return next((r for r in await bot_stack.sandbox.messages(learner) if r["text"] == expected), None)

    record = await eventually(greeting, what="welcome back")
    assert not buttons(record)
    assert "🔥" in record["text"] and "/stats" in record["text"]
    texts = [r["text"] for r in await bot_stack.sandbox.messages(learner)][before:]
    assert t(lang, "start-done", level="beginner") not in texts
    assert onboarding_text(lang) not in texts


@pytest.mark.parametrize("lang", LANGUAGES)
async def test_a_learner_whose_streak_broke_is_told_one_message_starts_a_new_one(
    bot_stack: BotStack, lang: Literal["ru", "uk"]
) -> None:
    learner = await bot_stack.learner(lang)
    await _practised(bot_stack, lang)
    async with bot_stack.resources.session_factory.begin() as session:
        long_ago = dt.datetime.now(dt.UTC).date() - dt.timedelta(days=10)
        await session.execute(
            update(Streak).where(Streak.user_id == learner).values(last_active_date=long_ago)
        )
    await bot_stack.sandbox.send_text(learner, "/start")
    expected = t(lang, "start-welcome-back", streak=0)

    async def greeting() -> bool:
        return any(r["text"] == expected for r in await bot_stack.sandbox.messages(learner))

    await eventually(greeting, what="welcome back, streak broken")
    assert "🔥" not in expected


@pytest.mark.parametrize(
    ("code", "supported"),
    [("ru", True), ("uk", True), ("uk-UA", True), ("ru_RU", True), ("en", False), ("cs", False), ("", False)],
)
def test_which_telegram_languages_are_supported(code: str, supported: bool) -> None:
    assert speaks_supported_language(code) is supported
    assert speaks_supported_language(None) is False


@pytest.mark.parametrize("lang", LANGUAGES)
@pytest.mark.parametrize("streak", [0, 1, 2, 5, 21])
def test_welcome_back_text(lang: str, streak: int) -> None:
    text = t(lang, "start-welcome-back", streak=streak)
    assert ("🔥" in text) is (streak > 0)
    if streak:
        assert f"{streak} {t(lang, 'n-days', count=streak).split(' ', 1)[1]}" in text
