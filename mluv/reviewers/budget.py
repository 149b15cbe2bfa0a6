"""The LLM reviewer's daily budgets in Redis: online reviews per learner and in total, per UTC day.

`take(redis, user_id, per_learner=..., total=...)` spends one review of both budgets, or none: one Lua
script (atomic in Redis, so concurrent workers cannot overspend) reads both counters, refuses when either
is spent, else INCRs both and sets their expiry to the end of the UTC day. It returns "ok", "learner"
(this learner's budget is spent) or "global" (everyone's is). A limit of 0 means no online review at all.

Keys (named only here), one pair per UTC day, so the budget resets at midnight UTC exactly even if an
expiry runs late:
- `mluv:llm:reviews:<YYYY-MM-DD>`: online reviews of the day, all learners;
- `mluv:llm:reviews:<YYYY-MM-DD>:learner:<user_id>`: one learner's.

A review is counted when the request is sent (a failed or timed-out request may still cost); answers
served from the cache are not counted.
"""

from __future__ import annotations

import datetime as dt
from typing import Final, Literal

from redis.asyncio import Redis

from mluv.jobs.deployment import namespace_of

Verdict = Literal["ok", "learner", "global"]

KEY_PREFIX: Final = "mluv:llm:reviews"

_TAKE: Final = """
local learner = tonumber(redis.call('GET', KEYS[1]) or '0')
local total = tonumber(redis.call('GET', KEYS[2]) or '0')
if learner >= tonumber(ARGV[1]) then return 'learner' end
if total >= tonumber(ARGV[2]) then return 'global' end
redis.call('INCR', KEYS[1])
redis.call('EXPIREAT', KEYS[1], ARGV[3])
redis.call('INCR', KEYS[2])
redis.call('EXPIREAT', KEYS[2], ARGV[3])
return 'ok'
"""


def global_key(day: dt.date) -> str:
    return f"{KEY_PREFIX}:{day.isoformat()}"


def learner_key(day: dt.date, user_id: int) -> str:
    return f"{KEY_PREFIX}:{day.isoformat()}:learner:{user_id}"


def end_of_day(day: dt.date) -> int:
    """The Unix time of the next UTC midnight after `day` began."""
    midnight = dt.datetime.combine(day + dt.timedelta(days=1), dt.time(), tzinfo=dt.UTC)
    return int(midnight.timestamp())


async def take(
    redis: Redis, user_id: int, *, per_learner: int, total: int, now: dt.datetime | None = None
) -> Verdict:
    """Spend one online review of the learner's and the global budget of today (UTC), or refuse."""
    day = (now or dt.datetime.now(dt.UTC)).astimezone(dt.UTC).date()
    ns = namespace_of(redis)
    keys = [ns.rekey(learner_key(day, user_id)), ns.rekey(global_key(day))]
    args = [str(per_learner), str(total), str(end_of_day(day))]
    result = await redis.eval(_TAKE, len(keys), *keys, *args)  # type: ignore[misc]
    verdict = result.decode() if isinstance(result, bytes) else str(result)
    if verdict not in ("ok", "learner", "global"):
        raise RuntimeError(f"unexpected budget verdict {verdict!r}")
    return verdict  # type: ignore[return-value]


async def spent(redis: Redis, user_id: int, *, now: dt.datetime | None = None) -> tuple[int, int]:
    """(this learner's, everyone's) online reviews of today (UTC)."""
    day = (now or dt.datetime.now(dt.UTC)).astimezone(dt.UTC).date()
    ns = namespace_of(redis)
    learner, everyone = await redis.mget([ns.rekey(learner_key(day, user_id)), ns.rekey(global_key(day))])
    return int(learner or 0), int(everyone or 0)
