"""The webhook runner: the URL registered with Telegram and the route served agree, whatever WEBHOOK_URL's
trailing slash."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

import pytest
from aiogram import Bot, Dispatcher
from aiogram.types import Message
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer
from redis.asyncio import Redis

from mluv.bot.middlewares import DedupeMiddleware
from mluv.bot.runner import BotRunner
from mluv.settings import load_settings

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
