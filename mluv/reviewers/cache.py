"""The LLM reviewer's cache in Redis: the model's validated answer by (text, level, language), a week.

Learners repeat texts (the same greeting, an exercise two learners share), and a repeat costs no request
and no budget. The key is `mluv:llm:answer:v1:<sha256 of the text (UTF-8)>:<level>:<language>` (named only
here; the text itself is not stored in the key). The value is the `Answer` as JSON, not the merged review,
so a hit is merged again with today's offline rules. A value that no longer parses (a schema change) is a
miss. `CACHE_TTL` is fixed: answers do not go stale quickly, and a week bounds the memory they take.
"""

from __future__ import annotations

import hashlib
from typing import Final

from pydantic import ValidationError
from redis.asyncio import Redis

from mluv.domain.review import Level
from mluv.jobs.deployment import namespace_of
from mluv.reviewers.answer import Answer

KEY_PREFIX: Final = "mluv:llm:answer:v1"
CACHE_TTL: Final = 7 * 24 * 3600


def cache_key(text: str, *, level: Level, language: str) -> str:
    digest = hashlib.sha256(text.encode()).hexdigest()
    return f"{KEY_PREFIX}:{digest}:{level}:{language}"


async def get(redis: Redis, key: str) -> Answer | None:
    """The cached answer, or None (absent, expired or unreadable)."""
    raw = await redis.get(namespace_of(redis).rekey(key))
    if raw is None:
        return None
    try:
        return Answer.model_validate_json(raw)
    except ValidationError:
        return None


async def put(redis: Redis, key: str, answer: Answer) -> None:
    await redis.set(namespace_of(redis).rekey(key), answer.model_dump_json(), ex=CACHE_TTL)
