"""The LLM reviewer against a local fake OpenAI-compatible server and a real Redis: the merge with the
offline rules, the budgets, the cache, malformed and slow answers, the level in the prompt, the key."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

import pytest
from aiohttp import web
from redis.asyncio import Redis

from mluv.domain.review import Level, review_offline
from mluv.reviewers import budget, cache
from mluv.reviewers.answer import LEVEL_GUIDANCE
from mluv.reviewers.llm import LLMConfig, LLMReviewer, Outcome, ReviewResult, review_text
from mluv.reviewers.merge import MERGED_CHECKS
from tests.reviewers.conftest import RecordingLogger, SettingsFactory
from tests.reviewers.fake_llm import API_KEY, FakeLLM, completion

TEXT = "Dekuji, chci jít do kino."
# The model finds the case after "do" but misses the diacritics that an offline rule finds.
ANSWER: dict[str, Any] = {
    "corrected_text": "Dekuji, chci jít do kina.",
    "correctness": 100,
    "corrections": [
        {
            "original": "do kino",
            "suggestion": "do kina",
            "kind": "grammar",
            "explanation": "После «do» нужен родительный падеж: do kina.",
        }
    ],
    "comment": "Хорошая попытка!",
}
SENTENCES = ["Mám rád kávu.", "Bydlím v Brně.", "Učím se česky.", "Dnes prší.", "Jdu domů."]


async def review(
    settings: Any,
    redis: Redis,
    text: str = TEXT,
    *,
    level: Level = "beginner",
    language: str = "ru",
    user_id: int = 1,
) -> ReviewResult:
    return await review_text(
        text, language=language, level=level, user_id=user_id, settings=settings, redis=redis
    )


async def test_the_answer_is_merged_and_a_rule_correction_the_model_missed_is_kept(
    fake_llm: FakeLLM, llm_settings: SettingsFactory, redis: Redis, recorded: RecordingLogger
) -> None:
    fake_llm.answer(ANSWER)
    result = await review(llm_settings(), redis, language="ru")

    offline = review_offline(TEXT, level="beginner")
    merged = result.review
    assert result.outcome == "online"
    assert (merged.reviewer, merged.checks) == ("openai", list(MERGED_CHECKS))
    pairs = [(c.original, c.suggestion) for c in merged.corrections]
    assert ("Dekuji", "Děkuji", "diacritics") in [
        (c.original, c.suggestion, c.rule) for c in offline.corrections
    ]
    assert ("Dekuji", "Děkuji") in pairs  # the model missed it; the offline rule's finding stays
    for rule in (c for c in offline.corrections if c.rule is not None):
        assert any((c.rule, c.start, c.end) == (rule.rule, rule.start, rule.end) for c in merged.corrections)
    at_kino = [
        c for c in merged.corrections if c.start is not None and c.start <= TEXT.index("kino") < (c.end or 0)
    ]
    assert len(at_kino) == 1  # the model's and a rule's correction of one place are one correction
    assert at_kino[0].explanation == ANSWER["corrections"][0]["explanation"]
    assert merged.corrected_text == "Děkuji, chci jít do kina."
    assert merged.correctness <= min(99, offline.correctness)
    assert merged.comment == "Хорошая попытка!"
    assert recorded.records == []

    request = fake_llm.requests[0]
    assert request["model"] == "fake-model-1"
    assert request["response_format"] == {"type": "json_object"}
    assert request["messages"][1] == {"role": "user", "content": TEXT}
    assert "Russian" in request["messages"][0]["content"]


@pytest.mark.parametrize("level", ["beginner", "intermediate", "advanced"])
@pytest.mark.parametrize(("language", "name"), [("ru", "Russian"), ("uk", "Ukrainian")])
async def test_the_level_and_language_are_in_the_prompt(
    fake_llm: FakeLLM, llm_settings: SettingsFactory, redis: Redis, level: Level, language: str, name: str
) -> None:
    fake_llm.echo()
    await review(llm_settings(), redis, "Dobrý den.", level=level, language=language)
    (prompt,) = fake_llm.system_prompts()
    assert f"level is {level}" in prompt
    assert LEVEL_GUIDANCE[level] in prompt
    assert f"native language is {name}" in prompt


@pytest.mark.parametrize(
    ("per_learner", "total", "learners", "outcomes"),
    [
        pytest.param(
            2, 100, [1, 1, 1, 2], ["online", "online", "learner-budget", "online"], id="per-learner"
        ),
        pytest.param(
            10, 2, [1, 2, 3, 3], ["online", "online", "global-budget", "global-budget"], id="global"
        ),
        pytest.param(0, 100, [1], ["learner-budget"], id="learner-zero"),
        pytest.param(5, 0, [1], ["global-budget"], id="global-zero"),
    ],
)
async def test_a_spent_budget_gives_the_offline_review(
    fake_llm: FakeLLM,
    llm_settings: SettingsFactory,
    redis: Redis,
    recorded: RecordingLogger,
    per_learner: int,
    total: int,
    learners: list[int],
    outcomes: list[Outcome],
) -> None:
    fake_llm.echo()
    settings = llm_settings(llm_daily_reviews_per_learner=per_learner, llm_daily_reviews=total)
    results = [
        await review(settings, redis, SENTENCES[i], user_id=user_id) for i, user_id in enumerate(learners)
    ]

    assert [result.outcome for result in results] == outcomes
    assert len(fake_llm.requests) == outcomes.count("online")
    for text, result in zip(SENTENCES, results, strict=False):
        if result.outcome.endswith("budget"):
            assert result.review == review_offline(text, level="beginner")  # honest: reviewer="offline"
            assert result.review.reviewer == "offline"
    spent_events = [
        fields for _, event, fields in recorded.records if event == "llm budget spent, offline review"
    ]
    assert len(spent_events) == len(outcomes) - outcomes.count("online")


async def test_budget_counters_are_per_utc_day_and_expire_at_its_end(redis: Redis) -> None:
    now = dt.datetime.now(dt.UTC)
    assert await budget.take(redis, 7, per_learner=1, total=5, now=now) == "ok"
    assert await budget.take(redis, 7, per_learner=1, total=5, now=now) == "learner"
    assert await budget.spent(redis, 7, now=now) == (1, 1)
    midnight = dt.datetime.combine(now.date() + dt.timedelta(days=1), dt.time(), tzinfo=dt.UTC)
    for key in (budget.learner_key(now.date(), 7), budget.global_key(now.date())):
        assert 0 < await redis.ttl(key) <= (midnight - now).total_seconds() + 1
    # The next UTC day starts from nothing.
    assert await budget.take(redis, 7, per_learner=1, total=5, now=midnight) == "ok"
    assert await budget.spent(redis, 7, now=midnight) == (1, 1)


@pytest.mark.parametrize(
    ("second", "requests", "outcome"),
    [
        pytest.param({}, 1, "cached", id="same-text-level-language"),
        pytest.param({"level": "advanced"}, 2, "online", id="other-level"),
        pytest.param({"language": "uk"}, 2, "online", id="other-language"),
        pytest.param({"text": TEXT + " "}, 2, "online", id="other-text"),
    ],
)
async def test_the_cache_answers_a_repeat_without_a_request(
    fake_llm: FakeLLM,
    llm_settings: SettingsFactory,
    redis: Redis,
    second: dict[str, Any],
    requests: int,
    outcome: Outcome,
) -> None:
    fake_llm.answer(ANSWER)
    settings = llm_settings(llm_daily_reviews_per_learner=1)  # a cached answer costs no budget
    first = await review(settings, redis, user_id=1)
    arguments: dict[str, Any] = {"text": TEXT, "user_id": 2} | second
    again = await review(settings, redis, **arguments)

    assert first.outcome == "online"
    assert (again.outcome, len(fake_llm.requests)) == (outcome, requests)
    if outcome == "cached":
        assert again.review == first.review
        assert await budget.spent(redis, 2) == (0, 1)
    key = cache.cache_key(TEXT, level="beginner", language="ru")
    assert cache.CACHE_TTL - 60 < await redis.ttl(key) <= cache.CACHE_TTL
    assert TEXT not in key


async def _server_error(_: web.Request) -> web.StreamResponse:
    return web.json_response({"error": {"message": "boom"}}, status=500)


async def _unauthorized(_: web.Request) -> web.StreamResponse:
    return web.json_response({"error": {"message": f"Incorrect API key provided: {API_KEY}"}}, status=401)


async def _garbage_body(_: web.Request) -> web.StreamResponse:
    return web.Response(text=f"<html>502 Bad Gateway {API_KEY}</html>", content_type="text/html")


async def _no_choices(_: web.Request) -> web.StreamResponse:
    return web.json_response({"choices": []})


async def _too_large(_: web.Request) -> web.StreamResponse:
    return web.json_response(completion("x" * 1_100_000))


def _content(content: str) -> Any:
    async def respond(_: web.Request) -> web.StreamResponse:
        return web.json_response(completion(content))

    return respond


def _answer(**changes: Any) -> Any:
    return _content(json.dumps(ANSWER | changes))


def _correction(**changes: Any) -> Any:
    return _answer(corrections=[ANSWER["corrections"][0] | changes])


@pytest.mark.parametrize(
    "respond",
    [
        pytest.param(_content("Sorry, I cannot help with that."), id="content-not-json"),
        pytest.param(_content('{"corrected_text": "Dekuji"'), id="content-truncated-json"),
        pytest.param(_content("[]"), id="content-a-list"),
        pytest.param(_answer(score=3), id="unknown-key"),
        pytest.param(
            _content(json.dumps({k: v for k, v in ANSWER.items() if k != "corrections"})), id="missing-key"
        ),
        pytest.param(_answer(correctness=150), id="score-out-of-range"),
        pytest.param(_answer(correctness="good"), id="score-not-a-number"),
        pytest.param(_answer(corrections="do kina"), id="corrections-not-a-list"),
        pytest.param(_correction(kind=3), id="kind-not-a-string"),
        pytest.param(_correction(severity="high"), id="unknown-key-in-a-correction"),
        pytest.param(_correction(original=""), id="empty-original"),
        pytest.param(_server_error, id="http-500"),
        pytest.param(_unauthorized, id="http-401-echoing-the-key"),
        pytest.param(_garbage_body, id="not-a-completion"),
        pytest.param(_no_choices, id="no-choices"),
        pytest.param(_too_large, id="too-large"),
    ],
)
async def test_a_malformed_answer_gives_the_offline_review(
    fake_llm: FakeLLM, llm_settings: SettingsFactory, redis: Redis, recorded: RecordingLogger, respond: Any
) -> None:
    fake_llm.respond = respond
    settings = llm_settings()
    result = await review(settings, redis)

    assert result == ReviewResult(review_offline(TEXT, level="beginner"), "failed")
    assert recorded.events() == [("warning", "llm review failed, falling back to offline")]
    assert API_KEY not in repr(recorded.records)
    assert TEXT not in repr(recorded.records)  # the learner's text stays out of the logs
    # Nothing was cached: the same text is asked again.
    await review(settings, redis)
    assert len(fake_llm.requests) == 2


async def test_a_slow_answer_past_the_timeout_gives_the_offline_review(
    fake_llm: FakeLLM, llm_settings: SettingsFactory, redis: Redis, recorded: RecordingLogger
) -> None:
    async def respond(_: web.Request) -> web.StreamResponse:
        await fake_llm.release.wait()  # set only when the test ends
        return web.json_response(completion(json.dumps(ANSWER)))

    fake_llm.respond = respond
    result = await review(llm_settings(llm_timeout=0.2), redis)

    assert result == ReviewResult(review_offline(TEXT, level="beginner"), "failed")
    assert recorded.records[0][2]["error"] in {"TimeoutError", "ServerTimeoutError"}
    assert API_KEY not in repr(recorded.records)


async def test_an_unreachable_endpoint_gives_the_offline_review(
    llm_settings: SettingsFactory, redis: Redis, recorded: RecordingLogger, unused_tcp_port: int
) -> None:
    settings = llm_settings(llm_base_url=f"http://127.0.0.1:{unused_tcp_port}/v1")
    result = await review(settings, redis)
    assert result.outcome == "failed"
    assert recorded.records[0][2]["error"] in {"ClientConnectorError", "ClientConnectionError"}
    assert API_KEY not in repr(recorded.records)


async def test_without_redis_no_request_is_sent(
    fake_llm: FakeLLM, llm_settings: SettingsFactory, recorded: RecordingLogger, unused_tcp_port: int
) -> None:
    fake_llm.answer(ANSWER)
    broken = Redis.from_url(f"redis://127.0.0.1:{unused_tcp_port}/0", socket_connect_timeout=1)
    try:
        result = await review(llm_settings(), broken)
    finally:
        await broken.aclose()
    assert result.outcome == "failed"  # without the budget the cost is unbounded
    assert fake_llm.requests == []
    assert recorded.events() == [("warning", "llm review skipped: redis failed")]


@pytest.mark.parametrize(
    ("overrides", "text"),
    [
        pytest.param({"llm_api_key": None}, TEXT, id="no-key"),
        pytest.param({}, "Привет, как дела?", id="no-latin-letter"),
        pytest.param({}, "🙂 123", id="emoji-and-digits"),
    ],
)
async def test_offline_without_a_request(
    fake_llm: FakeLLM, llm_settings: SettingsFactory, redis: Redis, overrides: dict[str, Any], text: str
) -> None:
    fake_llm.answer(ANSWER)
    result = await review(llm_settings(**overrides), redis, text)
    assert result == ReviewResult(review_offline(text, level="beginner"), "offline")
    assert fake_llm.requests == []


async def test_the_key_is_only_in_the_authorization_header(
    fake_llm: FakeLLM, llm_settings: SettingsFactory, redis: Redis
) -> None:
    fake_llm.answer(ANSWER)
    settings = llm_settings()
    await review(settings, redis)
    assert fake_llm.authorizations == [f"Bearer {API_KEY}"]
    assert API_KEY not in json.dumps(fake_llm.requests)
    config = LLMConfig.from_settings(settings)
    assert config is not None
    for shown in (repr(config), repr(LLMReviewer(config, redis)), repr(settings)):
        assert API_KEY not in shown
    assert API_KEY in settings.secret_values()  # so the log redaction knows it too
