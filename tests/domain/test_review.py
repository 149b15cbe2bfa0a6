"""Review of Czech: the offline rules, the Review as JSON, the online reviewer and its fallback."""

from __future__ import annotations

import asyncio
import json
import threading
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import pytest
from aiohttp import web
from pydantic import SecretStr, ValidationError

from mluv.domain import review as review_module
from mluv.domain.review import (
    Correction,
    OfflineReviewer,
    OpenAIReviewer,
    Review,
    count_words,
    review_offline,
    review_text,
    strip_diacritics,
    warm_up,
    zipf_frequency,
)

API_KEY = "sk-test-0123456789abcdefghijklmnop"


@pytest.fixture(scope="module", autouse=True)
def lexicon() -> None:
    warm_up()


def fixes(text: str) -> list[tuple[str, str | None, str]]:
    return [(c.original, c.suggestion, c.kind) for c in review_offline(text).corrections]


# ---------------------------------------------------------------------------------------------------
# Offline reviewer


@pytest.mark.parametrize(
    ("text", "corrected"),
    [
        ("dekuji", "děkuji"),
        ("Dekuji", "Děkuji"),
        ("DEKUJI", "DĚKUJI"),
        ("Dobry den", "Dobrý den"),
        ("jak se mas", "jak se máš"),
        ("Prosim", "Prosím"),
        ("Ja nevim, co mam delat.", "Já nevím, co mám dělat."),
        ("Zitra pujdu do kina s kamaradkou!", "Zítra půjdu do kina s kamarádkou!"),
        ("Muzete mi pomoct?", "Můžete mi pomoct?"),
        ("Potrebuji lekare.", "Potřebuji lékaře."),  # I need, not "they need" (potřebují)
        ("Učím se cesky.", "Učím se česky."),  # the adverb, not the adjective "český"
        ("Tomas bydli v Plzni.", "Tomáš bydlí v Plzni."),
        ("Dékuji moc", "Děkuji moc"),  # wrong diacritics
        ("«Dobry den», rekl Petr.", "«Dobrý den», řekl Petr."),
    ],
)
def test_missing_diacritics_are_corrected(text: str, corrected: str) -> None:
    review = review_offline(text)
    assert review.corrected_text == corrected
    assert review.corrections
    assert all(c.kind == "diacritics" for c in review.corrections)
    assert review.correctness < 100


@pytest.mark.parametrize(
    ("word", "suggestion"),
    [("dekuji", "děkuji"), ("Dobry", "Dobrý"), ("mas", "máš"), ("Prosim", "Prosím"), ("NEVIM", "NEVÍM")],
)
def test_suggestion_keeps_the_capitalisation(word: str, suggestion: str) -> None:
    assert fixes(word) == [(word, suggestion, "diacritics")]


@pytest.mark.parametrize(
    "text",
    [
        "Dobrý den, jak se máš?",
        "Ahoj, jmenuju se Anna a učím se česky.",
        "Včera jsem byl v práci a večer jsem vařil večeři.",
        "Bydlím v Brně a mám malý byt.",  # byt (flat) is a word, not a missing "být"
        "Vyber si, co chceš.",  # vyber (choose!), not "výběr"
        "Zprava doleva.",  # zprava (from the right), not "zpráva"
        "Pracuji jako programátor.",  # pracuji (I work) and pracují (they work) are both words
        "Mluvím rusky a ukrajinsky.",  # adverbs, not the adjectives ruský/ukrajinský
        "Šli jsme ze školy do lesa.",  # ze (from) is not a missing "že"
        "Moje kamarádka Olesja bydlí v Kyjevě.",  # a name mid-sentence is not an unknown word
        "Pracuji v NATO.",
        "",
    ],
)
def test_correct_text_gets_no_corrections_and_full_score(text: str) -> None:
    review = review_offline(text)
    assert review.corrections == []
    assert review.unknown_words == []
    assert review.corrected_text == text
    assert review.correctness == 100


@pytest.mark.parametrize(
    ("text", "unknown"),
    [
        ("xqzvbn", ["xqzvbn"]),
        ("Mám rád xqzvbn a blorfik.", ["xqzvbn", "blorfik"]),
        ("Xqzvbn je divný.", ["Xqzvbn"]),  # capitalised at the start of a sentence: not a name
        ("xqzvbn, xqzvbn", ["xqzvbn"]),  # listed once
        ("Привет, jak se máš?", ["Привет"]),  # Czech is written in Latin letters
    ],
)
def test_unknown_words(text: str, unknown: list[str]) -> None:
    review = review_offline(text)
    assert review.unknown_words == unknown
    assert {c.original for c in review.corrections if c.kind == "unknown"} == set(unknown)
    assert all(c.suggestion is None for c in review.corrections if c.kind == "unknown")
    assert review.corrected_text == text  # unknown words are reported, not changed


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ("", 0),
        ("   \n ", 0),
        ("Ahoj", 1),
        ("Dobrý den!", 2),
        ("Dobry den, jak se mas?", 5),
        ("Je mi 25 let.", 3),  # numbers are not words
        ("2025", 0),
        ("e-mail", 2),
        ("5x", 1),
        ("Pište na jan.novak@seznam.cz nebo https://mluv.me/a?b=c", 3),  # no words inside addresses
        ("@mluv_bot /start #čeština ahoj", 1),
        ("Ahoj 👋🙂 jak je?", 3),
        ("Ve\u0301tr", 1),  # a decomposed accent continues the word
        ("Привет, как дела", 3),
    ],
)
def test_word_count(text: str, words: int) -> None:
    assert count_words(text) == words
    assert review_offline(text).word_count == words


def test_punctuation_and_spacing_are_preserved() -> None:
    text = "  Dobry den!!! Jak se mas?\n\n(Dekuji…)  "
    assert review_offline(text).corrected_text == "  Dobrý den!!! Jak se máš?\n\n(Děkuji…)  "


def test_positions_point_into_the_text() -> None:
    text = "Ahoj! Dekuji, ze jsi prisel. xqzvbn"
    review = review_offline(text)
    assert [(c.original, c.kind) for c in review.corrections] == [
        ("Dekuji", "diacritics"),
        ("prisel", "diacritics"),
        ("xqzvbn", "unknown"),
    ]
    for correction in review.corrections:
        assert correction.start is not None and correction.end is not None
        assert text[correction.start : correction.end] == correction.original


@pytest.mark.parametrize(
    ("text", "score"),
    [
        ("Dobrý den", 100),
        ("Dobry den", 50),
        ("jak se mas", 66),  # 2 of 3, rounded down: 100 only when nothing is wrong
        ("dekuji", 0),
        ("Ja mam rad xqzvbn", 0),
        ("Mám rád kávu a čaj a xqzvbn", 85),
    ],
)
def test_correctness_is_the_share_of_words_without_corrections(text: str, score: int) -> None:
    assert review_offline(text).correctness == score


def test_strip_diacritics() -> None:
    assert strip_diacritics("Děkuji") == "dekuji"
    assert strip_diacritics("ŽLUŤOUČKÝ kůň") == "zlutoucky kun"
    assert strip_diacritics("Ve\u0301tr") == "vetr"


def test_zipf_frequency_reflects_omitted_diacritics_on_the_web() -> None:
    assert zipf_frequency("děkuji") - zipf_frequency("dekuji") >= review_module.DIACRITICS_MARGIN
    assert zipf_frequency("Děkuji") == zipf_frequency("děkuji")
    assert zipf_frequency("xqzvbn") == 0.0


def test_lexicon_is_built_once_across_threads() -> None:
    results: list[review_module._Lexicon] = []

    def build() -> None:
        results.append(review_module._get_lexicon())

    threads = [threading.Thread(target=build) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(results) == 8
    assert all(result is results[0] for result in results)
    assert warm_up() == results[0].build_seconds


def test_review_of_a_hundred_words_is_deterministic() -> None:
    # Its speed is a benchmark figure (bench/handler_latency.py), not a timed assertion here.
    sentence = "Ja nevim, co mam delat, ale dnes je krasny den a ja jsem stastny, protoze mam xqzvbn. "
    text = sentence * 6
    assert 90 <= count_words(text) <= 110
    reviewer = OfflineReviewer()
    reviews = [reviewer.review(text) for _ in range(3)]
    assert reviews[0] == reviews[1] == reviews[2]
    assert reviews[0].correctness is not None and reviews[0].correctness < 100  # "xqzvbn", missing háčky


# ---------------------------------------------------------------------------------------------------
# The Review as JSON


def test_json_round_trip_offline() -> None:
    review = review_offline("Dobry den, xqzvbn!")
    stored = json.loads(json.dumps(review.to_json()))  # what comes back from a JSONB column
    assert Review.from_json(stored) == review
    assert stored["reviewer"] == "offline"
    assert stored["corrections"][0] == {
        "original": "Dobry",
        "suggestion": "Dobrý",
        "kind": "diacritics",
        "start": 0,
        "end": 5,
        "explanation": None,
    }


def test_json_round_trip_with_online_fields() -> None:
    review = Review(
        word_count=3,
        correctness=66,
        corrections=[
            Correction(original="jsem byl", suggestion="jsem byla", kind="grammar", explanation="Род.")
        ],
        corrected_text="Včera jsem byla doma.",
        reviewer="openai",
        comment="Молодец!",
    )
    assert Review.from_json(json.loads(json.dumps(review.to_json()))) == review


def test_from_json_ignores_unknown_keys_and_validates() -> None:
    data = review_offline("Ahoj").to_json() | {"added_in_a_later_version": 1}
    assert Review.from_json(data).word_count == 1
    with pytest.raises(ValidationError):
        Review.from_json(data | {"correctness": 101})


# ---------------------------------------------------------------------------------------------------
# Online reviewer against a local fake of the chat-completions endpoint


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
    monkeypatch.setattr(review_module, "log", logger)
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
