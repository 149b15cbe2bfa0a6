"""The LLM reviewer: an OpenAI-compatible model reviews the learner's Czech, merged with the offline rules.

`review_text(text, language=, level=, user_id=, settings=, redis=)` is what the review job calls. It
returns a `ReviewResult`: the `Review` and its `outcome`, one of:

| outcome | when | review |
|---|---|---|
| "offline" | no `LLM_API_KEY`, or a text with no Latin letter (nothing Czech to send) | offline |
| "cached" | the same (text, level, language) was answered within a week (`cache.py`) | merged |
| "online" | the model answered with a valid answer (`answer.py`) | merged |
| "learner-budget" / "global-budget" | today's budget is spent (`budget.py`) | offline |
| "failed" | Redis, the network, a timeout (`LLM_TIMEOUT`), a status, a malformed answer | offline |

Order: the offline review (`review_offline(text, level=level)`) always runs first, since it is both
the fallback and half of the merge (`merge.py`); then the cache; then one unit of both budgets; then the
request; a valid answer is cached. A fallback review is the offline one unchanged (`reviewer="offline"`,
its own checks): the learner is told only what was really checked. Failures are logged as one warning
without the learner's text and without the API key (it is also a registered log secret).
"""

from __future__ import annotations

import asyncio
import threading
from dataclasses import dataclass
from typing import Final, Literal

from pydantic import SecretStr
from redis.asyncio import Redis

from mluv.domain.review import Level, Review, review_offline
from mluv.logs import get_logger, redact
from mluv.reviewers import budget, cache
from mluv.reviewers.answer import parse_answer, system_prompt
from mluv.reviewers.client import ChatClient
from mluv.reviewers.merge import merge
from mluv.settings import Settings

log = get_logger(__name__)

Outcome = Literal["offline", "cached", "online", "learner-budget", "global-budget", "failed"]

# Hunspell handles are not documented as thread-safe: offline reviews run one at a time per process
# (a few ms each), in a thread so that a first dictionary load does not block the event loop.
_offline_lock: Final = threading.Lock()


def _offline_in_lock(text: str, level: Level) -> Review:
    with _offline_lock:
        return review_offline(text, level=level)


async def offline_review(text: str, level: Level) -> Review:
    """`review_offline(text, level=level)` off the event loop."""
    return await asyncio.to_thread(_offline_in_lock, text, level)


def has_latin_letter(text: str) -> bool:
    # Czech is written in Latin letters: a text without one (Cyrillic, emoji) is not sent to the model.
    return any(
        char.isalpha() and ("a" <= char.lower() <= "z" or "\u00c0" <= char <= "\u024f") for char in text
    )


@dataclass(frozen=True)
class LLMConfig:
    """The LLM reviewer's settings (LLM_*); `from_settings` is None without an API key."""

    base_url: str
    model: str
    api_key: SecretStr
    timeout: float
    daily_reviews_per_learner: int
    daily_reviews: int

    @classmethod
    def from_settings(cls, settings: Settings) -> LLMConfig | None:
        key = settings.llm_api_key
        if key is None or not key.get_secret_value():
            return None
        return cls(
            base_url=settings.llm_base_url,
            model=settings.llm_model,
            api_key=key,
            timeout=settings.llm_timeout,
            daily_reviews_per_learner=settings.llm_daily_reviews_per_learner,
            daily_reviews=settings.llm_daily_reviews,
        )


@dataclass(frozen=True)
class ReviewResult:
    review: Review
    outcome: Outcome


class LLMReviewer:
    """Reviews through `config`'s endpoint with budgets and a cache in `redis`; falls back offline."""

    def __init__(self, config: LLMConfig, redis: Redis) -> None:
        self.config = config
        self.client = ChatClient(
            base_url=config.base_url, model=config.model, api_key=config.api_key, timeout=config.timeout
        )
        self._redis = redis

    def __repr__(self) -> str:
        return f"LLMReviewer({self.client!r})"

    async def review(self, text: str, *, language: str, level: Level, user_id: int) -> ReviewResult:
        offline = await offline_review(text, level)
        if not has_latin_letter(text):
            return ReviewResult(offline, "offline")
        key = cache.cache_key(text, level=level, language=language)
        try:
            cached = await cache.get(self._redis, key)
            if cached is not None:
                return ReviewResult(merge(text, offline, cached), "cached")
            verdict = await budget.take(
                self._redis,
                user_id,
                per_learner=self.config.daily_reviews_per_learner,
                total=self.config.daily_reviews,
            )
        except Exception as error:  # Redis down: without the budget the cost is unbounded, so no request
            self._warn("llm review skipped: redis failed", error)
            return ReviewResult(offline, "failed")
        if verdict != "ok":
            log.info("llm budget spent, offline review", budget=verdict, user_id=user_id)
            return ReviewResult(offline, "learner-budget" if verdict == "learner" else "global-budget")
        try:
            async with asyncio.timeout(self.config.timeout):
                content = await self.client.complete(system_prompt(language=language, level=level), text)
            answer = parse_answer(content)
        except Exception as error:
            self._warn("llm review failed, falling back to offline", error)
            return ReviewResult(offline, "failed")
        try:
            await cache.put(self._redis, key, answer)
        except Exception as error:  # the review is good; only a repeat will cost again
            self._warn("llm answer not cached", error)
        return ReviewResult(merge(text, offline, answer), "online")

    def _warn(self, event: str, error: BaseException) -> None:
        secret = self.config.api_key.get_secret_value()
        detail = redact(str(error).replace(secret, "[redacted]"))[:300]
        log.warning(
            event,
            error=type(error).__name__,
            detail=detail,
            base_url=redact(self.config.base_url),
            model=self.config.model,
        )


async def review_text(
    text: str, *, language: str, level: Level, user_id: int, settings: Settings, redis: Redis
) -> ReviewResult:
    """The learner's review: merged with the LLM's when configured and within budget, else offline."""
    config = LLMConfig.from_settings(settings)
    if config is None:
        return ReviewResult(await offline_review(text, level), "offline")
    return await LLMReviewer(config, redis).review(text, language=language, level=level, user_id=user_id)
