"""Telegram's send limits, shared by every process through Redis: wait for a slot, never fail for speed.

    limiter = RateLimiter.from_settings(redis, settings)
    waited = await limiter.acquire(chat_id)      # sleeps until this send may go, returns the seconds
    await limiter.penalize(retry_after, chat_id)  # Telegram answered 429: everyone waits

Telegram allows about 30 messages per second to different chats, about one per second to one chat and
20 per minute to one group (https://core.telegram.org/bots/faq#my-bot-is-hitting-limits-how-do-i-avoid-this).
Each limit is a GCRA schedule (a token bucket expressed as a "theoretical arrival time", TAT) kept in Redis:

- one Lua script per acquire reads the TATs and penalties of the keys involved (global, the chat), picks
  the earliest slot that satisfies all of them, books it (moves the TATs past it) and returns the wait.
  The caller sleeps exactly that long. Slots are reserved, so concurrent callers in any number of
  processes queue up in order without retrying or polling, and the rate holds however many workers run.
- time comes from Redis (`TIME`) so that workers on different machines share one clock; tests inject one.
- `penalize` records "nobody sends (to this chat / at all) before T" after a 429.
- at its slot, right before it leaves, a send checks once more (DEPART, `depart`: the Sender claims its
  ledger row between the wait and this check, so the check also covers the claim's round trip): a 429
  that arrived during the sleep, or a window already full of sends that left late (an event loop
  stalled for a second wakes all the senders it held at once), books it a new slot past them instead.
  So the sends that leave in any one-second window never exceed `Limits.window_limit` (the rate + 3),
  however late they woke; Telegram counts 30 per second (docs/sandbox.md: strict mode checks exactly this).
- paid broadcasts (`allow_paid_broadcast`, up to 1,000/s) book their own global schedule and window
  (`:paid`, at `Limits.paid_per_second`); the chats' limits and the penalties are shared with free sends,
  and free sends (replies to learners) keep their own schedule within the free limit (docs/decisions.md).
- a wait longer than `max_wait` raises `RateLimited` (nothing is booked): a job gives its worker back and
  retries after `retry_after` instead of sleeping through its timeout.

Waiting is recorded for metrics as string counters `mluv:metrics:ratelimit:<name>` (INCRBYFLOAT, so all
processes add up): `acquired`, `waits` (acquires that had to wait), `wait_seconds`, `telegram_429`
(penalties), `penalty_seconds`, `refused` (RateLimited), `rebooked` (a new slot at departure). They are
aggregated in process and written at most once a second, like the job metrics; /metrics and the
dashboard read them.
"""

from __future__ import annotations

import asyncio
import math
import secrets
import time
from collections import defaultdict
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from redis.asyncio import Redis

from mluv.jobs.deployment import namespace_of
from mluv.logs import get_logger
from mluv.telegram.ratelimit_lua import DEPART, PENALIZE, PENALTY_LEFT, RESERVE

if TYPE_CHECKING:
    from mluv.settings import Settings

log = get_logger(__name__)

KEY_PREFIX = "mluv:ratelimit"
METRICS_PREFIX = "mluv:metrics:ratelimit:"
COUNTERS = ("acquired", "waits", "wait_seconds", "telegram_429", "penalty_seconds", "refused", "rebooked")
MICROS = 1_000_000
# Departures counted per window of one second (Telegram's "30 messages per second").
WINDOW_SECONDS = 1.0
# Late senders may leave this many sends above the rate into one window: 25/s + 3 leaves Telegram's 30
# room for two requests that a stall holds between our departure and Telegram.
WINDOW_SLACK = 3
# Telegram's ceiling with paid broadcasts (allow_paid_broadcast: "up to 1000 messages per second"), for the
# free and the paid sends together (mluv.settings refuses rates over it).
TELEGRAM_MAX_PER_SECOND = 1000


class RateLimited(Exception):
    """The next free slot is further away than the caller accepts; try again after `retry_after` seconds.

    The jobs framework's RetryPolicy honours any exception carrying `retry_after` (as for Telegram's 429),
    so a job that lets this propagate is re-run after exactly that delay.
    """

    def __init__(self, retry_after: float, chat_id: int | None = None) -> None:
        super().__init__(f"rate limit: next slot in {retry_after:.2f} s (chat {chat_id})")
        self.retry_after = retry_after
        self.chat_id = chat_id


@dataclass(frozen=True)
class Reservation:
    booked: bool  # False: the chat is not ready yet; nothing was booked
    wait: float  # seconds until the slot (booked) or until the chat is ready (not booked)


@dataclass(frozen=True)
class Limits:
    """Rates and bursts; a burst of 1 spaces sends evenly (the strictest reading of Telegram's limits)."""

    global_per_second: float = 25.0
    per_chat_per_second: float = 1.0
    group_per_minute: float = 20.0
    global_burst: int = 1
    chat_burst: int = 1
    group_burst: int = 1
    # Sends leaving in any one-second window, however late they leave (None: the rate plus WINDOW_SLACK).
    global_window_limit: int | None = None
    # Paid broadcasts (allow_paid_broadcast): their own global schedule at this rate; 0: off.
    paid_per_second: float = 0.0

    def __post_init__(self) -> None:
        if min(self.global_per_second, self.per_chat_per_second, self.group_per_minute) <= 0:
            raise ValueError("rates must be positive")
        if min(self.global_burst, self.chat_burst, self.group_burst) < 1:
            raise ValueError("bursts must be at least 1")
        if self.global_window_limit is not None and self.global_window_limit < 1:
            raise ValueError("the window limit must be at least 1")
        if self.paid_per_second < 0:
            raise ValueError("the paid rate must be 0 (off) or positive")

    @property
    def window_limit(self) -> int:
        if self.global_window_limit is not None:
            return self.global_window_limit
        return max(self.global_burst, math.floor(self.global_per_second)) + WINDOW_SLACK

    def lane_window_limit(self, paid: bool) -> int:
        """Departures allowed in any one-second window of a lane. The paid lane's window is what Telegram's
        1,000/s leaves beside the free lane's, less the same margin: late paid senders catch up within
        Telegram's limit. Rate + 3 (0.6 % at 500/s) made every jitter of the event loops a rebooking
        past the window, and the broadcast stalled for ~0.5 s a few times a minute
        (bench/broadcast.py --paid: 86 of 5,000 sends rebooked, 62 % of the rate held)."""
        if not paid:
            return self.window_limit
        beside_free = TELEGRAM_MAX_PER_SECOND - self.window_limit - WINDOW_SLACK
        return max(math.floor(self.paid_per_second) + WINDOW_SLACK, beside_free)

    @classmethod
    def from_settings(cls, settings: Settings) -> Limits:
        return cls(
            global_per_second=settings.rate_limit_global_per_second,
            per_chat_per_second=settings.rate_limit_per_chat_per_second,
            group_per_minute=float(settings.rate_limit_group_per_minute),
            paid_per_second=settings.paid_broadcast_rate_per_second,
        )


def is_group(chat_id: int) -> bool:
    """Groups, supergroups and channels have negative ids in the Bot API; private chats positive ones."""
    return chat_id < 0


class RateLimiter:
    """The shared schedule of sends (see the module docstring); one per process is enough."""

    def __init__(
        self,
        redis: Redis,
        limits: Limits | None = None,
        *,
        prefix: str = KEY_PREFIX,
        metrics_prefix: str = METRICS_PREFIX,
        clock: Callable[[], float] | None = None,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        metrics_interval: float = 1.0,
    ) -> None:
        self.redis = redis
        self.limits = limits or Limits()
        # The prefixes are the default namespace's; the pool's namespace (REDIS_NAMESPACE) maps them.
        self.prefix = namespace_of(redis).rekey(prefix)
        self.metrics_prefix = namespace_of(redis).rekey(metrics_prefix)
        # None: Redis's clock, shared by all workers; a callable (seconds) only for tests.
        self._clock = clock
        self._sleep = sleep
        self.metrics_interval = metrics_interval
        self._reserve = redis.register_script(RESERVE)
        self._penalize = redis.register_script(PENALIZE)
        self._depart = redis.register_script(DEPART)
        self._penalty_left = redis.register_script(PENALTY_LEFT)
        self._pending: dict[str, float] = defaultdict(float)
        self._last_flush = time.monotonic()

    @classmethod
    def from_settings(cls, redis: Redis, settings: Settings, **options: Any) -> RateLimiter:
        return cls(redis, Limits.from_settings(settings), **options)

    # keys and parameters

    def _now_us(self) -> int:
        return -1 if self._clock is None else round(self._clock() * MICROS)

    def _intervals(self, chat_id: int | None, paid: bool = False) -> tuple[int, int, int, int]:
        """(global interval, global tolerance, chat interval, chat tolerance) in µs; GCRA's tolerance is
        (burst - 1) intervals. `paid`: the paid broadcasts' global schedule instead of the free one."""
        limits = self.limits
        if paid and limits.paid_per_second <= 0:
            raise ValueError("paid broadcasts are off (PAID_BROADCAST_RATE_PER_SECOND=0)")
        global_interval = round(MICROS / (limits.paid_per_second if paid else limits.global_per_second))
        chat_interval, chat_burst = round(MICROS / limits.per_chat_per_second), limits.chat_burst
        if chat_id is not None and is_group(chat_id):
            chat_interval, chat_burst = round(60 * MICROS / limits.group_per_minute), limits.group_burst
        return (
            global_interval,
            (limits.global_burst - 1) * global_interval,
            chat_interval,
            (chat_burst - 1) * chat_interval,
        )

    def tat_key(self, chat_id: int | None, paid: bool = False) -> str:
        if chat_id is None:
            return f"{self.prefix}:paid" if paid else f"{self.prefix}:global"
        return f"{self.prefix}:chat:{chat_id}"

    def penalty_key(self, chat_id: int | None) -> str:
        return f"{self.prefix}:penalty:global" if chat_id is None else f"{self.prefix}:penalty:chat:{chat_id}"

    def departures_key(self, paid: bool = False) -> str:
        return f"{self.prefix}:paid:departures" if paid else f"{self.prefix}:departures"

    # the API

    async def reserve(
        self,
        chat_id: int | None = None,
        *,
        use_global: bool = True,
        max_wait: float | None = None,
        paid: bool = False,
    ) -> Reservation:
        """One booking attempt, no sleeping: a slot `wait` seconds away (booked), or, when the chat is not
        ready, how long until it is (nothing booked). Raises RateLimited past `max_wait`."""
        if chat_id is None and not use_global:
            raise ValueError("a send is subject to at least one limit (global or a chat)")
        keys = [
            self.tat_key(None, paid),
            self.penalty_key(None),
            self.tat_key(chat_id) if chat_id is not None else self.tat_key(None, paid),
            self.penalty_key(chat_id) if chat_id is not None else self.penalty_key(None),
        ]
        args = [
            self._now_us(),
            -1 if max_wait is None else max(0, round(max_wait * MICROS)),
            int(use_global),
            int(chat_id is not None),
            *self._intervals(chat_id, paid),
        ]
        code, wait_us = await self._reserve(keys=keys, args=args)
        wait = max(0.0, int(wait_us) / MICROS)
        if int(code) == 0:
            self._count("refused", 1)
            await self._maybe_flush()
            raise RateLimited(wait, chat_id)
        return Reservation(booked=int(code) == 1, wait=wait)

    async def acquire(
        self,
        chat_id: int | None = None,
        *,
        use_global: bool = True,
        max_wait: float | None = None,
        paid: bool = False,
    ) -> float:
        """Wait for this send's turn under every limit that applies; returns the seconds waited.

        `chat_id` None: only the global limit; `use_global=False`: only the chat's (edits of one message);
        `paid`: a paid broadcast's send, on its own global schedule at `Limits.paid_per_second`.
        Raises RateLimited, without booking, if the turn is more than `max_wait` away. The two halves,
        `wait_turn` and `depart`, may be called apart: the Sender claims its ledger row between them.
        """
        waited = await self.wait_turn(chat_id, use_global=use_global, max_wait=max_wait, paid=paid)
        return await self.depart(chat_id, use_global=use_global, max_wait=max_wait, waited=waited, paid=paid)

    async def wait_turn(
        self,
        chat_id: int | None = None,
        *,
        use_global: bool = True,
        max_wait: float | None = None,
        paid: bool = False,
    ) -> float:
        """Book a slot and sleep until it (acquire's first half); returns the seconds waited.

        Every sleep is a wait a script computed for a booked slot; a loop happens only when the chat was
        not ready (then it is)."""
        waited = 0.0
        booked = False
        while not booked:
            left = None if max_wait is None else max(0.0, max_wait - waited)
            try:
                reservation = await self.reserve(chat_id, use_global=use_global, max_wait=left, paid=paid)
            except RateLimited as error:
                raise RateLimited(error.retry_after + waited, chat_id) from None
            if reservation.wait > 0:
                await self._sleep(reservation.wait)
                waited += reservation.wait
            booked = reservation.booked
        return waited

    async def depart(
        self,
        chat_id: int | None = None,
        *,
        use_global: bool = True,
        max_wait: float | None = None,
        waited: float = 0.0,
        paid: bool = False,
    ) -> float:
        """At the booked slot, right before the request (acquire's second half): leave now, or, when a
        429 arrived since the slot was booked or the window is full of senders that left late, sleep
        until a new slot booked past them. Returns the seconds waited in all (`waited` included); raises
        RateLimited when that new slot is past `max_wait` (counted from before `waited`)."""
        while (wait := await self._leave(chat_id, use_global, max_wait, waited, paid)) > 0:
            self._count("rebooked", 1)
            await self._sleep(wait)
            waited += wait
        self._count("acquired", 1)
        if waited > 0:
            self._count("waits", 1)
            self._count("wait_seconds", waited)
        await self._maybe_flush()
        return waited

    async def _leave(
        self,
        chat_id: int | None,
        use_global: bool,
        max_wait: float | None,
        waited: float,
        paid: bool = False,
    ) -> float:
        """At the booked slot: 0 when the send may leave now (recorded), else the wait for a new slot."""
        keys = [
            self.tat_key(None, paid),
            self.penalty_key(None),
            self.tat_key(chat_id) if chat_id is not None else self.tat_key(None, paid),
            self.penalty_key(chat_id) if chat_id is not None else self.penalty_key(None),
            self.departures_key(paid),
        ]
        args: list[int | str] = [
            self._now_us(),
            -1 if max_wait is None else max(0, round((max_wait - waited) * MICROS)),
            int(use_global),
            int(chat_id is not None),
            *self._intervals(chat_id, paid),
            round(WINDOW_SECONDS * MICROS),
            self.limits.lane_window_limit(paid),
            secrets.token_hex(8),
        ]
        code, wait_us = await self._depart(keys=keys, args=args)
        wait = max(0.0, int(wait_us) / MICROS)
        if int(code) == 0:
            self._count("refused", 1)
            await self._maybe_flush()
            raise RateLimited(wait + waited, chat_id)
        return wait if int(code) == 2 else 0.0

    async def penalize(self, seconds: float, chat_id: int | None = None, *, everyone: bool = False) -> None:
        """Telegram answered 429 with retry_after=`seconds`: nobody sends to `chat_id` (None: to anyone)
        before it has passed; `everyone=True` with a chat penalizes the chat and the global schedule."""
        if seconds <= 0:
            return
        keys = [self.penalty_key(chat_id)]
        if chat_id is not None and everyone:
            keys.append(self.penalty_key(None))
        await self._penalize(keys=keys, args=[self._now_us(), round(seconds * MICROS)])
        self._count("telegram_429", 1)
        self._count("penalty_seconds", seconds)
        log.warning("telegram asked us to slow down", chat_id=chat_id, everyone=everyone, retry_after=seconds)
        await self._maybe_flush()

    async def penalty_left(self, chat_id: int | None = None) -> float:
        """Seconds left of the penalty on `chat_id` (None: the global one); 0 when there is none."""
        left = int(await self._penalty_left(keys=[self.penalty_key(chat_id)], args=[self._now_us()]))
        return max(0.0, left / MICROS)

    # metrics

    def _count(self, name: str, value: float) -> None:
        self._pending[name] += value

    async def _maybe_flush(self) -> None:
        if time.monotonic() - self._last_flush >= self.metrics_interval:
            try:
                await self.flush()
            except Exception as error:  # metrics never stop a send; the deltas are kept for next time
                log.warning("rate limiter metrics flush failed", error=str(error))

    async def flush(self) -> None:
        """Write the aggregated counters in one pipeline (HINCRBYFLOAT: any number of workers add up)."""
        self._last_flush = time.monotonic()
        if not self._pending:
            return
        pending, self._pending = self._pending, defaultdict(float)
        try:
            async with self.redis.pipeline(transaction=False) as pipe:
                for name, value in pending.items():
                    pipe.incrbyfloat(self.metrics_prefix + name, value)
                await pipe.execute()
        except Exception:
            for name, value in pending.items():
                self._pending[name] += value
            raise


async def read_ratelimit_stats(redis: Redis, prefix: str = METRICS_PREFIX) -> dict[str, float]:
    """The limiter's counters summed over every process (see COUNTERS), plus the mean wait."""
    raw = await redis.mget([namespace_of(redis).rekey(prefix + name) for name in COUNTERS])
    stats = {
        name: float(value) if value is not None else 0.0 for name, value in zip(COUNTERS, raw, strict=True)
    }
    acquired = stats.get("acquired", 0.0)
    stats["mean_wait_seconds"] = stats.get("wait_seconds", 0.0) / acquired if acquired else 0.0
    return stats
