"""The merge of an offline review with the model's answer (pure): rule findings are never dropped, one
place is one correction, the corrected text never contradicts a rule, the score never forgives a rule."""

from __future__ import annotations

from typing import Any

import pytest

from mluv.domain.review import Correction, Review
from mluv.reviewers.answer import Answer
from mluv.reviewers.merge import MERGED_CHECKS, merge

TEXT = "Chci jít do kino a mam dva sestry."
#       0123456789012345678901234567890123
KINO = Correction(
    original="kino",
    suggestion="kina",
    kind="grammar",
    start=12,
    end=16,
    rule="preposition-case",
    params={"preposition": "do", "case": "genitive"},
)
MAM = Correction(original="mam", suggestion="mám", kind="diacritics", start=19, end=22, rule="diacritics")
DVA = Correction(
    original="dva",
    suggestion="dvě",
    kind="grammar",
    start=23,
    end=26,
    rule="numeral-agreement",
    params={"numeral": "dva", "gender": "feminine"},
)
UNKNOWN = Correction(original="sestry", suggestion=None, kind="unknown", start=27, end=33)


def offline(*corrections: Correction, correctness: int = 62) -> Review:
    return Review(
        word_count=8,
        correctness=correctness if corrections else 100,
        corrections=list(corrections),
        unknown_words=[c.original for c in corrections if c.kind == "unknown"],
        corrected_text=TEXT,
        reviewer="offline",
        checks=["diacritics", "spelling", "grammar_rules"],
    )


def answer(
    *corrections: tuple[str, str, str | None], corrected: str = TEXT, correctness: float = 80
) -> Answer:
    return Answer.model_validate(
        {
            "corrected_text": corrected,
            "correctness": correctness,
            "corrections": [
                {"original": o, "suggestion": s, "kind": "grammar", "explanation": e}
                for o, s, e in corrections
            ],
            "comment": " Dobře! ",
        }
    )


def summary(review: Review) -> list[tuple[Any, ...]]:
    return [(c.original, c.suggestion, c.rule, c.explanation) for c in review.corrections]


@pytest.mark.parametrize(
    ("found", "model", "expected"),
    [
        pytest.param(
            [KINO, MAM],
            [],
            [("kino", "kina", "preposition-case", None), ("mam", "mám", "diacritics", None)],
            id="model-missed-everything-rules-kept",
        ),
        pytest.param(
            [KINO],
            [("do kino", "do kina", "genitiv")],
            [("kino", "kina", "preposition-case", "genitiv")],
            id="overlap-rule-kept-with-the-model-explanation",
        ),
        pytest.param(
            [KINO],
            [("kino", "kina", None)],
            [("kino", "kina", "preposition-case", None)],
            id="overlap-without-explanation",
        ),
        pytest.param(
            [KINO],
            [("dva", "dvě", "ženský rod")],
            [("kino", "kina", "preposition-case", None), ("dva", "dvě", None, "ženský rod")],
            id="the-models-other-finding-added",
        ),
        pytest.param(
            [UNKNOWN],
            [("sestry", "sestry!", "x")],
            [("sestry", "sestry!", None, "x")],
            id="an-offline-correction-without-a-rule-gives-way",
        ),
        pytest.param(
            [UNKNOWN],
            [],
            [("sestry", None, None, None)],
            id="an-offline-correction-without-a-rule-stays-when-alone",
        ),
        pytest.param(
            [KINO.model_copy(update={"suggestion": None})],
            [("kino", "kina", "genitiv")],
            [("kino", "kina", "preposition-case", "genitiv")],
            id="a-rule-without-suggestion-takes-the-models-for-the-same-span",
        ),
        pytest.param(
            [KINO.model_copy(update={"suggestion": None})],
            [("do kino", "do kina", "genitiv")],
            [("kino", None, "preposition-case", "genitiv")],
            id="but-not-for-a-wider-span",
        ),
        pytest.param(
            [MAM],
            [("nowhere", "nikde", "?")],
            [("mam", "mám", "diacritics", None), ("nowhere", "nikde", None, "?")],
            id="an-unlocated-model-correction-comes-last",
        ),
    ],
)
def test_corrections(
    found: list[Correction], model: list[tuple[str, str, str | None]], expected: Any
) -> None:
    merged = merge(TEXT, offline(*found), answer(*model))
    assert summary(merged) == expected
    kept = {(c.rule, c.start, c.end, c.params.get("case")) for c in merged.corrections}
    assert {(c.rule, c.start, c.end, c.params.get("case")) for c in found if c.rule} <= kept


@pytest.mark.parametrize(
    ("found", "model", "model_text", "expected"),
    [
        pytest.param(
            [KINO, MAM],
            [("do kino", "do kina", None), ("mam", "mám", None)],
            "Chci jít do kina a mám dvě sestry.",
            "Chci jít do kina a mám dvě sestry.",
            id="the-model-fixed-every-rule-its-text-kept",
        ),
        pytest.param(
            [KINO, MAM, DVA],
            [("do kino", "do kina", None)],
            "Chci jít do kina a mam dva sestry.",
            "Chci jít do kina a mám dvě sestry.",
            id="a-missed-rule-the-text-is-rebuilt",
        ),
        pytest.param(
            [KINO],
            [("kino", "kinu", None)],
            "Chci jít do kinu a mam dva sestry.",
            "Chci jít do kina a mam dva sestry.",
            id="a-disagreement-the-rule-wins",
        ),
        pytest.param([], [], TEXT, TEXT, id="nothing-to-correct"),
    ],
)
def test_corrected_text(
    found: list[Correction], model: list[tuple[str, str, str | None]], model_text: str, expected: str
) -> None:
    assert merge(TEXT, offline(*found), answer(*model, corrected=model_text)).corrected_text == expected


@pytest.mark.parametrize(
    ("found", "offline_score", "model", "model_score", "expected"),
    [
        pytest.param([], 100, [], 100, 100, id="nothing-found"),
        pytest.param([], 100, [("dva", "dvě", None)], 100, 99, id="a-correction-is-never-100"),
        pytest.param([], 100, [("dva", "dvě", None)], 87.6, 88, id="the-models-score-rounded"),
        pytest.param([KINO], 75, [], 100, 75, id="never-above-offline-when-a-rule-found-something"),
        pytest.param([KINO], 75, [("do kino", "do kina", None)], 60, 60, id="the-model-may-be-stricter"),
        pytest.param([UNKNOWN], 87, [], 95, 95, id="no-rule-finding-no-offline-cap"),
    ],
)
def test_score(
    found: list[Correction],
    offline_score: int,
    model: list[tuple[str, str, str | None]],
    model_score: float,
    expected: int,
) -> None:
    merged = merge(TEXT, offline(*found, correctness=offline_score), answer(*model, correctness=model_score))
    assert merged.correctness == expected


def test_the_merged_review_says_what_was_checked() -> None:
    merged = merge(TEXT, offline(KINO, UNKNOWN), answer(("sestry", "sestry", None)))
    assert merged.reviewer == "openai"
    assert merged.checks == list(MERGED_CHECKS) == ["diacritics", "spelling", "grammar_rules", "grammar"]
    assert merged.word_count == 8
    assert merged.comment == "Dobře!"
    assert merged.unknown_words == ["sestry"]  # the model's same-text "correction" is no correction
    assert Review.from_json(merged.to_json()) == merged
