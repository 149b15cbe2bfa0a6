"""The shared rate limiter: GCRA schedules in Redis (fakeredis with Lua for the tables, with an injected
clock; real Redis for the shared-clock behaviour and two clients sharing one schedule)."""

from __future__ import annotations

import asyncio
import contextlib
import math
import time
from collections.abc import AsyncIterator
from typing import Any

import fakeredis
import pytest
from redis.asyncio import Redis

from mluv.jobs import RetryPolicy
from mluv.telegram.ratelimit import Limits, RateLimited, RateLimiter, Reservation, read_ratelimit_stats


class FakeClock:
    """Seconds that move only when a (fake) sleep or the test moves them."""

    def __init__(self, start: float = 10_000.0) -> None:
        self.now = start
        self.slept: list[float] = []

    def __call__(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.slept.append(round(seconds, 6))
        self.now += seconds


@pytest.fixture
async def fake_redis() -> AsyncIterator[fakeredis.FakeAsyncRedis]:
    client = fakeredis.FakeAsyncRedis()
    yield client
    await client.aclose()


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


def limiter_on(redis: Redis, clock: FakeClock, **limits: float) -> RateLimiter:
    return RateLimiter(redis, Limits(**limits), clock=clock, sleep=clock.sleep)  # type: ignore[arg-type]


async def test_global_limit_spaces_sends_to_different_chats(fake_redis: Redis, clock: FakeClock) -> None:
    limiter = limiter_on(fake_redis, clock, global_per_second=25)
    # Booked at one instant, the slots follow each other 1/25 s apart.
    waits = [(await limiter.reserve(chat)).wait for chat in range(1, 8)]
    assert waits == pytest.approx([0.0, 0.04, 0.08, 0.12, 0.16, 0.20, 0.24])


@pytest.mark.parametrize(
    ("chat_id", "limits", "expected"),
    [
        (42, {"per_chat_per_second": 1.0}, [0.0, 1.0, 1.0, 1.0]),
        (42, {"per_chat_per_second": 2.0}, [0.0, 0.5, 0.5, 0.5]),
        (-100123, {"group_per_minute": 20}, [0.0, 3.0, 3.0, 3.0]),
        (-100123, {"group_per_minute": 30}, [0.0, 2.0, 2.0, 2.0]),
    ],
)
async def test_per_chat_and_group_limits(
    fake_redis: Redis, clock: FakeClock, chat_id: int, limits: dict[str, float], expected: list[float]
) -> None:
    limiter = limiter_on(fake_redis, clock, global_per_second=1000, **limits)
    waited = [await limiter.acquire(chat_id) for _ in expected]
    assert waited == pytest.approx(expected)


async def test_bursts_pass_at_once_then_space_out(fake_redis: Redis, clock: FakeClock) -> None:
    limiter = RateLimiter(
        fake_redis,
        Limits(global_per_second=10, global_burst=4),
        clock=clock,
        sleep=clock.sleep,
    )
    waits = [(await limiter.reserve(chat)).wait for chat in range(1, 8)]
    assert waits == pytest.approx([0.0, 0.0, 0.0, 0.0, 0.1, 0.2, 0.3])


async def test_a_waiting_chat_does_not_block_the_global_schedule(fake_redis: Redis, clock: FakeClock) -> None:
    limiter = limiter_on(fake_redis, clock, global_per_second=10, group_per_minute=20)
    assert await limiter.reserve(-1) == Reservation(True, 0.0)
    # The group's next turn is 3 s away: nothing is booked, so other chats keep the global slots.
    assert await limiter.reserve(-1) == Reservation(False, pytest.approx(3.0))  # type: ignore[arg-type]
    assert (await limiter.reserve(7)).wait == pytest.approx(0.1)
    assert (await limiter.reserve(8)).wait == pytest.approx(0.2)


async def test_two_sends_to_one_chat_stay_apart_behind_a_global_backlog(
    fake_redis: Redis, clock: FakeClock
) -> None:
    limiter = limiter_on(fake_redis, clock, global_per_second=2, per_chat_per_second=1)
    for chat in range(100, 110):  # a 5-second global backlog
        await limiter.reserve(chat)
    first = await limiter.reserve(42)
    assert first == Reservation(True, pytest.approx(5.0))  # type: ignore[arg-type]
    # The chat's schedule moved past the slot actually booked: the next send to it is 1 s after that.
    second = await limiter.reserve(42)
    assert second == Reservation(False, pytest.approx(6.0))  # type: ignore[arg-type]


async def test_penalties_global_and_per_chat(fake_redis: Redis, clock: FakeClock) -> None:
    limiter = limiter_on(fake_redis, clock, global_per_second=100, per_chat_per_second=100)
    await limiter.penalize(2.0, 42)
    assert await limiter.penalty_left(42) == pytest.approx(2.0)
    assert await limiter.acquire(7) == 0.0  # other chats are not held back by a chat's penalty
    assert await limiter.acquire(42) == pytest.approx(2.0)
    await limiter.penalize(5.0)  # global: everyone waits
    assert await limiter.acquire(8) == pytest.approx(5.0)
    await limiter.penalize(1.0, 9, everyone=True)
    assert await limiter.penalty_left(None) == pytest.approx(1.0)
    assert await limiter.acquire(10) == pytest.approx(1.0)
    await limiter.flush()
    stats = await read_ratelimit_stats(fake_redis)
    assert stats["telegram_429"] == 3 and stats["penalty_seconds"] == pytest.approx(8.0)


async def test_a_penalty_that_arrives_during_the_wait_pushes_the_booked_slot(
    fake_redis: Redis, clock: FakeClock
) -> None:
    limiter = limiter_on(fake_redis, clock, global_per_second=1, per_chat_per_second=100)
    await limiter.acquire(1)  # the next global slot is 1 s away

    async def sleep_then_429(seconds: float) -> None:
        await clock.sleep(seconds)
        if len(clock.slept) == 1:
            clock.now -= 0.5  # the 429 lands half-way through our wait
            await limiter.penalize(3.0)
            clock.now += 0.5

    limiter._sleep = sleep_then_429
    waited = await limiter.acquire(2)
    # Booked at +1 s; a 429 at +0.5 s (retry_after 3) means nobody sends before +3.5 s: rebooked past it.
    assert waited == pytest.approx(3.5)
    await limiter.flush()
    assert (await read_ratelimit_stats(fake_redis))["rebooked"] == 1


async def test_departure_sits_out_a_penalty_that_came_after_the_turn(
    fake_redis: Redis, clock: FakeClock
) -> None:
    limiter = limiter_on(fake_redis, clock, global_per_second=10)
    assert await limiter.wait_turn(1) == 0.0
    assert await limiter.depart(1) == 0.0  # the usual case: one round trip, no wait
    assert await limiter.wait_turn(2) == pytest.approx(0.1)
    await limiter.penalize(2.0, 2)  # a 429 between the turn and the request (the Sender's claim)
    assert await limiter.depart(2, waited=0.1) == pytest.approx(2.1)
    assert await limiter.wait_turn(3) == pytest.approx(0.1)  # behind the rebooked send
    await limiter.penalize(30.0)
    with pytest.raises(RateLimited):
        await limiter.depart(3, max_wait=5.0)
    await limiter.flush()
    stats = await read_ratelimit_stats(fake_redis)
    assert (stats["acquired"], stats["rebooked"], stats["refused"]) == (2, 1, 1)


async def test_a_wait_longer_than_max_wait_is_refused_without_booking(
    fake_redis: Redis, clock: FakeClock
) -> None:
    limiter = limiter_on(fake_redis, clock, global_per_second=10)
    await limiter.penalize(30.0)
    with pytest.raises(RateLimited) as raised:
        await limiter.acquire(5, max_wait=10.0)
    assert raised.value.retry_after == pytest.approx(30.0)
    assert clock.slept == []
    # The job's retry policy defers by exactly retry_after, as for Telegram's own 429.
    decision = RetryPolicy(max_tries=5).decide(raised.value, 1)
    assert decision.retry and decision.defer == pytest.approx(30.0)
    # Nothing was booked: after the penalty the first slot is still free.
    clock.now += 30.0
    assert await limiter.acquire(5, max_wait=10.0) == 0.0


async def test_metrics_are_aggregated_and_flushed_as_counters(fake_redis: Redis, clock: FakeClock) -> None:
    limiter = limiter_on(fake_redis, clock, global_per_second=10)
    limiter.metrics_interval = 3600  # only explicit flushes
    for chat in range(5):
        await limiter.acquire(chat)
    assert await fake_redis.get("mluv:metrics:ratelimit:acquired") is None  # nothing written per send
    await limiter.flush()
    stats = await read_ratelimit_stats(fake_redis)
    assert stats["acquired"] == 5 and stats["waits"] == 4
    assert stats["wait_seconds"] == pytest.approx(0.4)
    assert stats["mean_wait_seconds"] == pytest.approx(0.08)


async def test_paid_sends_have_their_own_global_schedule(fake_redis: Redis, clock: FakeClock) -> None:
    limiter = limiter_on(fake_redis, clock, global_per_second=25, paid_per_second=500)
    free = [(await limiter.reserve(chat)).wait for chat in range(1, 4)]
    paid = [(await limiter.reserve(chat, paid=True)).wait for chat in range(11, 14)]
    # A paid broadcast's backlog is not in the way of free sends (replies), nor the other way round.
    assert free == pytest.approx([0.0, 0.04, 0.08])
    assert paid == pytest.approx([0.0, 0.002, 0.004])
    assert (await limiter.reserve(4)).wait == pytest.approx(0.12)
    # A chat's limit holds whichever schedule its sends are on.
    assert (await limiter.reserve(1, paid=True)).wait == pytest.approx(1.0)


@pytest.mark.parametrize(
    ("free", "paid", "paid_window"),
    [
        (25, 500, 969),  # 1,000 less the free lane's 28 and the margin of 3
        (25, 975, 978),  # the highest paid rate the settings allow: its own rate + 3
        (10, 100, 984),
    ],
)
def test_the_paid_window_is_what_telegram_leaves_beside_the_free_lane(
    free: float, paid: float, paid_window: int
) -> None:
    limits = Limits(global_per_second=free, paid_per_second=paid)
    assert limits.lane_window_limit(paid=False) == limits.window_limit == math.floor(free) + 3
    assert limits.lane_window_limit(paid=True) == paid_window


async def test_paid_sends_need_a_paid_rate(fake_redis: Redis, clock: FakeClock) -> None:
    limiter = limiter_on(fake_redis, clock, global_per_second=25)
    with pytest.raises(ValueError, match="paid broadcasts are off"):
        await limiter.acquire(1, paid=True)


def test_limits_are_validated() -> None:
    with pytest.raises(ValueError, match="positive"):
        Limits(global_per_second=0)
    with pytest.raises(ValueError, match="at least 1"):
        Limits(chat_burst=0)
    with pytest.raises(ValueError, match="paid rate"):
        Limits(paid_per_second=-1)


# --- real Redis: the shared clock and two clients on one schedule -------------------------------------------


# Redis's TIME and the local monotonic clock agree to well under a millisecond over a test's length.
CLOCK_SLACK = 0.002


@pytest.mark.integration
async def test_redis_clock_paces_one_chat(redis: Redis) -> None:
    limiter = RateLimiter(redis, Limits(global_per_second=100, per_chat_per_second=10))
    started = time.monotonic()
    waits = [await limiter.acquire(77) for _ in range(4)]
    elapsed = time.monotonic() - started
    # Lower bounds only: a loaded machine can wake a sleeper late, never early (no timed upper bounds).
    assert waits[0] == 0.0
    assert all(0.0 < wait <= 0.1 for wait in waits[1:]), waits
    assert elapsed >= 3 * 0.1 - CLOCK_SLACK


@contextlib.asynccontextmanager
async def two_clients(
    redis: Redis, redis_url: str, rate: float, **options: Any
) -> AsyncIterator[list[RateLimiter]]:
    """Two limiters on two connections to one Redis, as two worker processes would hold them."""
    other = Redis.from_url(redis_url)
    try:
        limits = Limits(global_per_second=rate, per_chat_per_second=100)
        yield [RateLimiter(client, limits, **options) for client in (redis, other)]
    finally:
        await other.aclose()


@pytest.mark.integration
async def test_two_clients_book_one_schedule_atomically(redis: Redis, redis_url: str) -> None:
    rate = 40.0
    # One frozen instant, so every slot is exactly its wait: the schedule itself, free of timer jitter.
    async with two_clients(redis, redis_url, rate, clock=lambda: 500.0) as limiters:
        reservations = await asyncio.gather(*(limiters[i % 2].reserve(1000 + i) for i in range(60)))
    assert all(reservation.booked for reservation in reservations)
    assert sorted(round(r.wait * rate) for r in reservations) == list(range(60))


@pytest.mark.integration
async def test_two_clients_sharing_redis_never_exceed_the_rate_together(redis: Redis, redis_url: str) -> None:
    rate = 40.0
    grants: list[float] = []

    async def send(limiter: RateLimiter, chat: int) -> None:
        await limiter.acquire(chat)
        grants.append(time.monotonic())

    async with two_clients(redis, redis_url, rate) as limiters:
        started = time.monotonic()
        await asyncio.gather(*(send(limiters[i % 2], 1000 + i) for i in range(60)))
    grants.sort()
    # The n-th grant cannot come before the n-th slot of one shared schedule; two unshared schedules would
    # let the 59th grant through after about 30 intervals. (A late wake-up only ever moves grants later.)
    for n, granted in enumerate(grants):
        assert granted - started >= n / rate - CLOCK_SLACK, (n, granted - started)
