"""The offline reviewer on the labelled learner sentences: the targets of bench/review_quality.py.

Precision ≥ 0.9 for each rule that found anything, false alarms on correct sentences ≤ 3 %, and none of
the issue's five sentences praised, in either language. Recall is reported by the benchmark, not asserted.
The set itself is checked here too: it is ground truth, so it must parse and cover every rule.
"""

from __future__ import annotations

import functools
from collections.abc import Iterator

import pytest

from bench.review_quality import ISSUE_SENTENCES, Quality, Sentence, is_praised, load_set, score
from mluv import i18n
from mluv.domain.feedback import format_feedback
from mluv.domain.review import RULE_IDS, review_offline

MIN_PRECISION = 0.9
MAX_FALSE_ALARMS = 0.03
NO_MISTAKES = {"ru": "ни одной ошибки", "uk": "жодної помилки"}


@pytest.fixture(autouse=True)
def strict_texts() -> Iterator[None]:
    i18n.set_strict(True)
    yield
    i18n.set_strict(False)


@functools.cache
def sentences() -> tuple[Sentence, ...]:
    return tuple(load_set())


@functools.cache
def quality() -> Quality:
    return score(sentences())


def test_the_set_is_large_enough_and_covers_every_rule() -> None:
    ok = [s for s in sentences() if not s.errors]
    wrong = [s for s in sentences() if s.errors]
    assert len(sentences()) >= 300
    assert len(ok) >= 120
    assert len(wrong) >= 180
    assert len({s.text for s in sentences()}) == len(sentences())  # no sentence twice
    for rule in RULE_IDS:
        assert sum(1 for s in wrong if any(e.rule == rule for e in s.errors)) >= 20, rule
    for sentence in ISSUE_SENTENCES:
        assert any(s.text == sentence and s.errors for s in sentences()), sentence


@pytest.mark.parametrize("rule", RULE_IDS)
def test_precision_of_each_rule_that_found_anything(rule: str) -> None:
    figures = quality().rules[rule]
    mistaken = [fp for fp in quality().false_positives if fp["rule"] == rule]
    assert figures.precision is None or figures.precision >= MIN_PRECISION, mistaken


def test_false_alarms_on_correct_sentences() -> None:
    assert quality().false_alarm_rate <= MAX_FALSE_ALARMS, quality().alarms


@pytest.mark.parametrize("language", ["ru", "uk"])
@pytest.mark.parametrize("sentence", ISSUE_SENTENCES)
def test_the_issue_sentences_are_not_praised(sentence: str, language: str) -> None:
    review = review_offline(sentence)
    feedback = format_feedback(review, language)
    assert not is_praised(review), feedback
    assert any(c.rule not in (None, "diacritics") for c in review.corrections), review.corrections
    assert NO_MISTAKES[language] not in feedback
