"""Hunspell's cs_CZ dictionary (pure): what it accepts, its analyses, and the corrections built on it."""

from __future__ import annotations

import threading

import pytest

from mluv.domain import spelling
from mluv.domain.czech import Lexicon, get_lexicon
from mluv.domain.spelling import analyze, edit_distance, fast_correction, slow_correction, spell


@pytest.fixture(scope="module")
def lexicon() -> Lexicon:
    spelling.warm_up()
    return get_lexicon()


@pytest.mark.parametrize(
    ("word", "accepted"),
    [
        ("kino", True),
        ("kina", True),
        ("Praha", True),
        ("praha", False),  # a name written lowercase
        ("Praze", True),
        ("Dobrý", True),  # a lowercase word capitalised
        ("DOBRÝ", True),
        ("studnet", False),
        ("xqzvbn", False),
        ("Привет", False),  # not in the dictionary's encoding: never Czech
        ("voilà", False),
        ("", False),
    ],
)
def test_spell(word: str, accepted: bool) -> None:
    assert spell(word) is accepted


@pytest.mark.parametrize(
    ("word", "analysis"),
    [
        ("Praze", ("Praha", "Z")),
        ("kina", ("kino", "M")),
        ("sester", ("sestra", "Q")),
        ("doktorovi", ("doktor", "P")),
        ("kino", ("kino", None)),  # the entry itself
    ],
)
def test_analyze_names_the_entry_and_its_affix_class(word: str, analysis: tuple[str, str | None]) -> None:
    assert analysis in analyze(word)


@pytest.mark.parametrize("word", ["xqzvbn", "Привет", ""])
def test_analyze_of_a_rejected_word_is_empty(word: str) -> None:
    assert analyze(word) == ()


@pytest.mark.parametrize(
    ("a", "b", "distance"),
    [
        ("student", "student", 0),
        ("studnet", "student", 1),  # a swap of neighbours
        ("jabloko", "jablko", 1),
        ("kino", "kina", 1),
        ("univrzta", "univerzita", 2),
        ("", "abc", 3),
    ],
)
def test_edit_distance(a: str, b: str, distance: int) -> None:
    assert edit_distance(a, b) == distance == edit_distance(b, a)


@pytest.mark.parametrize(
    ("word", "correction"),
    [
        ("studnet", "student"),
        ("kamarádak", "kamarádka"),
        ("učytelka", "učitelka"),
        ("jazik", "jazyk"),
        ("avtobusem", "autobusem"),
        ("knihovana", "knihovna"),
        ("ucitelkka", "učitelka"),  # a typo and missing diacritics at once
        ("protoze", "protože"),
        ("stastny", "šťastný"),  # a word before a name (the surname Štastný)
        ("Studnet", "student"),  # the caller restores the capital
        ("xqzvbn", None),
        ("Привет", None),
    ],
)
def test_fast_correction(lexicon: Lexicon, word: str, correction: str | None) -> None:
    assert fast_correction(word, lexicon) == correction


def test_slow_correction_reaches_two_edits(lexicon: Lexicon) -> None:
    assert fast_correction("univrzta", lexicon) is None
    assert slow_correction("univrzta", lexicon) == "univerzita"
    assert slow_correction("xqzvbn", lexicon) is None


def test_suggestions_are_cached() -> None:
    spelling.suggest.cache_clear()
    first = spelling.suggest("univrzta")
    assert spelling.suggest("univrzta") == first
    assert spelling.suggest.cache_info().hits == 1


def test_the_dictionary_is_loaded_once_across_threads() -> None:
    results: list[object] = []

    def load() -> None:
        results.append(spelling.get_dictionary())

    threads = [threading.Thread(target=load) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(results) == 8
    assert all(result is results[0] for result in results)
    assert spelling.warm_up() == spelling.get_dictionary().load_seconds
