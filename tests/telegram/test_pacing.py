"""Handlers' direct replies share the Sender's schedule (mluv.telegram.pacing.PacedRequests)."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
from typing import Any

import pytest
from aiogram import Bot
from aiogram.exceptions import TelegramBadRequest, TelegramRetryAfter
from redis.asyncio import Redis

from mluv.telegram.pacing import PacedRequests, paced
from mluv.telegram.ratelimit import Limits, RateLimiter
from mluv.telegram.sandbox import SandboxClient
from mluv.telegram.sender import Sender
from tests.telegram.sender_harness import OLGA, RecordingSession, received


async def test_direct_replies_share_the_senders_schedule(
    sender: Sender, bot: Bot, session: RecordingSession, redis: Redis, control: SandboxClient
) -> None:
    sender.limiter = RateLimiter(redis, Limits(global_per_second=200, per_chat_per_second=10))
    bot.session.middleware(PacedRequests(sender.limiter))
    # A handler's replies and a worker's send to one chat, at once: one schedule, 1/10 s apart.
    await asyncio.gather(
        *(bot.send_message(OLGA, f"reply {n}") for n in range(3)),
        sender.send_message(kind="k", chat_id=OLGA, business_key="feedback", text="feedback"),
    )
    starts = sorted(c.started for c in session.calls if c.method == "sendMessage")
    assert len(starts) == 4
    assert all(later - earlier >= 0.1 - 0.03 for earlier, later in itertools.pairwise(starts))
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
