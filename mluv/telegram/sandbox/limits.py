"""Token buckets for Telegram's send limits: pure, driven by an injectable monotonic clock."""

from __future__ import annotations

import math
import time
from collections.abc import Callable
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


def retry_after_seconds(wait: float) -> int:
    """Telegram's retry_after is a whole number of seconds, at least 1."""
    return max(1, math.ceil(wait - _EPSILON))


class RateLimiter:
    """The global bucket plus one bucket per chat (private: per second, group: per minute)."""

    def __init__(self, config: LimitsConfig, clock: Clock = time.monotonic) -> None:
        self._clock = clock
        self._config = config
        self._global = TokenBucket.full(config.global_per_second, config.effective_global_burst, clock())
        self._chats: dict[int, TokenBucket] = {}
        self._acquired = 0

    @property
    def config(self) -> LimitsConfig:
        return self._config

    def reconfigure(self, config: LimitsConfig) -> None:
        """New limits start with full buckets, as after a quiet period."""
        self._config = config
        self.reset()

    def reset(self) -> None:
        now = self._clock()
        self._global = TokenBucket.full(
            self._config.global_per_second, self._config.effective_global_burst, now
        )
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

    def acquire(self, chat_id: int) -> int:
        """0 when the send may go now (tokens taken), else retry_after in seconds (nothing taken)."""
        if not self._config.enabled:
            return 0
        now = self._clock()
        chat = self._chat_bucket(chat_id, now)
        wait = max(chat.wait_time(now), self._global.wait_time(now))
        if wait > 0:
            return retry_after_seconds(wait)
        chat.take(now)
        self._global.take(now)
        self._acquired += 1
        if self._acquired % _PRUNE_EVERY == 0:
            self._prune(now)
        return 0

    def _prune(self, now: float) -> None:
        for chat_id in [chat_id for chat_id, bucket in self._chats.items() if bucket.is_full(now)]:
            del self._chats[chat_id]
