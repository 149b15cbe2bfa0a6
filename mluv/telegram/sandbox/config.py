"""Configuration of the Bot API sandbox: accepted tokens, Telegram's limits, injected faults."""

from __future__ import annotations

import math
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

# mluv.resources.SANDBOX_BOT_TOKEN (a test keeps them equal); not imported from there because that module
# loads aiogram, SQLAlchemy and arq, and the sandbox process needs none of them.
SANDBOX_BOT_TOKEN = "1000000001:mluv-sandbox-development-token"  # noqa: S105 - not a secret
DEFAULT_TOKENS = (SANDBOX_BOT_TOKEN,)


class LimitsConfig(BaseModel):
    """Telegram's send limits (https://core.telegram.org/bots/faq#my-bot-is-hitting-limits-how-do-i-avoid-this).

    Each limit is a token bucket: `rate` tokens per second refill up to `burst`; a send takes one token
    from the global bucket and one from its chat's bucket, or is answered 429 with `retry_after`.
    With `global_window_seconds` the global limit is instead a strict sliding window: at most
    `global_window_limit` sends in any window of that many seconds (a full bucket plus its refill lets
    up to twice the rate through in one second; the window never does).
    """

    model_config = ConfigDict(extra="forbid", validate_assignment=True)

    enabled: bool = True
    # Telegram: "no more than 30 messages per second" to different chats.
    global_per_second: float = Field(default=30.0, gt=0)
    # None: one second's worth (the whole rate may arrive at once).
    global_burst: float | None = Field(default=None, ge=1)
    # Strict mode: None keeps the token bucket; seconds make the global limit a sliding window.
    global_window_seconds: float | None = Field(default=None, gt=0)
    # Bot API 7.11: allow_paid_broadcast allows "up to 1000 messages per second, ignoring broadcasting
    # limits": such sends take from this bucket instead of the global one (a second's worth of burst).
    paid_per_second: float = Field(default=1000.0, gt=0)
    # Telegram: "avoid sending more than one message per second" to one chat; short bursts pass.
    private_per_second: float = Field(default=1.0, gt=0)
    private_burst: float = Field(default=3.0, ge=1)
    # Telegram: "no more than 20 messages per minute" to one group (negative chat id).
    group_per_minute: float = Field(default=20.0, gt=0)
    group_burst: float = Field(default=5.0, ge=1)
    # Bot API: text 1-4096 characters after entity parsing, captions 0-1024.
    max_text_length: int = Field(default=4096, ge=1)
    max_caption_length: int = Field(default=1024, ge=0)

    @property
    def effective_global_burst(self) -> float:
        return self.global_burst if self.global_burst is not None else max(1.0, self.global_per_second)

    @property
    def global_window_limit(self) -> int:
        """Sends allowed in any one window in strict mode: the rate times the window, at least one."""
        window = self.global_window_seconds or 1.0
        return max(1, math.floor(self.global_per_second * window + 1e-9))


class FaultsConfig(BaseModel):
    """Faults injected into Bot API requests; shares are probabilities in [0, 1], drawn from `seed`."""

    model_config = ConfigDict(extra="forbid", validate_assignment=True)

    # Added to every Bot API request: fixed, or uniform in [latency_ms, latency_max_ms].
    latency_ms: float = Field(default=0.0, ge=0)
    latency_max_ms: float | None = Field(default=None, ge=0)
    # Share of sends answered 500/502 without recording the message (Telegram's own outages).
    error_rate: float = Field(default=0.0, ge=0, le=1)
    error_statuses: list[Literal[500, 502]] = Field(default_factory=lambda: [500, 502], min_length=1)  # type: ignore[arg-type]
    # Share of sends recorded but never answered: the client's read timeout fires after delivery.
    drop_rate: float = Field(default=0.0, ge=0, le=1)
    # hang: hold the connection until the client gives up (or drop_hold_seconds); close: close it at once.
    drop_mode: Literal["hang", "close"] = "hang"
    drop_hold_seconds: float = Field(default=60.0, gt=0)
    # Share of sends answered 429 whatever the limits say, with this retry_after.
    rate_limit_rate: float = Field(default=0.0, ge=0, le=1)
    rate_limit_retry_after: int = Field(default=5, ge=1)
    seed: int = 0

    @model_validator(mode="after")
    def _shares_fit(self) -> FaultsConfig:
        if self.error_rate + self.drop_rate + self.rate_limit_rate > 1.0 + 1e-9:
            raise ValueError("error_rate + drop_rate + rate_limit_rate must not exceed 1")
        if self.latency_max_ms is not None and self.latency_max_ms < self.latency_ms:
            raise ValueError("latency_max_ms must not be below latency_ms")
        return self


class SandboxConfig(BaseModel):
    """Everything the sandbox needs at start; limits and faults can be changed later via the control API."""

    model_config = ConfigDict(extra="forbid")

    tokens: list[str] = Field(default_factory=lambda: list(DEFAULT_TOKENS), min_length=1)
    bot_username: str = "mluv_sandbox_bot"
    bot_first_name: str = "Mluv.Me (sandbox)"
    # Unknown chat ids become learners on first send instead of "chat not found" (handy in development).
    auto_create_chats: bool = False
    limits: LimitsConfig = Field(default_factory=LimitsConfig)
    faults: FaultsConfig = Field(default_factory=FaultsConfig)
    # Bound memory in long benchmarks: the oldest messages of a chat are forgotten (counters keep totals).
    history_per_chat: int = Field(default=1000, ge=1)
    # Telegram keeps undelivered updates for 24 hours; the sandbox keeps at most this many.
    max_pending_updates: int = Field(default=100_000, ge=1)
    # Seconds between webhook delivery retries after a failure (doubles up to webhook_retry_max_seconds).
    webhook_retry_seconds: float = Field(default=0.5, gt=0)
    webhook_retry_max_seconds: float = Field(default=30.0, gt=0)
    webhook_timeout_seconds: float = Field(default=10.0, gt=0)

    @property
    def bot_id(self) -> int:
        return bot_id_of(self.tokens[0])


def bot_id_of(token: str) -> int:
    """A Bot API token is "<bot id>:<secret>"; the id part is the bot's user id."""
    head = token.partition(":")[0]
    return int(head) if head.isdigit() else 0
