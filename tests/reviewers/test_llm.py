"""The online reviewer against a local fake of an OpenAI-compatible chat-completions endpoint: a good
answer, a fenced one, every kind of error falling back to the offline review, the key never logged."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import pytest
from aiohttp import web
from pydantic import SecretStr

from mluv.domain.czech import count_words, warm_up
from mluv.domain.review import Review, review_offline
from mluv.reviewers import llm
from mluv.reviewers.llm import OpenAIReviewer, review_text

API_KEY = "sk-test-0123456789abcdefghijklmnop"


@pytest.fixture(scope="module", autouse=True)
def lexicon() -> None:
    warm_up()


Responder = Callable[[web.Request], Awaitable[web.StreamResponse]]


@dataclass
class FakeOpenAI:
    base_url: str = ""
    respond: Responder | None = None
    requests: list[dict[str, Any]] = field(default_factory=list)
    authorizations: list[str | None] = field(default_factory=list)
    release: asyncio.Event = field(default_factory=asyncio.Event)


def completion(content: str) -> dict[str, Any]:
    return {
        "id": "chatcmpl-1",
        "choices": [{"index": 0, "message": {"role": "assistant", "content": content}}],
    }


GOOD_ANSWER = {
    "corrected_text": "Včera jsem byla v kině.",
    "correctness": 60,
    "corrections": [
        {
            "original": "byl",
            "suggestion": "byla",
            "kind": "grammar",
            "explanation": "Говоришь о себе в женском роде: byla.",
        },
        {"original": "kine", "suggestion": "kině", "kind": "Diacritics", "explanation": "Нужен háček."},
        {"original": "nope", "suggestion": "nic", "kind": "made-up", "explanation": ""},
    ],
    "comment": "Хорошая попытка!",
}


@pytest.fixture
async def fake_openai() -> AsyncIterator[FakeOpenAI]:
    fake = FakeOpenAI()

    async def handler(request: web.Request) -> web.StreamResponse:
        fake.requests.append(await request.json())
        fake.authorizations.append(request.headers.get("Authorization"))
        assert fake.respond is not None
        return await fake.respond(request)

    app = web.Application()
    app.router.add_post("/v1/chat/completions", handler)
    runner = web.AppRunner(app, shutdown_timeout=0.5)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    host, port = runner.addresses[0][:2]
    fake.base_url = f"http://{host}:{port}/v1"
    try:
        yield fake
    finally:
        fake.release.set()
        await runner.cleanup()


class RecordingLogger:
    def __init__(self) -> None:
        self.records: list[tuple[str, str, dict[str, Any]]] = []

    def warning(self, event: str, **fields: Any) -> None:
        self.records.append(("warning", event, fields))

    def info(self, event: str, **fields: Any) -> None:
        self.records.append(("info", event, fields))


@pytest.fixture
def recorded(monkeypatch: pytest.MonkeyPatch) -> RecordingLogger:
    logger = RecordingLogger()
    monkeypatch.setattr(llm, "log", logger)
    return logger


async def test_online_review_with_a_good_answer(fake_openai: FakeOpenAI, recorded: RecordingLogger) -> None:
    async def respond(_: web.Request) -> web.StreamResponse:
        return web.json_response(completion(json.dumps(GOOD_ANSWER, ensure_ascii=False)))

    fake_openai.respond = respond
    text = "Včera jsem byl v kine."
    review = await review_text(
        text, language="uk", openai_api_key=API_KEY, openai_base_url=fake_openai.base_url, openai_model="m-1"
    )

    assert review.reviewer == "openai"
    assert review.word_count == count_words(text) == 5
    assert review.correctness == 60
    assert review.corrected_text == "Včera jsem byla v kině."
    assert review.comment == "Хорошая попытка!"
    assert [(c.original, c.suggestion, c.kind) for c in review.corrections] == [
        ("byl", "byla", "grammar"),
        ("kine", "kině", "diacritics"),
        ("nope", "nic", "other"),
    ]
    byl, kine, nope = review.corrections
    assert (byl.start, byl.end) == (11, 14) and text[11:14] == "byl"
    assert kine.start is not None and text[kine.start : kine.end] == "kine"
    assert (nope.start, nope.end, nope.explanation) == (None, None, None)
    assert Review.from_json(review.to_json()) == review

    assert fake_openai.authorizations == [f"Bearer {API_KEY}"]
    request = fake_openai.requests[0]
    assert request["model"] == "m-1"
    assert request["response_format"] == {"type": "json_object"}
    assert request["messages"][1] == {"role": "user", "content": text}
    assert "Ukrainian" in request["messages"][0]["content"]
    assert recorded.records == []


async def test_online_review_accepts_a_fenced_answer_and_caps_the_score(fake_openai: FakeOpenAI) -> None:
    answer = GOOD_ANSWER | {"correctness": 100}

    async def respond(_: web.Request) -> web.StreamResponse:
        return web.json_response(completion(f"```json\n{json.dumps(answer)}\n```"))

    fake_openai.respond = respond
    review = await OpenAIReviewer(SecretStr(API_KEY), base_url=fake_openai.base_url).review(
        "Včera jsem byl v kine.", language="ru"
    )
    assert review.reviewer == "openai"
    assert review.correctness == 99  # corrections were made: not a perfect score


async def _server_error(_: web.Request) -> web.StreamResponse:
    return web.json_response({"error": {"message": "boom"}}, status=500)


async def _unauthorized(_: web.Request) -> web.StreamResponse:
    return web.json_response({"error": {"message": f"Incorrect API key provided: {API_KEY}"}}, status=401)


async def _garbage_body(_: web.Request) -> web.StreamResponse:
    return web.Response(text="<html>502 Bad Gateway</html>", content_type="text/html")


async def _content_not_json(_: web.Request) -> web.StreamResponse:
    return web.json_response(completion("Sorry, I cannot help with that."))


async def _answer_fails_validation(_: web.Request) -> web.StreamResponse:
    return web.json_response(completion(json.dumps(GOOD_ANSWER | {"correctness": 150})))


async def _no_choices(_: web.Request) -> web.StreamResponse:
    return web.json_response({"choices": []})


@pytest.mark.parametrize(
    "respond",
    [_server_error, _unauthorized, _garbage_body, _content_not_json, _answer_fails_validation, _no_choices],
)
async def test_online_errors_fall_back_to_offline(
    fake_openai: FakeOpenAI, recorded: RecordingLogger, respond: Responder
) -> None:
    fake_openai.respond = respond
    text = "Dobry den, jak se mas?"
    review = await review_text(
        text, language="ru", openai_api_key=API_KEY, openai_base_url=fake_openai.base_url
    )

    assert review == review_offline(text)
    assert review.reviewer == "offline"
    assert len(fake_openai.requests) == 1
    assert [(level, event) for level, event, _ in recorded.records] == [
        ("warning", "online review failed, falling back to offline")
    ]
    assert API_KEY not in repr(recorded.records)


async def test_timeout_falls_back_to_offline(fake_openai: FakeOpenAI, recorded: RecordingLogger) -> None:
    async def respond(_: web.Request) -> web.StreamResponse:
        await fake_openai.release.wait()
        return web.json_response(completion(json.dumps(GOOD_ANSWER)))

    fake_openai.respond = respond
    started = time.perf_counter()
    review = await review_text(
        "Dekuji",
        language="ru",
        openai_api_key=API_KEY,
        openai_base_url=fake_openai.base_url,
        openai_timeout=0.3,
    )
    assert time.perf_counter() - started < 2
    assert review.reviewer == "offline"
    assert review.corrected_text == "Děkuji"
    assert recorded.records[0][2]["error"] == "TimeoutError"
    assert API_KEY not in repr(recorded.records)


async def test_unreachable_endpoint_falls_back_to_offline(
    unused_tcp_port: int, recorded: RecordingLogger
) -> None:
    review = await review_text(
        "Dekuji",
        language="uk",
        openai_api_key=API_KEY,
        openai_base_url=f"http://127.0.0.1:{unused_tcp_port}/v1",
    )
    assert review.reviewer == "offline"
    assert recorded.records[0][2]["error"] in {"ClientConnectorError", "ClientConnectionError"}
    assert API_KEY not in repr(recorded.records)


@pytest.mark.parametrize("key", [None, "", SecretStr("")])
async def test_without_a_key_the_review_is_offline(key: str | SecretStr | None) -> None:
    review = await review_text("Dobry den", language="ru", openai_api_key=key)
    assert review == review_offline("Dobry den")


def test_the_key_is_not_in_the_reviewers_repr() -> None:
    reviewer = OpenAIReviewer(API_KEY)
    assert API_KEY not in repr(reviewer)
    assert reviewer.base_url == "https://api.openai.com/v1"
    assert reviewer.model == "gpt-4o-mini"
    with pytest.raises(ValueError, match="API key"):
        OpenAIReviewer("")
