"""The learner's experience end to end: real aiogram over HTTP against the sandbox, real PostgreSQL and
Redis, the in-process workers, in polling and in webhook mode."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import aiohttp
import pytest
from aiohttp import web
from pydantic import SecretStr
from sqlalchemy import func, select

from mluv.bot.dispatcher import FLOOD_LIMIT, create_dispatcher
from mluv.bot.handlers.broadcasts import confirm_text
from mluv.bot.keyboards import LevelChoice
from mluv.bot.runner import BotRunner
from mluv.db.models import Message, User
from mluv.i18n import t
from mluv.resources import Resources
from mluv.settings import Settings
from mluv.telegram.sandbox import MessageRecord, SandboxClient, SandboxConfig, run_sandbox
from mluv.web.app import create_app
from mluv.worker import InProcessWorkers

pytestmark = [pytest.mark.integration, pytest.mark.e2e]

LEARNER = 555_000_001
OTHER = 555_000_002
ADMIN = 555_000_009
ADMIN_UK = 555_000_010
WEBHOOK_SECRET = "e2e-webhook-secret"


@dataclass
class Stack:
    sandbox: SandboxClient
    resources: Resources
    settings: Settings
    web_url: str | None = None


async def eventually(check: Callable[[], Awaitable[Any]], within: float = 10.0, what: str = "") -> Any:
    deadline = time.monotonic() + within
    while True:
        value = await check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what or check}")
        await asyncio.sleep(0.05)


@pytest.fixture(params=["polling", "webhook"])
async def stack(
    request: pytest.FixtureRequest,
    settings: Settings,
    clean_tables: None,
    redis: object,
    unused_tcp_port: int,
) -> AsyncIterator[Stack]:
    config = SandboxConfig(auto_create_chats=False)
    async with run_sandbox(port=0, config=config) as sandbox_url, SandboxClient(sandbox_url) as sandbox:
        updates: dict[str, Any] = {"telegram_api_base": sandbox_url, "admin_ids": [ADMIN, ADMIN_UK]}
        if request.param == "webhook":
            updates |= {
                "webhook_url": f"http://127.0.0.1:{unused_tcp_port}/telegram/webhook",
                "webhook_secret": SecretStr(WEBHOOK_SECRET),
            }
        configured = settings.model_copy(update=updates)
        resources = await Resources.create(configured)
        runner = BotRunner(create_dispatcher(resources), resources.bot, configured)
        app = create_app(resources)
        runner.register_webhook_route(app)
        web_runner = web.AppRunner(app)
        await web_runner.setup()
        await web.TCPSite(web_runner, "127.0.0.1", unused_tcp_port).start()
        workers = InProcessWorkers(resources)
        await workers.start()
        await runner.start()
        for user_id, name, language in (
            (LEARNER, "Olga", "uk"),
            (OTHER, "Ivan", "ru"),
            (ADMIN, "Ops", "ru"),
            (ADMIN_UK, "Ops", "uk"),
        ):
            await sandbox.create_user(user_id, name, language_code=language)  # type: ignore[arg-type]
        try:
            yield Stack(sandbox, resources, configured, f"http://127.0.0.1:{unused_tcp_port}")
        finally:
            await runner.stop()
            await workers.stop()
            await web_runner.cleanup()
            await resources.close()


async def bot_messages(stack: Stack, chat_id: int, count: int, within: float = 10.0) -> list[MessageRecord]:
    return await stack.sandbox.messages(chat_id, wait_for=count, within=within)


async def user_row(stack: Stack, user_id: int) -> User | None:
    async with stack.resources.session_factory() as session:
        return await session.get(User, user_id)


def button_data(record: MessageRecord) -> list[str]:
    markup = record["reply_markup"] or {}
    return [button["callback_data"] for row in markup.get("inline_keyboard", []) for button in row]


async def test_start_registers_the_learner_and_asks_the_level(stack: Stack) -> None:
    # A uk learner is not asked the language (tests/bot/test_start.py covers the other cases).
    await stack.sandbox.send_text(LEARNER, "/start")
    (question,) = await bot_messages(stack, LEARNER, 1)
    assert question["text"] == f"{t('uk', 'start-welcome')}\n\n{t('uk', 'start-choose-level')}"
    user = await eventually(lambda: user_row(stack, LEARNER), what="user row")
    assert (user.first_name, user.language, user.is_active) == ("Olga", "uk", True)
    level_button = LevelChoice(level="intermediate").pack()
    assert level_button in button_data(question)

    await stack.sandbox.press_button(LEARNER, question["message_id"], level_button)
    await eventually(
        lambda: _has_text(stack, LEARNER, t("uk", "start-done", level="intermediate")), what="done"
    )
    kept = await eventually(lambda: _edited(stack, LEARNER, question["message_id"]), what="buttons removed")
    assert kept["text"] == question["text"] and not button_data(kept)
    user = await user_row(stack, LEARNER)
    assert user is not None and (user.language, user.level) == ("uk", "intermediate")

    # A repeated /start keeps the learner's choices.
    await stack.sandbox.send_text(LEARNER, "/start")
    await bot_messages(stack, LEARNER, 3)
    user = await user_row(stack, LEARNER)
    assert user is not None and (user.language, user.level) == ("uk", "intermediate")


async def _edited(stack: Stack, chat_id: int, message_id: int) -> MessageRecord | None:
    for record in await stack.sandbox.messages(chat_id):
        if record["message_id"] == message_id and record["edits"]:
            return record
    return None


async def _has_text(stack: Stack, chat_id: int, text: str) -> bool:
    return any(record["text"] == text for record in await stack.sandbox.messages(chat_id))


async def test_czech_message_is_reviewed_by_the_worker_and_the_feedback_comes_first(stack: Stack) -> None:
    await stack.sandbox.send_text(LEARNER, "dekuji moc, Dobry den")
    # The acknowledgement is a chat action (tests/bot/test_acknowledgement.py): the feedback is the first
    # message the learner gets.
    feedback = (await bot_messages(stack, LEARNER, 1, within=20))[0]
    assert feedback["reply_to_message_id"] is not None
    assert "děkuji" in (feedback["text"] or "") and "Dobrý" in (feedback["text"] or "")
    async with stack.resources.session_factory() as session:
        message = (await session.scalars(select(Message).where(Message.user_id == LEARNER))).one()
    assert message.word_count == 4
    assert message.review is not None and message.correctness is not None and message.correctness < 100


async def test_blocking_the_bot_marks_the_learner_inactive(stack: Stack) -> None:
    await stack.sandbox.send_text(OTHER, "/help")
    await bot_messages(stack, OTHER, 1)
    await stack.sandbox.block(OTHER)

    async def blocked() -> bool:
        user = await user_row(stack, OTHER)
        return user is not None and user.is_blocked and not user.is_active

    await eventually(blocked, what="learner marked inactive")


IN_BOTH_LANGUAGES = pytest.mark.parametrize(
    ("user_id", "language"), [(OTHER, "ru"), (LEARNER, "uk")], ids=["ru", "uk"]
)


@IN_BOTH_LANGUAGES
@pytest.mark.parametrize("command", ["/jobs", "/broadcast Ahoj všichni", "/schedule +1h Ahoj"])
async def test_admin_commands_are_refused_for_learners(
    stack: Stack, command: str, user_id: int, language: str
) -> None:
    await stack.sandbox.send_text(user_id, command)
    (reply,) = await bot_messages(stack, user_id, 1)
    assert reply["text"] == t(language, "admin-only")


@pytest.mark.parametrize(("admin", "language"), [(ADMIN, "ru"), (ADMIN_UK, "uk")], ids=["ru", "uk"])
async def test_admin_gets_the_jobs_summary_and_a_broadcast_confirmation(
    stack: Stack, admin: int, language: str
) -> None:
    await stack.sandbox.send_text(admin, "/jobs")
    (summary,) = await bot_messages(stack, admin, 1)
    assert (summary["text"] or "").startswith(
        t(language, "jobs-summary", queued=0, running=0, scheduled=0, failed=0).split("\n")[0]
    )
    await stack.sandbox.send_text(admin, "/broadcast Ahoj všichni!")
    confirm = (await bot_messages(stack, admin, 2))[1]
    learners = 1  # the active learners the bot knows: only this admin has written to it here
    assert confirm["text"] == confirm_text(language, "Ahoj všichni!", learners)
    assert len(button_data(confirm)) == 2


async def test_redelivered_update_is_processed_once(stack: Stack) -> None:
    update = await stack.sandbox.send_text(LEARNER, "Ahoj, jak se máš?")
    # The acknowledgement is a chat action, so the feedback is the one message.
    await bot_messages(stack, LEARNER, 1, within=20)
    await stack.sandbox.redeliver(update["update_id"])
    await asyncio.sleep(1.0)
    async with stack.resources.session_factory() as session:
        count = await session.scalar(select(func.count(Message.id)).where(Message.user_id == LEARNER))
    assert count == 1
    assert len(await stack.sandbox.messages(LEARNER)) == 1


@IN_BOTH_LANGUAGES
@pytest.mark.parametrize(
    ("send", "key"),
    [
        (lambda s, user: s.send_text(user, "/help"), "help"),
        (lambda s, user: s.send_media(user, "sticker"), "unsupported-sticker"),
        (lambda s, user: s.send_media(user, "photo"), "unsupported-photo"),
        (lambda s, user: s.send_media(user, "voice"), "unsupported-voice"),
        (lambda s, user: s.send_text(user, "/nonsense"), "unknown-command"),
        (lambda s, user: s.send_text(user, "slovo " * 400), "text-too-long"),
    ],
    ids=["help", "sticker", "photo", "voice", "unknown-command", "too-long"],
)
async def test_everything_else_gets_a_helpful_answer(
    stack: Stack,
    send: Callable[[SandboxClient, int], Awaitable[Any]],
    key: str,
    user_id: int,
    language: str,
) -> None:
    await send(stack.sandbox, user_id)
    (reply,) = await bot_messages(stack, user_id, 1)
    assert reply["text"] == t(language, key, limit=1500)


async def test_one_flooding_learner_does_not_slow_the_others(stack: Stack) -> None:
    await asyncio.gather(*(stack.sandbox.send_text(OTHER, f"Ahoj {i}") for i in range(50)))
    started = time.perf_counter()
    await stack.sandbox.send_text(LEARNER, "/help")
    await bot_messages(stack, LEARNER, 1)
    assert time.perf_counter() - started < 5
    await asyncio.sleep(1.0)
    # The flood was cut before the database: at most one window's allowance of messages was stored.
    async with stack.resources.session_factory() as session:
        stored = await session.scalar(select(func.count(Message.id)).where(Message.user_id == OTHER))
    assert 1 <= (stored or 0) <= 2 * FLOOD_LIMIT
    assert len(await stack.sandbox.messages(OTHER)) <= 2 * FLOOD_LIMIT + 1


async def test_webhook_refuses_a_missing_or_wrong_secret(stack: Stack) -> None:
    if not stack.settings.webhook_url:
        pytest.skip("webhook mode only")
    update = {
        "update_id": 9_999_001,
        "message": {
            "message_id": 1,
            "date": 0,
            "chat": {"id": OTHER, "type": "private"},
            "from": {"id": OTHER, "is_bot": False, "first_name": "Ivan"},
            "text": "/help",
        },
    }
    url = stack.settings.webhook_url
    async with aiohttp.ClientSession() as session:
        for headers in ({}, {"X-Telegram-Bot-Api-Secret-Token": "wrong"}):
            async with session.post(url, json=update, headers=headers) as response:
                assert response.status == 401
        async with session.post(
            url, json=update, headers={"X-Telegram-Bot-Api-Secret-Token": WEBHOOK_SECRET}
        ) as response:
            assert response.status == 200


@pytest.mark.parametrize(("user_id", "language"), [(OTHER, "ru"), (LEARNER, "uk")], ids=["ru", "uk"])
async def test_cyrillic_and_blank_messages_get_a_hint_and_are_not_reviewed(
    stack: Stack, user_id: int, language: str
) -> None:
    hint = t(language, "practice-write-in-czech")
    sends = [
        ({"ru": "Привет, я Оля", "uk": "Привіт, я Оля"}[language], hint),
        (
            {"ru": "Как тобой пользоваться?", "uk": "Як тобою користуватися?"}[language],
            f"{t(language, 'practice-about-bot')}\n\n{hint}",
        ),
        ("   ", t(language, "practice-blank")),
    ]
    for sent, (text, expected) in enumerate(sends, start=1):
        await stack.sandbox.send_text(user_id, text)
        replies = await bot_messages(stack, user_id, sent)
        assert replies[-1]["text"] == expected
    await asyncio.sleep(1.0)  # a review job, had one been enqueued, would have sent its feedback by now
    assert len(await stack.sandbox.messages(user_id)) == len(sends)
    async with stack.resources.session_factory() as session:
        stored = await session.scalar(select(func.count(Message.id)).where(Message.user_id == user_id))
    assert stored == 0
