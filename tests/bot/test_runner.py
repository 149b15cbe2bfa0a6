"""The webhook runner: the URL registered with Telegram and the route served agree, whatever WEBHOOK_URL's
trailing slash."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

import pytest
from aiogram import Dispatcher
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from mluv.bot.runner import BotRunner
from mluv.settings import load_settings

SECRET = "runner-test-secret_0123"


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
