"""Token buckets (and, in strict mode, a sliding window) for Telegram's send limits: pure, driven by an
injectable monotonic clock."""

from __future__ import annotations

import math
import time
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from mluv.telegram.sandbox.config import LimitsConfig

Clock = Callable[[], float]

# A tiny tolerance so that float drift never turns "exactly 1 s" into retry_after=2.
_EPSILON = 1e-9
# Buckets of idle chats are dropped now and then so a long benchmark does not keep one per chat forever.
_PRUNE_EVERY = 10_000


@dataclass(slots=True)
class TokenBucket:
    """`rate` tokens per second, at most `burst` stored; one token per message."""

    rate: float
    burst: float
    tokens: float
    updated: float

    @classmethod
    def full(cls, rate: float, burst: float, now: float) -> TokenBucket:
        return cls(rate=rate, burst=burst, tokens=burst, updated=now)

    def _refill(self, now: float) -> None:
        if now > self.updated:
            self.tokens = min(self.burst, self.tokens + (now - self.updated) * self.rate)
            self.updated = now

    def wait_time(self, now: float) -> float:
        """Seconds until one token is available (0 when one is available now); takes nothing."""
        self._refill(now)
        if self.tokens >= 1.0 - _EPSILON:
            return 0.0
        return (1.0 - self.tokens) / self.rate

    def take(self, now: float) -> None:
        self._refill(now)
        self.tokens -= 1.0

    def is_full(self, now: float) -> bool:
        self._refill(now)
        return self.tokens >= self.burst - _EPSILON


@dataclass(slots=True)
class SlidingWindow:
    """At most `limit` sends in any window of `seconds`: the times of the sends still inside it."""

    limit: int
    seconds: float
    sent: deque[float]

    @classmethod
    def empty(cls, limit: int, seconds: float) -> SlidingWindow:
        return cls(limit=limit, seconds=seconds, sent=deque())

    def _slide(self, now: float) -> None:
        # A send at s shares a window [t, t + seconds) with one at now only if s > now - seconds.
        while self.sent and self.sent[0] <= now - self.seconds:
            self.sent.popleft()

    def wait_time(self, now: float) -> float:
        """Seconds until the oldest send in the window leaves it (0 when a send may go now)."""
        self._slide(now)
        if len(self.sent) < self.limit:
            return 0.0
        return self.sent[len(self.sent) - self.limit] + self.seconds - now

    def take(self, now: float) -> None:
        self.sent.append(now)


def busiest_window(times: Iterable[float], seconds: float = 1.0) -> int:
    """The most sends in any window [t, t + seconds) over these send times (how strict mode counts)."""
    ordered = sorted(times)
    busiest = start = 0
    for end, at in enumerate(ordered):
        while ordered[start] <= at - seconds:
            start += 1
        busiest = max(busiest, end - start + 1)
    return busiest


def retry_after_seconds(wait: float) -> int:
    """Telegram's retry_after is a whole number of seconds, at least 1."""
    return max(1, math.ceil(wait - _EPSILON))


class RateLimiter:
    """The global bucket (or window, in strict mode) plus one bucket per chat (private: per second,
    group: per minute)."""

    def __init__(self, config: LimitsConfig, clock: Clock = time.monotonic) -> None:
        self._clock = clock
        self._config = config
        self._global = self._global_limit(clock())
        self._paid = self._paid_limit(clock())
        self._chats: dict[int, TokenBucket] = {}
        self._acquired = 0

    @property
    def config(self) -> LimitsConfig:
        return self._config

    def now(self) -> float:
        """The limits' clock: what acquire(chat_id, at) compares with."""
        return self._clock()

    def _global_limit(self, now: float) -> TokenBucket | SlidingWindow:
        config = self._config
        if config.global_window_seconds is not None:
            return SlidingWindow.empty(config.global_window_limit, config.global_window_seconds)
        return TokenBucket.full(config.global_per_second, config.effective_global_burst, now)

    def _paid_limit(self, now: float) -> TokenBucket:
        # allow_paid_broadcast: "up to 1000 messages per second", so a second's worth of burst.
        return TokenBucket.full(self._config.paid_per_second, self._config.paid_per_second, now)

    def reconfigure(self, config: LimitsConfig) -> None:
        """New limits start with full buckets, as after a quiet period."""
        self._config = config
        self.reset()

    def reset(self) -> None:
        self._global = self._global_limit(self._clock())
        self._paid = self._paid_limit(self._clock())
        self._chats.clear()

    def _chat_bucket(self, chat_id: int, now: float) -> TokenBucket:
        bucket = self._chats.get(chat_id)
        if bucket is None:
            # Negative ids are groups and channels, like Telegram's chat ids.
            if chat_id < 0:
                rate, burst = self._config.group_per_minute / 60.0, self._config.group_burst
            else:
                rate, burst = self._config.private_per_second, self._config.private_burst
            bucket = self._chats[chat_id] = TokenBucket.full(rate, burst, now)
        return bucket

    def acquire(self, chat_id: int, at: float | None = None, *, paid: bool = False) -> int:
        """0 when the send may go now (tokens taken), else retry_after in seconds (nothing taken); `at`
        is the limits' clock reading the caller records with the send (default: now). A `paid` send
        (allow_paid_broadcast) takes from the paid bucket instead of the global one; its chat's applies."""
        if not self._config.enabled:
            return 0
        now = self._clock() if at is None else at
        chat = self._chat_bucket(chat_id, now)
        overall = self._paid if paid else self._global
        wait = max(chat.wait_time(now), overall.wait_time(now))
        if wait > 0:
            return retry_after_seconds(wait)
        chat.take(now)
        overall.take(now)
        self._acquired += 1
        if self._acquired % _PRUNE_EVERY == 0:
            self._prune(now)
        return 0

    def _prune(self, now: float) -> None:
        for chat_id in [chat_id for chat_id, bucket in self._chats.items() if bucket.is_full(now)]:
            del self._chats[chat_id]
