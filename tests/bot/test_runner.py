"""The runner: the webhook URL registered with Telegram and the route served agree, whatever WEBHOOK_URL's
trailing slash; stopping long polling lets the updates already taken finish."""

from __future__ import annotations

import asyncio
from typing import Any
from urllib.parse import urlsplit

import pytest
from aiogram import Bot, Dispatcher
from aiogram.client.session.aiohttp import AiohttpSession
from aiogram.client.telegram import TelegramAPIServer
from aiogram.types import Message
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer
from redis.asyncio import Redis

from mluv.bot.middlewares import DedupeMiddleware
from mluv.bot.runner import BotRunner
from mluv.settings import load_settings
from mluv.telegram.sandbox import SandboxClient, run_sandbox
from mluv.telegram.sandbox.config import SANDBOX_BOT_TOKEN

SECRET = "runner-test-secret_0123"
BOT_ID = 1_000_000_002


class RecordingBot:
    """Stands in for aiogram's Bot where only the calls matter."""

    id = 1

    def __init__(self) -> None:
        self.webhooks: list[str] = []

    async def set_my_commands(self, *args: Any, **kwargs: Any) -> bool:
        return True

    async def set_webhook(self, url: str, **kwargs: Any) -> bool:
        self.webhooks.append(url)
        return True


@pytest.mark.parametrize(
    ("webhook_url", "registered", "route"),
    [
        (
            "https://x.fly.dev/telegram/webhook/",
            "https://x.fly.dev/telegram/webhook",
            "/telegram/webhook",
        ),
        ("https://x.fly.dev/telegram/webhook", "https://x.fly.dev/telegram/webhook", "/telegram/webhook"),
        ("https://x.fly.dev/", "https://x.fly.dev/webhook", "/webhook"),
        ("https://x.fly.dev", "https://x.fly.dev/webhook", "/webhook"),
        ("https://x.fly.dev:8443/hook?from=tg", "https://x.fly.dev:8443/hook?from=tg", "/hook"),
    ],
)
async def test_the_registered_url_and_the_served_route_agree(
    webhook_url: str, registered: str, route: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("WEBHOOK_URL", raising=False)
    settings = load_settings(_env_file=None, webhook_url=webhook_url, webhook_secret=SECRET)
    bot = RecordingBot()
    runner = BotRunner(Dispatcher(), bot, settings)  # type: ignore[arg-type]
    await runner.start()
    assert bot.webhooks == [registered]
    assert runner.webhook_path == route

    app = web.Application()
    runner.register_webhook_route(app)
    async with TestClient(TestServer(app)) as client:
        # Where Telegram will POST: the route is there (401 without the secret, not 404).
        response = await client.post(urlsplit(registered).path, json={})
        assert response.status == 401


@pytest.mark.parametrize(("first_state", "status"), [(None, 200), ("running", 503), ("done", 200)])
async def test_the_webhook_answers_503_to_a_duplicate_of_an_update_still_running(
    redis: Redis, first_state: str | None, status: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("WEBHOOK_URL", raising=False)
    settings = load_settings(_env_file=None, webhook_url="https://x.fly.dev/hook", webhook_secret=SECRET)
    dispatcher = Dispatcher()
    dedupe = DedupeMiddleware(redis, BOT_ID)
    dispatcher.update.outer_middleware(dedupe)
    handled: list[int] = []

    @dispatcher.message()
    async def record(message: Message) -> None:
        handled.append(message.message_id)

    if first_state is not None:
        await redis.set(dedupe.key(7), first_state, ex=60)
    bot = Bot(f"{BOT_ID}:runner-test-token")
    app = web.Application()
    BotRunner(dispatcher, bot, settings).register_webhook_route(app)
    update = {
        "update_id": 7,
        "message": {
            "message_id": 70,
            "date": 0,
            "chat": {"id": 5, "type": "private"},
            "from": {"id": 5, "is_bot": False, "first_name": "Olga"},
            "text": "Ahoj",
        },
    }
    async with TestClient(TestServer(app)) as client:
        response = await client.post(
            "/hook", json=update, headers={"X-Telegram-Bot-Api-Secret-Token": SECRET}
        )
    await bot.session.close()

    assert response.status == status
    assert handled == ([70] if first_state is None else [])


async def test_stopping_polling_lets_an_update_in_progress_finish(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("WEBHOOK_URL", raising=False)
    dispatcher = Dispatcher()
    started, release = asyncio.Event(), asyncio.Event()
    replied: list[int] = []

    @dispatcher.message()
    async def slow(message: Message) -> None:
        started.set()
        await release.wait()
        await message.answer("done")
        replied.append(message.message_id)

    async with run_sandbox(port=0) as url, SandboxClient(url) as sandbox:
        settings = load_settings(_env_file=None, telegram_api_base=url)
        bot = Bot(SANDBOX_BOT_TOKEN, session=AiohttpSession(api=TelegramAPIServer.from_base(url)))
        await sandbox.create_user(42, "Olga")
        runner = BotRunner(dispatcher, bot, settings)
        try:
            await runner.start()
            await sandbox.send_text(42, "Ahoj")
            async with asyncio.timeout(30):
                await started.wait()
            stopping = asyncio.create_task(runner.stop())
            await asyncio.sleep(0)  # stop() is waiting for the handler now, not before it
            assert not stopping.done()
            release.set()
            async with asyncio.timeout(30):
                await stopping
            # The handler finished, reply sent, before stop() returned.
            assert len(replied) == 1
            assert [m["text"] for m in await sandbox.messages(42)] == ["done"]
        finally:
            release.set()
            await runner.stop()
            await bot.session.close()
