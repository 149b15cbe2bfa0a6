"""Czech words (pure): diacritics, word frequencies, the lexicon built once per process (what a word is:
tests/domain/test_review.py, test_word_count)."""

from __future__ import annotations

import threading

import pytest

from mluv.domain import czech
from mluv.domain.czech import strip_diacritics, warm_up, zipf_frequency
from mluv.domain.review import DIACRITICS_MARGIN


@pytest.fixture(scope="module", autouse=True)
def lexicon() -> None:
    warm_up()


def test_strip_diacritics() -> None:
    assert strip_diacritics("Děkuji") == "dekuji"
    assert strip_diacritics("ŽLUŤOUČKÝ kůň") == "zlutoucky kun"
    assert strip_diacritics("Ve\u0301tr") == "vetr"


def test_zipf_frequency_reflects_omitted_diacritics_on_the_web() -> None:
    assert zipf_frequency("děkuji") - zipf_frequency("dekuji") >= DIACRITICS_MARGIN
    assert zipf_frequency("Děkuji") == zipf_frequency("děkuji")
    assert zipf_frequency("xqzvbn") == 0.0


def test_lexicon_is_built_once_across_threads() -> None:
    results: list[czech.Lexicon] = []

    def build() -> None:
        results.append(czech.get_lexicon())

    threads = [threading.Thread(target=build) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(results) == 8
    assert all(result is results[0] for result in results)
    assert warm_up() == results[0].build_seconds
