"""Strict mode: the global limit as a sliding window ("at most N sends in any window of W seconds"),
pure with an injected clock, then over the wire (control API, CLI, the recorded send time)."""

from __future__ import annotations

import pytest
from aiogram import Bot
from aiogram.exceptions import TelegramRetryAfter

from mluv.telegram.sandbox import LimitsConfig, Sandbox, SandboxClient
from mluv.telegram.sandbox.limits import RateLimiter, SlidingWindow, busiest_window
from mluv.telegram.sandbox.runner import build_parser, config_from_args
from tests.telegram.sandbox.conftest import FakeClock

STRICT = LimitsConfig(global_per_second=30, global_window_seconds=1)


def strict_limiter(clock: FakeClock, limits: LimitsConfig = STRICT) -> RateLimiter:
    return RateLimiter(limits, clock)


@pytest.mark.parametrize(
    ("limits", "window_limit"),
    [
        (STRICT, 30),
        (LimitsConfig(global_per_second=25, global_window_seconds=2), 50),
        (LimitsConfig(global_per_second=0.5, global_window_seconds=1), 1),
        (LimitsConfig(global_per_second=30), 30),  # the token bucket's rate, were it a window
    ],
    ids=["30-per-1s", "25-per-2s", "slow", "bucket"],
)
def test_the_window_allows_the_rate_times_the_window(limits: LimitsConfig, window_limit: int) -> None:
    assert limits.global_window_limit == window_limit


@pytest.mark.parametrize(
    ("spacing", "retry_after"),
    [
        (0.0, 1),  # 30 at once: the oldest leaves the window a whole second later
        (0.01, 1),  # 30 over 0.29 s: the oldest leaves 0.71 s after the 31st
        (0.033, 1),  # 30 over 0.957 s: 0.043 s left, still a whole second
    ],
    ids=["at-once", "spread", "almost-a-second"],
)
def test_30_in_a_window_pass_the_31st_is_429_until_the_oldest_leaves(
    spacing: float, retry_after: int
) -> None:
    clock = FakeClock()
    limiter = strict_limiter(clock)
    start = clock.now
    for chat_id in range(1, 31):
        assert limiter.acquire(chat_id) == 0
        clock.advance(spacing)
    clock.now = start + 29 * spacing  # the 31st comes with the 30th
    assert limiter.acquire(31) == retry_after
    clock.now = start + 1.0 - 1e-6  # the oldest is still inside [now - 1, now]
    assert limiter.acquire(31) == 1
    clock.now = start + 1.0  # the window slid past the oldest send: exactly one place is free
    assert limiter.acquire(31) == 0
    assert limiter.acquire(32) == (1 if spacing else 0)  # at once, all 30 left together


def test_no_refill_lets_a_second_window_in_one_second() -> None:
    """A full bucket of 30 plus a second's refill lets ~60 through in one second; the window lets 30."""
    for limits, passed in ((LimitsConfig(global_per_second=30), 59), (STRICT, 30)):
        clock = FakeClock()
        limiter = strict_limiter(clock, limits)
        answers = []
        for chat_id in range(1, 121):  # one send every 1/120 s for one second
            answers.append(limiter.acquire(chat_id))
            clock.advance(1 / 120)
        assert answers.count(0) == pytest.approx(passed, abs=1)


@pytest.mark.parametrize(
    ("sent", "now", "wait"),
    [
        ([], 0.0, 0.0),
        ([0.0, 0.5], 0.9, 0.1),  # full (limit 2): the oldest leaves at 1.0
        ([0.0, 0.5], 1.0, 0.0),  # it has left
        ([0.2, 0.5], 1.1, 0.1),
    ],
)
def test_the_window_waits_for_its_oldest_send(sent: list[float], now: float, wait: float) -> None:
    window = SlidingWindow.empty(2, 1.0)
    window.sent.extend(sent)
    assert window.wait_time(now) == pytest.approx(wait)


def test_per_chat_limits_are_unchanged_in_strict_mode() -> None:
    limiter = strict_limiter(FakeClock())
    assert [limiter.acquire(7) for _ in range(4)] == [0, 0, 0, 1]  # ~1/s per chat, burst 3


def test_a_refused_send_takes_no_place_in_the_window() -> None:
    clock = FakeClock()
    limiter = strict_limiter(clock, LimitsConfig(global_per_second=2, global_window_seconds=1))
    assert [limiter.acquire(chat_id) for chat_id in (1, 2, 3, 3)] == [0, 0, 1, 1]
    clock.advance(1.0)
    assert [limiter.acquire(chat_id) for chat_id in (3, 4, 5)] == [0, 0, 1]


@pytest.mark.parametrize(
    ("times", "busiest"),
    [
        ([], 0),
        ([0.0], 1),
        ([0.0, 0.999, 1.0], 2),  # [t, t + 1): 0.0 and 1.0 never share a window
        ([0.0, 0.5, 0.9, 1.4, 1.45], 4),
        ([3.0, 1.0, 2.0, 1.5], 2),  # unsorted input
    ],
)
def test_busiest_window_counts_sends_in_any_window(times: list[float], busiest: int) -> None:
    assert busiest_window(times, 1.0) == busiest


async def test_strict_mode_over_the_wire_answers_the_31st_429_and_records_send_times(
    bot: Bot, control: SandboxClient, sandbox: Sandbox, clock: FakeClock
) -> None:
    assert (await control.set_limits(global_window_seconds=1))["global_window_seconds"] == 1
    await control.create_users(31, base_id=1000)
    for chat_id in range(1000, 1030):
        await bot.send_message(chat_id, "Ahoj")
        clock.advance(0.01)
    with pytest.raises(TelegramRetryAfter) as raised:
        await bot.send_message(1030, "Ahoj")
    assert raised.value.retry_after == 1
    clock.advance(0.71)  # now 1001.01: the first send, at 1000.0, has left the window
    await bot.send_message(1030, "Ahoj")
    sent_at = [(await control.messages(chat_id))[0]["sent_at"] for chat_id in range(1000, 1031)]
    assert sent_at[0] == 1000.0 and sent_at[-1] == pytest.approx(1001.01)
    assert busiest_window([at for at in sent_at if at is not None]) == 30
    counters = await control.counters()
    assert (counters["sent"], counters["rate_limited_429"]) == (31, 1)


def test_the_command_line_turns_strict_mode_on() -> None:
    strict = config_from_args(
        build_parser().parse_args(["--global-per-second", "30", "--global-window-seconds", "1"])
    )
    assert (strict.limits.global_window_seconds, strict.limits.global_window_limit) == (1.0, 30)
    assert config_from_args(build_parser().parse_args([])).limits.global_window_seconds is None
