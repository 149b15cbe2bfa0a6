"""DedupeMiddleware on a real Redis: every update is processed at least once and never twice at once; and
end to end, a restarted sandbox's update 1 is answered by the next bot."""

from __future__ import annotations

import asyncio
import datetime as dt
import time
from collections.abc import AsyncIterator, Callable
from typing import Any, Literal

import pytest
from aiogram import Dispatcher
from aiogram.types import Chat, ChatMemberBanned, ChatMemberMember, ChatMemberUpdated, TelegramObject, Update
from aiogram.types import Message as AiogramMessage
from aiogram.types import User as TelegramUser
from redis.asyncio import Redis
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from mluv.bot.dispatcher import create_dispatcher, update_numbering
from mluv.bot.middlewares import (
    DEDUPE_DONE_SECONDS,
    DEDUPE_RUNNING_SECONDS,
    TELEGRAM_NUMBERING,
    WEBHOOK_OUTCOME,
    DedupeMiddleware,
    WebhookOutcome,
)
from mluv.bot.runner import BotRunner
from mluv.db.learners import TelegramProfile, upsert_user
from mluv.db.models import Message, User
from mluv.resources import Resources
from mluv.settings import Settings
from mluv.telegram.sandbox import SandboxClient, SandboxConfig, create_sandbox_app, run_sandbox
from mluv.worker import InProcessWorkers

BOT_ID = 1_000_000_001


class Handler:
    """Counts its runs; raises while `crash` is set; waits for `release` when one is given."""

    def __init__(self, *, crash: bool = False, release: asyncio.Event | None = None) -> None:
        self.runs = 0
        self.crash = crash
        self.release = release
        self.started = asyncio.Event()

    async def __call__(self, event: TelegramObject, data: dict[str, Any]) -> str:
        self.runs += 1
        self.started.set()
        if self.release is not None:
            await self.release.wait()
        if self.crash:
            raise RuntimeError("handler crashed")
        return "handled"


def update(update_id: int = 1) -> Update:
    return Update(update_id=update_id)


async def test_a_crashed_update_is_processed_when_redelivered(redis: Redis) -> None:
    dedupe = DedupeMiddleware(redis, BOT_ID)
    handler = Handler(crash=True)

    with pytest.raises(RuntimeError):
        await dedupe(handler, update(), {})
    assert await redis.exists(dedupe.key(1)) == 0

    handler.crash = False
    assert await dedupe(handler, update(), {}) == "handled"
    assert handler.runs == 2


async def test_a_duplicate_arriving_while_the_first_runs_is_dropped(redis: Redis) -> None:
    dedupe = DedupeMiddleware(redis, BOT_ID)
    release = asyncio.Event()
    first = Handler(release=release)
    running = asyncio.create_task(dedupe(first, update(), {}))
    await first.started.wait()
    assert await redis.get(dedupe.key(1)) == b"running"
    assert 0 < await redis.ttl(dedupe.key(1)) <= DEDUPE_RUNNING_SECONDS

    duplicate = Handler()
    assert await dedupe(duplicate, update(), {}) is None
    assert duplicate.runs == 0

    release.set()
    assert await running == "handled"
    assert first.runs == 1


@pytest.mark.parametrize(("first_state", "retry_later"), [("running", True), ("done", False)])
async def test_a_webhook_duplicate_of_a_running_update_asks_telegram_to_deliver_it_again(
    redis: Redis, first_state: str, retry_later: bool
) -> None:
    # The first delivery may die with its process while its key says "running": answering 200 to the
    # duplicate would lose the update, so the webhook answers 503 and Telegram delivers it again.
    dedupe = DedupeMiddleware(redis, BOT_ID)
    await redis.set(dedupe.key(1), first_state, ex=DEDUPE_RUNNING_SECONDS)
    outcome = WebhookOutcome()
    duplicate = Handler()

    assert await dedupe(duplicate, update(), {WEBHOOK_OUTCOME: outcome}) is None

    assert duplicate.runs == 0
    assert outcome.retry_later is retry_later


async def test_a_duplicate_of_a_done_update_is_dropped_for_a_day(redis: Redis) -> None:
    dedupe = DedupeMiddleware(redis, BOT_ID)
    handler = Handler()
    assert await dedupe(handler, update(), {}) == "handled"
    assert await redis.get(dedupe.key(1)) == b"done"
    assert DEDUPE_RUNNING_SECONDS < await redis.ttl(dedupe.key(1)) <= DEDUPE_DONE_SECONDS

    assert await dedupe(handler, update(), {}) is None
    assert handler.runs == 1
    assert await dedupe(handler, update(2), {}) == "handled"
    assert handler.runs == 2


async def test_a_new_numbering_processes_the_same_update_id_again(redis: Redis) -> None:
    handler = Handler()
    before_restart = DedupeMiddleware(redis, BOT_ID, "dev-first-start")
    after_restart = DedupeMiddleware(redis, BOT_ID, "dev-second-start")

    assert await before_restart(handler, update(), {}) == "handled"
    assert await after_restart(handler, update(), {}) == "handled"
    assert handler.runs == 2


def test_telegram_keeps_one_numbering_and_each_development_bot_process_gets_its_own(
    settings: Settings,
) -> None:
    assert update_numbering(settings.model_copy(update={"telegram_api_base": None})) == TELEGRAM_NUMBERING
    sandbox = settings.model_copy(update={"telegram_api_base": "http://127.0.0.1:8081"})
    first, second = update_numbering(sandbox), update_numbering(sandbox)
    assert TELEGRAM_NUMBERING not in {first, second}
    assert first != second


def later(minutes: int) -> Callable[[], float]:
    """A sandbox wall clock `minutes` ahead of the real one."""
    return lambda: time.time() + 60 * minutes


@pytest.mark.integration
@pytest.mark.e2e
@pytest.mark.parametrize("lang", ["ru", "uk"])
async def test_after_a_sandbox_restart_update_1_is_answered_and_stored(
    settings: Settings,
    clean_tables: None,
    redis: Redis,
    session_factory: async_sessionmaker[AsyncSession],
    lang: Literal["ru", "uk"],
) -> None:
    learner = 555_000_101
    # The same Redis and database, a new sandbox and bot each time; the second starts a minute later.
    for start, minutes_later in (("first", 0), ("second", 1)):
        app = create_sandbox_app(SandboxConfig(auto_create_chats=False), wall_clock=later(minutes_later))
        async with (
            run_sandbox(port=0, app=app) as url,
            SandboxClient(url) as sandbox,
        ):
            resources = await Resources.create(settings.model_copy(update={"telegram_api_base": url}))
            runner = BotRunner(create_dispatcher(resources), resources.bot, resources.settings)
            workers = InProcessWorkers(resources)  # the answer is the review's feedback
            await workers.start()
            await runner.start()
            try:
                await sandbox.create_user(learner, "Olga", language_code=lang)
                sent = await sandbox.send_text(learner, f"Dobrý den, jak se máš? ({start})")
                assert sent["update_id"] == 1
                # The feedback is the first (and only) message: the acknowledgement is a chat action.
                (answer,) = await sandbox.messages(learner, wait_for=1, within=20)
                assert answer["reply_to_message_id"] == sent["message"]["message_id"]
            finally:
                await runner.stop()
                await workers.stop()
                await resources.close()
    async with session_factory() as session:
        texts = (await session.scalars(select(Message.text).order_by(Message.id))).all()
    assert [text[-7:] for text in texts] == ["(first)", "second)"]


# --- private chats only -------------------------------------------------------------------------------------

LEARNER = TelegramUser(id=555_000_201, is_bot=False, first_name="Olha", language_code="uk")
GROUP = Chat(id=-100_555_000_201, type="supergroup", title="Czech club")
CHANNEL = Chat(id=-100_555_000_202, type="channel", title="Mluv news")
PRIVATE = Chat(id=LEARNER.id, type="private", first_name="Olha")


def _removed_from(chat: Chat, update_id: int) -> Update:
    bot_user = TelegramUser(id=BOT_ID, is_bot=True, first_name="Mluv")
    return Update(
        update_id=update_id,
        my_chat_member=ChatMemberUpdated(
            chat=chat,
            from_user=LEARNER,
            date=dt.datetime.now(dt.UTC),
            old_chat_member=ChatMemberMember(user=bot_user),
            new_chat_member=ChatMemberBanned(user=bot_user, until_date=dt.datetime.fromtimestamp(0, dt.UTC)),
        ),
    )


@pytest.fixture
async def fed_dispatcher(
    settings: Settings, clean_tables: None, redis: Redis
) -> AsyncIterator[tuple[Resources, Dispatcher]]:
    async with (
        run_sandbox(port=0, config=SandboxConfig(auto_create_chats=False)) as url,
        SandboxClient(url) as sandbox,
    ):
        await sandbox.create_user(LEARNER.id, "Olha", language_code="uk")
        await sandbox.create_group(GROUP.id, "Czech club")
        resources = await Resources.create(settings.model_copy(update={"telegram_api_base": url}))
        try:
            yield resources, create_dispatcher(resources)
        finally:
            await resources.close()


@pytest.mark.integration
@pytest.mark.parametrize(
    ("chat", "blocked"),
    [(PRIVATE, True), (GROUP, False), (CHANNEL, False)],
    ids=["private", "group", "channel"],
)
async def test_only_leaving_the_private_chat_marks_the_learner_blocked(
    fed_dispatcher: tuple[Resources, Dispatcher],
    session_factory: async_sessionmaker[AsyncSession],
    chat: Chat,
    blocked: bool,
) -> None:
    resources, dispatcher = fed_dispatcher
    async with session_factory.begin() as session:
        await upsert_user(session, TelegramProfile(id=LEARNER.id, language="uk"), dt.datetime.now(dt.UTC))
    await dispatcher.feed_update(resources.bot, _removed_from(chat, 1))
    async with session_factory() as session:
        user = await session.get(User, LEARNER.id)
    assert user is not None and user.is_blocked is blocked and user.is_active is not blocked


@pytest.mark.integration
async def test_a_message_in_a_group_is_not_stored_nor_answered(
    fed_dispatcher: tuple[Resources, Dispatcher], session_factory: async_sessionmaker[AsyncSession]
) -> None:
    resources, dispatcher = fed_dispatcher
    message = AiogramMessage(
        message_id=7,
        date=dt.datetime.now(dt.UTC),
        chat=GROUP,
        from_user=LEARNER,
        text="Ahoj, dnes jsem byl v Praze.",
    )
    assert await dispatcher.feed_update(resources.bot, Update(update_id=2, message=message)) is None
    async with session_factory() as session:
        assert (await session.scalars(select(Message))).all() == []
        assert await session.get(User, LEARNER.id) is None  # no learner is created from a group
