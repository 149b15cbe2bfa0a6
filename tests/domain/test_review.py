"""Review of Czech: the offline word rules, how the grammar rules join them, the score by level, and the
Review as JSON (the rules themselves: test_spelling, test_morphology, test_grammar; online: tests/reviewers).
"""

from __future__ import annotations

import itertools
import json

import pytest
from pydantic import ValidationError

from mluv.domain import review as review_module
from mluv.domain import spelling
from mluv.domain.czech import count_words
from mluv.domain.review import LEVELS, Correction, Level, OfflineReviewer, Review, review_offline, warm_up


@pytest.fixture(scope="module", autouse=True)
def lexicon() -> None:
    warm_up()


def fixes(text: str) -> list[tuple[str, str | None, str]]:
    return [(c.original, c.suggestion, c.kind) for c in review_offline(text).corrections]


def rules(text: str) -> list[tuple[str | None, str, str | None]]:
    return [(c.rule, c.original, c.suggestion) for c in review_offline(text).corrections]


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
    assert all(c.kind == "diacritics" and c.rule == "diacritics" for c in review.corrections)
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
    assert all(c.suggestion is None and c.rule is None for c in review.corrections if c.kind == "unknown")
    assert review.corrected_text == text  # unknown words are reported, not changed


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Jsem studnet.", [("spelling", "studnet", "student")]),
        ("Jím jabloko.", [("spelling", "jabloko", "jablko")]),  # on the web, but rare beside "jablko"
        ("Bidlím v Praze.", [("spelling", "Bidlím", "Bydlím")]),
        ("Moje máma je učytelka.", [("spelling", "učytelka", "učitelka")]),
        ("Bydlím v Praze, jmenuju se petr.", [("capitalisation", "petr", "Petr")]),
        ("Pracuju v evropě.", [("capitalisation", "evropě", "Evropě")]),
        ("Jedu do nemecka.", [("diacritics", "nemecka", "Německa")]),  # a name keeps its capital
        ("Máme doma košku.", [("spelling", "košku", "kočku")]),  # a typo, not the surname Koška
        ("Jmenuju se Olga.", []),  # colloquial, known to wordfreq
        ("Dám si kafe.", []),
        ("Mám bio jogurt.", []),  # "bio" is a word, not the name Bia
    ],
)
def test_spelling_and_names(text: str, expected: list[tuple[str, str, str]]) -> None:
    review = review_offline(text)
    assert rules(text) == expected
    assert all(c.kind == "spelling" for c in review.corrections if c.rule in ("spelling", "capitalisation"))


def test_only_the_first_unknown_words_get_a_slow_suggestion(monkeypatch: pytest.MonkeyPatch) -> None:
    asked: list[str] = []

    def slow(word: str, lexicon: object) -> str | None:
        asked.append(word)
        return None

    monkeypatch.setattr(spelling, "slow_correction", slow)
    review_offline("xqzvbn blorfik qwrtzp")
    assert asked == ["xqzvbn", "blorfik", "qwrtzp"][: review_module.MAX_SLOW_SUGGESTIONS]


@pytest.mark.parametrize(
    ("text", "corrected", "expected"),
    [
        ("Chci jít do kino.", "Chci jít do kina.", [("preposition-case", "kino", "kina")]),
        ("Já bydlím v Praha.", "Já bydlím v Praze.", [("preposition-case", "Praha", "Praze")]),
        ("Mám dva sestry.", "Mám dvě sestry.", [("numeral-agreement", "dva", "dvě")]),
        ("Moje sestra je velký.", "Moje sestra je velká.", [("adjective-agreement", "velký", "velká")]),
        ("Jdu k doktor.", "Jdu k doktorovi.", [("preposition-case", "doktor", "doktorovi")]),
        # The grammar rules read the words with their diacritics and capitals fixed; their correction
        # replaces the word rule's.
        ("Jdu do skola.", "Jdu do školy.", [("preposition-case", "skola", "školy")]),
        ("Bydlím v praha.", "Bydlím v Praze.", [("preposition-case", "praha", "Praze")]),
        (
            "Já je studnet.",
            "Já jsem student.",
            [("byt-form", "je", "jsem"), ("spelling", "studnet", "student")],
        ),
    ],
)
def test_grammar_rules_join_the_word_rules(
    text: str, corrected: str, expected: list[tuple[str, str, str]]
) -> None:
    review = review_offline(text)
    assert rules(text) == expected
    assert review.corrected_text == corrected
    assert all(c.kind == "grammar" for c in review.corrections if c.rule not in ("spelling", "diacritics"))
    assert review.checks == ["diacritics", "spelling", "grammar_rules"]


@pytest.mark.parametrize("text", ["Привет, как дела?", "🙂👍", "12:30", "", "   \n "])
def test_a_text_without_latin_letters_is_not_reviewed(text: str) -> None:
    review = review_offline(text)
    assert review.corrections == []
    assert review.unknown_words == []
    assert review.checks == []
    assert review.correctness == 100
    assert review.word_count == count_words(text)


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


@pytest.mark.parametrize(
    "text",
    [
        "Ahoj! Dekuji, ze jsi prisel. xqzvbn",
        "Jdu do velké kino a pak k doktor, protože mám dva sestry.",
        "  Ja  bydlim\tv  Praha.\n\nStudnet je  tady. ",
        "Ve\u0301tr je silný, my jsou doma.",
    ],
)
def test_positions_point_into_the_text(text: str) -> None:
    review = review_offline(text)
    assert review.corrections
    for correction in review.corrections:
        assert correction.start is not None and correction.end is not None
        assert text[correction.start : correction.end] == correction.original
    spans = [(c.start or 0, c.end or 0) for c in review.corrections]
    assert spans == sorted(spans)
    assert all(end <= start for (_, end), (start, _) in itertools.pairwise(spans))  # no overlap


@pytest.mark.parametrize(
    ("text", "level", "score"),
    [
        ("Dobrý den", "beginner", 100),
        ("Dobry den", "beginner", 75),  # a diacritics-only mistake counts half for a beginner
        ("Dobry den", "intermediate", 50),
        ("Dobry den", "advanced", 50),
        ("jak se mas", "beginner", 83),  # 2.5 of 3, rounded down: 100 only when nothing is wrong
        ("jak se mas", "advanced", 66),
        ("dekuji", "beginner", 50),
        ("dekuji", "intermediate", 0),
        ("Chci jít do kino", "beginner", 75),  # a grammar mistake counts whole at every level
        ("Chci jít do kino", "advanced", 75),
        ("Ja mam rad xqzvbn", "beginner", 37),
        ("Ja mam rad xqzvbn", "advanced", 0),
        ("Mám rád kávu a čaj a xqzvbn", "beginner", 85),
        ("Jdu do velké kino", "advanced", 50),  # a correction of two words marks both
    ],
)
def test_correctness_is_the_share_of_words_without_corrections(text: str, level: Level, score: int) -> None:
    assert review_offline(text, level=level).correctness == score


@pytest.mark.parametrize("level", LEVELS)
def test_the_level_changes_only_the_score(level: Level) -> None:
    text = "Dobry den, chci jít do kino."
    review, beginner = review_offline(text, level=level), review_offline(text)
    assert review.corrections == beginner.corrections
    assert review.corrected_text == beginner.corrected_text
    assert (review.correctness == beginner.correctness) == (level == "beginner")


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
        "rule": "diacritics",
        "params": {},
    }
    assert stored["checks"] == ["diacritics", "spelling", "grammar_rules"]


def test_json_round_trip_with_a_grammar_rule() -> None:
    review = review_offline("Mám dva sestry.")
    stored = json.loads(json.dumps(review.to_json()))
    assert Review.from_json(stored) == review
    assert stored["corrections"][0]["params"] == {"numeral": "dva", "gender": "feminine"}


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
