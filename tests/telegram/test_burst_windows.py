"""A burst of replies to many chats, each chat several times, handlers' replies (PacedRequests) and job
sends (the Sender) together on one Redis limiter, against the sandbox's strict emulation of Telegram's
global limit (at most 30 sends in any one-second window): no 429, every reply arrives, and every window
over the recorded send times is checked exactly. Plus the departure check that keeps late senders in
the window (fakeredis, frozen clock)."""

from __future__ import annotations

import asyncio
from collections import defaultdict

import fakeredis
import pytest
from aiogram import Bot
from redis.asyncio import Redis
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from mluv.db.models import User
from mluv.telegram.pacing import PacedRequests
from mluv.telegram.ratelimit import Limits, RateLimiter, read_ratelimit_stats
from mluv.telegram.sandbox import SandboxClient
from mluv.telegram.sandbox.limits import busiest_window
from mluv.telegram.sender import Sender

CHATS = [830_000_001 + n for n in range(80)]
REPLIES_PER_CHAT = 3  # two handler replies and one job send to every chat
TELEGRAM_PER_WINDOW = 30
PER_CHAT_PER_WINDOW = 2  # booked 1 s apart: never all three of a chat's replies within one second


@pytest.mark.integration
async def test_a_burst_of_replies_to_many_chats_stays_under_the_limit_in_every_window(
    bot: Bot,
    control: SandboxClient,
    redis: Redis,
    session_factory: async_sessionmaker[AsyncSession],
    clean_tables: None,
) -> None:
    await control.set_limits(enabled=True, global_per_second=TELEGRAM_PER_WINDOW, global_window_seconds=1)
    async with session_factory.begin() as db:
        db.add_all(User(id=chat_id, first_name="Learner") for chat_id in CHATS)
    for chat_id in CHATS:
        await control.create_user(chat_id, f"Learner {chat_id}", language_code="uk")
    # The shipped limits (settings): 25/s to everyone, one message a second to a chat.
    limiter = RateLimiter(redis, Limits(global_per_second=25, per_chat_per_second=1))
    bot.session.middleware(PacedRequests(limiter))
    sender = Sender(bot, session_factory, limiter, request_timeout=10)

    async def replies_to(chat_id: int) -> None:
        await asyncio.gather(
            bot.send_message(chat_id, "reply 1"),
            sender.send_message(kind="burst", chat_id=chat_id, business_key="job", text="job send"),
            bot.send_message(chat_id, "reply 2"),
        )

    await asyncio.gather(*(replies_to(chat_id) for chat_id in CHATS))

    counters = await control.counters()
    assert (counters["sent"], counters["rate_limited_429"]) == (len(CHATS) * REPLIES_PER_CHAT, 0)
    every_send: list[float] = []
    per_chat: dict[int, list[float]] = defaultdict(list)
    for chat_id in CHATS:
        records = await control.messages(chat_id)
        assert sorted(record["text"] or "" for record in records) == ["job send", "reply 1", "reply 2"]
        for record in records:
            assert record["sent_at"] is not None
            per_chat[chat_id].append(record["sent_at"])
            every_send.append(record["sent_at"])
    # Every one-second window [t, t + 1) over the sandbox's own clock, computed exactly.
    assert busiest_window(every_send, 1.0) <= TELEGRAM_PER_WINDOW
    assert max(busiest_window(times, 1.0) for times in per_chat.values()) <= PER_CHAT_PER_WINDOW
    await limiter.flush()
    assert (await read_ratelimit_stats(redis))["telegram_429"] == 0


class FrozenClock:
    def __init__(self) -> None:
        self.now = 1_000.0

    def __call__(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.now += seconds


@pytest.mark.parametrize(
    ("late", "window_limit", "left_at_once", "rebooked"),
    [
        (0.0, 28, 1, 0),  # on time: every send leaves at its slot, 1/25 s apart
        (1.0, 28, 26, 0),  # a one-second stall: the 26 senders it held leave together (≤ 28)
        (2.0, 28, 28, 23),  # a two-second stall: 28 leave, 23 more take new slots past the window
        (2.0, 10, 10, 41),
    ],
    ids=["on-time", "stall-1s", "stall-2s", "small-window"],
)
async def test_senders_woken_late_never_fill_a_window_past_its_limit(
    late: float, window_limit: int, left_at_once: int, rebooked: int
) -> None:
    clock = FrozenClock()
    redis = fakeredis.FakeAsyncRedis()
    limits = Limits(global_per_second=25, per_chat_per_second=100, global_window_limit=window_limit)
    limiter = RateLimiter(redis, limits, clock=clock, sleep=clock.sleep)
    # Senders booked their slots (1/25 s apart from now); the event loop then stalled for `late` seconds.
    count = round(late * 25) + 1
    waits = [(await limiter.reserve(chat_id)).wait for chat_id in range(1, count + 1)]
    assert waits[-1] == pytest.approx(late)
    clock.now += late
    new_waits = [await limiter._leave(chat_id, True, None, 0.0) for chat_id in range(1, count + 1)]
    assert new_waits.count(0.0) == left_at_once
    assert len(new_waits) - new_waits.count(0.0) == rebooked
    # The rebooked ones leave after the window slides, never sooner.
    assert all(wait >= 1.0 - 1e-6 for wait in new_waits if wait)
    await redis.aclose()
