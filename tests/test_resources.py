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


async def test_every_bot_keeps_the_models_its_answers_are_parsed_with() -> None:
    from mluv.telegram.response_models import KeepResponseModels

    bot = create_bot(load_settings(_env_file=None, environment="test"))
    try:
        assert any(isinstance(m, KeepResponseModels) for m in bot.session.middleware._middlewares)
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


BUILT_ON_FIRST_READ = ("engine", "session_factory", "limiter", "bot", "sender")


@pytest.mark.integration
@pytest.mark.parametrize(
    ("read", "built"),
    [
        pytest.param(None, set(), id="nothing-read"),
        pytest.param("engine", {"engine"}, id="engine"),
        pytest.param("session_factory", {"engine", "session_factory"}, id="sessions"),
        pytest.param("bot", {"limiter", "bot"}, id="bot"),
        pytest.param("sender", set(BUILT_ON_FIRST_READ), id="sender"),
    ],
)
async def test_resources_build_on_first_read_what_is_read(
    settings: Settings, read: str | None, built: set[str]
) -> None:
    resources = await Resources.create(settings)
    try:
        if read is not None:
            assert getattr(resources, read) is getattr(resources, read)  # built once
        assert {name for name in BUILT_ON_FIRST_READ if resources.built(name)} == built
    finally:
        await resources.close()
    # Closing closes what was built and builds nothing.
    assert {name for name in BUILT_ON_FIRST_READ if resources.built(name)} == built


@pytest.mark.integration
async def test_a_workers_connection_budget_is_checked_when_a_job_first_uses_the_database(
    settings: Settings,
) -> None:
    resources = await Resources.create(settings)
    resources.check_budget_on_first_use = True
    try:
        assert resources._budget_check is None
        async with resources.session_factory() as session:
            assert (await session.execute(text("SELECT 1"))).scalar_one() == 1
        assert resources._budget_check is not None
        budget = await resources._budget_check
        assert budget is not None and budget.max_connections > 0
    finally:
        await resources.close()
