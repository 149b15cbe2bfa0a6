"""A burst of learners against a strict emulation of Telegram's global limit (real aiogram polling the
sandbox, in-process workers, PostgreSQL, Redis): every learner is answered, Telegram never says 429.

The sandbox runs in strict mode: at most 30 sends in any one-second window (a sliding window, not a
token bucket that lets a full bucket plus its refill through), each reply waits its turn in the shared
limiter (PacedRequests) however long the queue, and nothing is dropped for speed.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Literal

import pytest

from mluv.bot.dispatcher import create_dispatcher
from mluv.bot.handlers.start import onboarding_text
from mluv.bot.runner import BotRunner
from mluv.resources import Resources
from mluv.settings import Settings
from mluv.telegram.sandbox import LimitsConfig, SandboxClient, SandboxConfig, run_sandbox
from mluv.telegram.sandbox.limits import busiest_window
from mluv.worker import InProcessWorkers

pytestmark = [pytest.mark.integration, pytest.mark.e2e]

LEARNERS = 200
BASE_ID = 557_000_000
# Telegram: "no more than 30 messages per second", read as strictly as possible.
STRICT = LimitsConfig(global_per_second=30, global_window_seconds=1)
# The queue of 200 replies at 25/s drains in ~8 s; this only separates "all answered" from a hang.
ANSWERED_WITHIN = 120.0


@pytest.fixture
async def strict_sandbox(
    settings: Settings, clean_tables: None, redis: object
) -> AsyncIterator[SandboxClient]:
    config = SandboxConfig(auto_create_chats=False, limits=STRICT)
    async with run_sandbox(port=0, config=config) as sandbox_url, SandboxClient(sandbox_url) as sandbox:
        configured = settings.model_copy(update={"telegram_api_base": sandbox_url})
        resources = await Resources.create(configured)
        runner = BotRunner(create_dispatcher(resources), resources.bot, configured)
        workers = InProcessWorkers(resources)
        await workers.start()
        await runner.start()
        try:
            yield sandbox
        finally:
            await runner.stop()
            await workers.stop()
            await resources.close()


async def test_200_learners_starting_at_once_are_all_welcomed_without_a_429(
    strict_sandbox: SandboxClient,
) -> None:
    sandbox = strict_sandbox
    languages: dict[int, Literal["ru", "uk"]] = {BASE_ID + n: ("ru", "uk")[n % 2] for n in range(LEARNERS)}
    for learner, lang in languages.items():
        await sandbox.create_user(learner, f"Learner {learner}", language_code=lang)

    await asyncio.gather(*(sandbox.send_text(learner, "/start") for learner in languages))

    sent_at = []
    for learner, lang in languages.items():
        (welcome,) = await sandbox.messages(learner, wait_for=1, within=ANSWERED_WITHIN)
        assert welcome["text"] == onboarding_text(lang)
        assert welcome["sent_at"] is not None
        sent_at.append(welcome["sent_at"])
    counters = await sandbox.counters()
    assert (counters["sent"], counters["rate_limited_429"]) == (LEARNERS, 0)
    assert busiest_window(sent_at, 1.0) <= STRICT.global_window_limit
