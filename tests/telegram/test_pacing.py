"""Handlers' direct replies share the Sender's schedule (mluv.telegram.pacing.PacedRequests)."""

from __future__ import annotations

import asyncio
import contextlib
import time
from typing import Any

import pytest
from aiogram import Bot
from aiogram.exceptions import TelegramBadRequest, TelegramRetryAfter
from redis.asyncio import Redis

from mluv.telegram.pacing import PacedRequests, paced
from mluv.telegram.ratelimit import Limits, RateLimiter, read_ratelimit_stats
from mluv.telegram.sandbox import SandboxClient
from mluv.telegram.sender import Sender
from tests.telegram.sender_harness import OLGA, RecordingSession, received


async def test_direct_replies_share_the_senders_schedule(
    sender: Sender, bot: Bot, session: RecordingSession, redis: Redis, control: SandboxClient
) -> None:
    sender.limiter = RateLimiter(redis, Limits(global_per_second=200, per_chat_per_second=10))
    bot.session.middleware(PacedRequests(sender.limiter))
    # A handler's replies and a worker's send to one chat, at once: one schedule, 1/10 s apart.
    began = time.monotonic()
    await asyncio.gather(
        *(bot.send_message(OLGA, f"reply {n}") for n in range(3)),
        sender.send_message(kind="k", chat_id=OLGA, business_key="feedback", text="feedback"),
    )
    starts = sorted(c.started for c in session.calls if c.method == "sendMessage")
    assert len(starts) == 4
    # Lower bounds only (decision 28): a late wake-up moves a send later, never earlier, so the n-th send
    # starts no earlier than n intervals after the burst began; two unshared schedules would break it.
    assert all(start - began >= n * 0.1 - 0.03 for n, start in enumerate(starts))
    assert sorted(await received(control, OLGA)) == ["feedback", "reply 0", "reply 1", "reply 2"]


@pytest.mark.parametrize(
    ("call", "paced_by_middleware"),
    [
        (lambda bot: bot.send_message(OLGA, "x"), True),
        (lambda bot: bot.edit_message_text(text="y", chat_id=OLGA, message_id=1), True),
        (lambda bot: bot.send_chat_action(OLGA, "typing"), False),
        (lambda bot: bot.get_me(), False),
    ],
    ids=["send", "edit", "chat-action", "get-me"],
)
async def test_a_long_penalty_turns_a_direct_reply_into_a_429(
    bot: Bot, limiter: RateLimiter, control: SandboxClient, call: Any, paced_by_middleware: bool
) -> None:
    bot.session.middleware(PacedRequests(limiter, max_wait=0.5))
    await limiter.penalize(30, OLGA, everyone=True)
    if paced_by_middleware:
        with pytest.raises(TelegramRetryAfter) as raised:
            await call(bot)
        assert raised.value.retry_after == 30
        assert await received(control, OLGA) == []
    else:
        with contextlib.suppress(TelegramBadRequest):
            await call(bot)
    with paced():  # the Sender's own requests are never held twice
        await bot.send_message(OLGA, "paced by the Sender")
    assert await received(control, OLGA) == ["paced by the Sender"]


async def test_a_reply_answered_429_once_is_sent_again_after_retry_after(
    bot: Bot, limiter: RateLimiter, session: RecordingSession, control: SandboxClient, redis: Redis
) -> None:
    bot.session.middleware(PacedRequests(limiter))
    # Telegram's one message a second per chat, strictly: the Sender's message leaves no room for a reply.
    await control.set_limits(enabled=True, private_per_second=1, private_burst=1)
    with paced():
        await bot.send_message(OLGA, "the Sender's message")
    await bot.send_message(OLGA, "a handler's reply")
    sends = [c for c in session.calls if c.method == "sendMessage"]
    assert [(c.outcome, c.retry_after) for c in sends] == [
        ("ok", None),
        ("TelegramRetryAfter", 1),
        ("ok", None),
    ]
    assert sends[2].started - sends[1].ended >= 1.0 - 0.02  # not before retry_after has passed
    await limiter.flush()
    assert (await read_ratelimit_stats(redis))["telegram_429"] == 1  # the limiter was told, as by the Sender
    assert await received(control, OLGA) == ["the Sender's message", "a handler's reply"]


@pytest.mark.parametrize(
    ("retry_after", "tries"),
    [(1, 3), (120, 1)],
    ids=["three-429s", "retry-after-over-the-budget"],
)
async def test_a_reply_still_answered_429_gives_up(
    bot: Bot,
    limiter: RateLimiter,
    session: RecordingSession,
    control: SandboxClient,
    redis: Redis,
    retry_after: int,
    tries: int,
) -> None:
    bot.session.middleware(PacedRequests(limiter))
    await control.set_faults(rate_limit_rate=1, rate_limit_retry_after=retry_after)
    with pytest.raises(TelegramRetryAfter) as raised:
        await bot.send_message(OLGA, "never delivered")
    assert raised.value.retry_after == retry_after
    sends = [c for c in session.calls if c.method == "sendMessage"]
    assert [c.outcome for c in sends] == ["TelegramRetryAfter"] * tries
    await limiter.flush()
    assert (await read_ratelimit_stats(redis))["telegram_429"] == tries
    assert await received(control, OLGA) == []
