"""Token buckets and the rate limiter, with an injected clock (pure, no server)."""

from __future__ import annotations

import pytest

from mluv.telegram.sandbox.config import LimitsConfig
from mluv.telegram.sandbox.limits import RateLimiter, TokenBucket, retry_after_seconds
from tests.telegram.sandbox.conftest import FakeClock


def test_bucket_allows_its_burst_then_refills_at_its_rate() -> None:
    bucket = TokenBucket.full(rate=2.0, burst=3.0, now=0.0)
    for _ in range(3):
        assert bucket.wait_time(0.0) == 0.0
        bucket.take(0.0)
    assert bucket.wait_time(0.0) == pytest.approx(0.5)
    assert bucket.wait_time(0.25) == pytest.approx(0.25)
    assert bucket.wait_time(0.5) == 0.0
    assert bucket.is_full(10.0)


@pytest.mark.parametrize(
    ("wait", "retry_after"),
    [(0.0001, 1), (0.5, 1), (1.0, 1), (1.0000000001, 1), (1.01, 2), (2.999, 3), (3.0, 3)],
)
def test_retry_after_is_whole_seconds_at_least_one(wait: float, retry_after: int) -> None:
    assert retry_after_seconds(wait) == retry_after


@pytest.mark.parametrize(
    ("limits", "chat_ids", "allowed", "retry_after"),
    [
        # about 1 message/s per private chat, burst 3
        (LimitsConfig(), [7] * 4, 3, 1),
        (LimitsConfig(private_per_second=0.5, private_burst=1), [7, 7], 1, 2),
        # 20 per minute per group, burst 5: the next slot frees in 3 s
        (LimitsConfig(), [-100] * 6, 5, 3),
        (LimitsConfig(group_per_minute=6, group_burst=2), [-100] * 3, 2, 10),
        # global 30/s with a burst of one second's worth
        (LimitsConfig(), list(range(1, 32)), 30, 1),
        (LimitsConfig(global_per_second=0.25, global_burst=2), [1, 2, 3], 2, 4),
    ],
    ids=["private", "private-slow", "group", "group-slow", "global", "global-slow"],
)
def test_each_limit_answers_with_the_seconds_until_a_slot_frees(
    limits: LimitsConfig, chat_ids: list[int], allowed: int, retry_after: int
) -> None:
    limiter = RateLimiter(limits, FakeClock())
    answers = [limiter.acquire(chat_id) for chat_id in chat_ids]
    assert answers[:allowed] == [0] * allowed
    assert answers[allowed:] == [retry_after] * (len(chat_ids) - allowed)


def test_a_slot_frees_after_retry_after() -> None:
    clock = FakeClock()
    limiter = RateLimiter(LimitsConfig(), clock)
    for _ in range(5):
        assert limiter.acquire(-100) == 0
    retry_after = limiter.acquire(-100)
    assert retry_after == 3
    clock.advance(2.9)
    assert limiter.acquire(-100) == 1
    clock.advance(0.1)
    assert limiter.acquire(-100) == 0


def test_a_refused_send_takes_no_token_from_any_bucket() -> None:
    clock = FakeClock()
    limiter = RateLimiter(LimitsConfig(global_per_second=1, global_burst=1), clock)
    assert limiter.acquire(1) == 0
    assert limiter.acquire(2) == 1  # the global bucket is empty; chat 2's bucket must stay full
    clock.advance(1.0)
    for _ in range(3):  # chat 2 still has its whole burst of 3, the global bucket refills each second
        assert limiter.acquire(2) == 0
        clock.advance(1.0)


def test_disabled_limits_let_everything_through() -> None:
    limiter = RateLimiter(LimitsConfig(enabled=False), FakeClock())
    assert all(limiter.acquire(7) == 0 for _ in range(1000))


def test_reconfigure_starts_with_full_buckets() -> None:
    clock = FakeClock()
    limiter = RateLimiter(LimitsConfig(), clock)
    for _ in range(3):
        limiter.acquire(7)
    assert limiter.acquire(7) == 1
    limiter.reconfigure(LimitsConfig(private_burst=10))
    assert [limiter.acquire(7) for _ in range(11)] == [0] * 10 + [1]


def test_idle_chats_are_pruned_without_changing_answers() -> None:
    clock = FakeClock()
    limiter = RateLimiter(LimitsConfig(global_per_second=1e9), clock)
    for chat_id in range(1, 10_001):
        assert limiter.acquire(chat_id) == 0
        clock.advance(0.001)
    # the 10,000th acquisition pruned every bucket that had refilled: only recent chats remain
    assert 0 < len(limiter._chats) < 10_000


@pytest.mark.parametrize(
    ("paid", "sends", "allowed"),
    [
        (False, 100, 30),  # without allow_paid_broadcast: Telegram's 30/s
        (True, 1000, 1000),  # with it: up to 1,000/s
        (True, 1001, 1000),
    ],
    ids=["free", "paid", "paid-over"],
)
def test_the_paid_limit_applies_only_to_sends_with_allow_paid_broadcast(
    paid: bool, sends: int, allowed: int
) -> None:
    limiter = RateLimiter(LimitsConfig(), FakeClock())
    answers = [limiter.acquire(chat_id, paid=paid) for chat_id in range(1, sends + 1)]
    assert answers.count(0) == allowed
    assert answers[:allowed] == [0] * allowed


def test_paid_sends_leave_the_free_limit_to_the_others_and_keep_the_chats_limit() -> None:
    limiter = RateLimiter(LimitsConfig(private_burst=1), FakeClock())
    assert all(limiter.acquire(chat_id, paid=True) == 0 for chat_id in range(1, 501))
    assert [limiter.acquire(chat_id) for chat_id in range(1001, 1031)] == [0] * 30
    assert limiter.acquire(1031) == 1  # the free bucket is spent by free sends only
    assert limiter.acquire(1, paid=True) == 1  # one message a second to one chat, paid or not
