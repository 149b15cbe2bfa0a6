"""Fixtures: a sandbox served on a free port, the real aiogram Bot pointed at it, and the control client.

sandbox      the Sandbox object behind the server (state, limiter, counters), with a frozen clock
clock        FakeClock driving the sandbox's limits (advance it by hand)
sandbox_url  base URL of the running sandbox
bot          aiogram Bot with AiohttpSession(api=TelegramAPIServer.from_base(sandbox_url))
control      SandboxClient on the same server
learner      id of a learner created for the test (42, "Olga", uk)
"""

from __future__ import annotations

import asyncio
import itertools
import time
from collections.abc import AsyncIterator, Awaitable, Callable

import pytest
from aiogram import Bot
from aiogram.client.session.aiohttp import AiohttpSession
from aiogram.client.telegram import TelegramAPIServer

from mluv.resources import SANDBOX_BOT_TOKEN
from mluv.telegram.sandbox import Sandbox, SandboxClient, SandboxConfig, create_sandbox_app, run_sandbox

LEARNER_ID = 42


class FakeClock:
    """A monotonic clock that moves only when told to."""

    def __init__(self, start: float = 1000.0) -> None:
        self.now = start

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


class QuickSession(AiohttpSession):
    """aiogram's session without the 250 ms grace sleep on close (meant for TLS), to keep tests fast."""

    async def close(self) -> None:
        if self._session is not None and not self._session.closed:
            await self._session.close()


async def eventually(check: Callable[[], Awaitable[bool]], within: float = 5.0) -> None:
    """Poll `check` until it holds (for state that has no event to wait on), failing after `within` s."""
    deadline = time.monotonic() + within
    for _ in itertools.count():
        if await check():
            return
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met within {within} s")
        await asyncio.sleep(0.01)


def make_bot(url: str, *, token: str = SANDBOX_BOT_TOKEN, timeout: float = 10.0) -> Bot:
    return Bot(token, session=QuickSession(api=TelegramAPIServer.from_base(url), timeout=timeout))


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def config() -> SandboxConfig:
    return SandboxConfig(webhook_retry_seconds=0.05)


@pytest.fixture
def sandbox(config: SandboxConfig, clock: FakeClock) -> Sandbox:
    return Sandbox(config, clock=clock)


@pytest.fixture
async def sandbox_url(sandbox: Sandbox) -> AsyncIterator[str]:
    async with run_sandbox(port=0, app=create_sandbox_app(sandbox=sandbox)) as url:
        yield url


@pytest.fixture
async def bot(sandbox_url: str) -> AsyncIterator[Bot]:
    bot = make_bot(sandbox_url)
    yield bot
    await bot.session.close()


@pytest.fixture
async def control(sandbox_url: str) -> AsyncIterator[SandboxClient]:
    async with SandboxClient(sandbox_url) as client:
        yield client


@pytest.fixture
async def learner(control: SandboxClient) -> int:
    await control.create_user(LEARNER_ID, "Olga", username="olga", language_code="uk")
    return LEARNER_ID
