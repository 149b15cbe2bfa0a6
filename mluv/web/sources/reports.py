"""What other parts of the system leave in Redis for the web: the health check's last report and the rate
limiter's counters (mluv.telegram.ratelimit writes them; its contract with /metrics).
"""

from __future__ import annotations

import json
from typing import Any

from redis.asyncio import Redis

from mluv.jobs.deployment import namespace_of
from mluv.telegram.ratelimit import COUNTERS, METRICS_PREFIX
from workers.maintenance import HEALTH_KEY


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


async def health_report(redis: Redis) -> dict[str, Any] | None:
    raw = await redis.get(namespace_of(redis).rekey(HEALTH_KEY))
    if raw is None:
        return None
    try:
        report: dict[str, Any] = json.loads(raw)
    except ValueError:
        return None
    return report


async def ratelimit_counters(redis: Redis) -> dict[str, dict[str, float]]:
    """The limiter's counters by name, each mapping a scope ("" = the total) to its value; absent: {}.

    Each is a number written with INCRBYFLOAT, or a hash of numbers per scope.
    """
    keys = [namespace_of(redis).rekey(METRICS_PREFIX + name) for name in COUNTERS]
    async with redis.pipeline(transaction=False) as pipe:
        for key in keys:
            pipe.type(key)
        kinds = [_text(kind) for kind in await pipe.execute()]
    async with redis.pipeline(transaction=False) as pipe:
        for key, kind in zip(keys, kinds, strict=True):
            if kind == "hash":
                pipe.hgetall(key)
            else:
                pipe.get(key)
        raw_values = await pipe.execute()
    counters: dict[str, dict[str, float]] = {}
    for name, raw in zip(COUNTERS, raw_values, strict=True):
        items = raw.items() if isinstance(raw, dict) else ([("", raw)] if raw is not None else [])
        parsed: dict[str, float] = {}
        for scope, value in items:
            try:
                parsed[_text(scope)] = float(value)
            except (TypeError, ValueError):  # a foreign value under our name: ignored, never a failed scrape
                continue
        counters[name] = parsed
    return counters
