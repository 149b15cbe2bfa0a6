"""Review of Czech: the offline rules and the Review as JSON (the online reviewer: tests/reviewers)."""

from __future__ import annotations

import json

import pytest
from pydantic import ValidationError

from mluv.domain.czech import count_words, warm_up
from mluv.domain.review import Correction, OfflineReviewer, Review, review_offline


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
        "rule": None,
        "params": {},
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
