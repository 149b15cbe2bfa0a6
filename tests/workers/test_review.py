"""review_message on real PostgreSQL and Redis, the Bot API sandbox and a fake LLM endpoint: the learner's
level and language reach the reviewer and the feedback, the review is stored once and a re-run reuses it
(no second request, no second budget unit, no second message)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest
from pydantic import SecretStr
from sqlalchemy import update

from mluv.db.models import Message, User
from mluv.domain import feedback
from mluv.domain.review import Review
from mluv.reviewers import budget
from mluv.settings import Settings
from tests.reviewers.fake_llm import API_KEY, FakeLLM, running_fake_llm
from tests.workers.job_harness import Harness, job_harness
from workers.review import review_message

pytestmark = pytest.mark.integration

LEARNER = 840_000_001
TEXT = "Dekuji, chci jít do kino."
ANSWER: dict[str, Any] = {
    "corrected_text": "Děkuji, chci jít do kina.",
    "correctness": 60,
    "corrections": [
        {"original": "do kino", "suggestion": "do kina", "kind": "grammar", "explanation": "Родовий."}
    ],
    "comment": "Чудово!",
}


@pytest.fixture
async def fake_llm() -> AsyncIterator[FakeLLM]:
    async with running_fake_llm() as fake:
        fake.answer(ANSWER)
        yield fake


def with_llm(settings: Settings, fake: FakeLLM, **overrides: Any) -> Settings:
    values: dict[str, Any] = {"llm_api_key": SecretStr(API_KEY), "llm_base_url": fake.base_url}
    return settings.model_copy(update=values | overrides)


async def add_message(harness: Harness, *, level: str, language: str) -> int:
    await harness.add_learner(LEARNER, language=language)
    async with harness.resources.session_factory.begin() as session:
        await session.execute(update(User).where(User.id == LEARNER).values(level=level))
        message = Message(user_id=LEARNER, text=TEXT, word_count=5)
        session.add(message)
        await session.flush()
        return message.id


@pytest.mark.parametrize(
    ("llm", "level", "language", "outcome", "reviewer", "requests"),
    [
        pytest.param({}, "advanced", "uk", "online", "openai", 1, id="llm-merged"),
        pytest.param({"llm_api_key": None}, "intermediate", "ru", "offline", "offline", 0, id="no-llm"),
        pytest.param(
            {"llm_daily_reviews_per_learner": 0}, "beginner", "uk", "learner-budget", "offline", 0, id="spent"
        ),
    ],
)
async def test_review_message_uses_the_level_and_stores_the_review_once(
    settings: Settings,
    clean_tables: None,
    redis: object,
    fake_llm: FakeLLM,
    monkeypatch: pytest.MonkeyPatch,
    llm: dict[str, Any],
    level: str,
    language: str,
    outcome: str,
    reviewer: str,
    requests: int,
) -> None:
    formatted: list[tuple[str, str, str]] = []
    original_format = feedback.format_feedback

    def recording_format(review: Review, language: str, *, level: Any) -> str:
        formatted.append((review.reviewer, language, level))
        return original_format(review, language, level=level)

    monkeypatch.setattr(feedback, "format_feedback", recording_format)  # the job imports it when it runs
    async with job_harness(with_llm(settings, fake_llm, **llm)) as harness:
        message_id = await add_message(harness, level=level, language=language)

        first = await harness.run(review_message, message_id=message_id)
        assert (first["review"], first["reviewer"], first["duplicate"]) == (outcome, reviewer, False)
        assert len(fake_llm.requests) == requests
        if requests:
            assert f"level is {level}" in fake_llm.system_prompts()[0]
            assert "Ukrainian" in fake_llm.system_prompts()[0]
        async with harness.resources.session_factory() as session:
            stored = await session.get(Message, message_id)
        assert stored is not None and stored.review is not None
        assert Review.from_json(stored.review).reviewer == reviewer
        assert stored.correctness == first["correctness"]

        again = await harness.run(review_message, message_id=message_id, job_try=2)
        assert (again["review"], again["reviewer"], again["duplicate"]) == ("stored", reviewer, True)
        assert len(fake_llm.requests) == requests  # the stored review is reused
        assert await budget.spent(harness.resources.pool, LEARNER) == (requests, requests)
        assert len(await harness.texts(LEARNER)) == 1
    assert formatted == [(reviewer, language, level)] * 2
