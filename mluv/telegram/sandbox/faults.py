"""Seeded fault decisions for the sandbox: latency, 5xx, forced 429, dropped responses (pure)."""

from __future__ import annotations

import enum
import random

from mluv.telegram.sandbox.config import FaultsConfig


class Fault(enum.Enum):
    NONE = "none"
    SERVER_ERROR = "server_error"  # 5xx, nothing recorded
    RATE_LIMIT = "rate_limit"  # 429 whatever the buckets say
    DROP = "drop"  # recorded, but the client never gets the answer


class FaultInjector:
    """Draws faults from one seeded generator so a run with the same seed and order repeats exactly."""

    def __init__(self, config: FaultsConfig) -> None:
        self._config = config
        self._random = random.Random(config.seed)

    @property
    def config(self) -> FaultsConfig:
        return self._config

    def reconfigure(self, config: FaultsConfig) -> None:
        self._config = config
        self._random = random.Random(config.seed)

    def latency(self) -> float:
        """Seconds to hold a request before answering it."""
        low, high = self._config.latency_ms, self._config.latency_max_ms
        if high is None or high <= low:
            return low / 1000.0
        return self._random.uniform(low, high) / 1000.0

    def send_fault(self) -> Fault:
        config = self._config
        if config.error_rate == config.rate_limit_rate == config.drop_rate == 0:
            return Fault.NONE
        draw = self._random.random()
        if draw < config.error_rate:
            return Fault.SERVER_ERROR
        draw -= config.error_rate
        if draw < config.rate_limit_rate:
            return Fault.RATE_LIMIT
        draw -= config.rate_limit_rate
        if draw < config.drop_rate:
            return Fault.DROP
        return Fault.NONE

    def server_error_status(self) -> int:
        statuses = self._config.error_statuses
        return statuses[0] if len(statuses) == 1 else self._random.choice(statuses)
