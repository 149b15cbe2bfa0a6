"""Fixtures of the Sender's tests (test_sender, test_ledger, test_reconcile, test_pacing): the Bot API
sandbox with eight learners, a recording bot, a fast limiter, and a Sender on real PostgreSQL and Redis.
The sandbox's own tests (tests/telegram/sandbox) have their own fixtures of the same names."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from aiogram import Bot
from aiogram.client.telegram import TelegramAPIServer
from redis.asyncio import Redis
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from mluv.db.models import User
from mluv.resources import SANDBOX_BOT_TOKEN
from mluv.telegram.ratelimit import Limits, RateLimiter
from mluv.telegram.sandbox import SandboxClient, SandboxConfig, run_sandbox
from mluv.telegram.sender import Sender
from tests.telegram.sender_harness import LEARNERS, RecordingSession


@pytest.fixture
async def sandbox_url() -> AsyncIterator[str]:
    async with run_sandbox(port=0, config=SandboxConfig()) as url:
        yield url


@pytest.fixture
async def control(sandbox_url: str) -> AsyncIterator[SandboxClient]:
    async with SandboxClient(sandbox_url) as client:
        await client.set_limits(enabled=False)  # our limiter is under test; the 429 test injects them
        for user_id in LEARNERS:
            await client.create_user(user_id, f"Learner {user_id}", language_code="ru")
        yield client


@pytest.fixture
async def session(sandbox_url: str) -> AsyncIterator[RecordingSession]:
    recording = RecordingSession(api=TelegramAPIServer.from_base(sandbox_url), timeout=10)
    yield recording
    await recording.close()


@pytest.fixture
def bot(session: RecordingSession) -> Bot:
    return Bot(SANDBOX_BOT_TOKEN, session=session)


@pytest.fixture
def limiter(redis: Redis) -> RateLimiter:
    return RateLimiter(redis, Limits(global_per_second=200, per_chat_per_second=50))


@pytest.fixture
async def sender(
    bot: Bot,
    session_factory: async_sessionmaker[AsyncSession],
    limiter: RateLimiter,
    clean_tables: None,
    control: SandboxClient,
) -> Sender:
    async with session_factory.begin() as db:
        db.add_all(User(id=user_id, first_name="Learner") for user_id in LEARNERS)
    return Sender(bot, session_factory, limiter, request_timeout=5)
