"""Shared resources: built once, pointed at TELEGRAM_API_BASE, bound for enqueueing, closed once."""

from __future__ import annotations

import pytest
from sqlalchemy import text

from mluv.resources import SANDBOX_BOT_TOKEN, Resources, create_bot
from mluv.settings import Settings, load_settings


@pytest.mark.parametrize(
    ("base", "token", "expected_url"),
    [
        (None, None, f"https://api.telegram.org/bot{SANDBOX_BOT_TOKEN}/getMe"),
        ("http://127.0.0.1:8081", None, f"http://127.0.0.1:8081/bot{SANDBOX_BOT_TOKEN}/getMe"),
        (
            "http://sandbox.local:9000/",
            "123456:ABCDEFGHIJKLMNOPQRSTUVWXYZ",
            "http://sandbox.local:9000/bot123456:ABCDEFGHIJKLMNOPQRSTUVWXYZ/getMe",
        ),
    ],
)
async def test_bot_talks_to_the_configured_api(
    base: str | None, token: str | None, expected_url: str
) -> None:
    settings = load_settings(_env_file=None, environment="test", telegram_api_base=base, bot_token=token)
    bot = create_bot(settings)
    try:
        assert bot.session.api.api_url(bot.token, "getMe") == expected_url
    finally:
        await bot.session.close()


@pytest.mark.integration
async def test_resources_are_usable_then_closed_once(settings: Settings) -> None:
    resources = await Resources.create(settings)
    async with resources.session_factory() as session:
        assert (await session.execute(text("SELECT 1"))).scalar_one() == 1
    assert await resources.pool.ping()
    await resources.close()
    await resources.close()
