"""Czech morphology for the grammar rules (pure): nouns (`nouns.py`: patterns, case forms, readings of a
written form; `irregular.py`: nouns written out) and the words that agree with them (`adjectives.py`).

Everything generated is checked against Hunspell's cs_CZ dictionary (`mluv.domain.spelling`): a form the
dictionary does not give for the same lemma is never suggested. Precision over recall: when a word's
analysis is uncertain, the rules that use this package say nothing.
"""

from mluv.domain.morphology.adjectives import (
    Modifier,
    adjective_lemma,
    modifier,
    modifier_forms,
    predicate_form,
    predicate_gender,
)
from mluv.domain.morphology.nouns import (
    CASES,
    SLOTS,
    Case,
    Gender,
    Noun,
    Number,
    Reading,
    Readings,
    Slot,
    noun_readings,
    nouns,
)

__all__ = [
    "CASES",
    "SLOTS",
    "Case",
    "Gender",
    "Modifier",
    "Noun",
    "Number",
    "Reading",
    "Readings",
    "Slot",
    "adjective_lemma",
    "modifier",
    "modifier_forms",
    "noun_readings",
    "nouns",
    "predicate_form",
    "predicate_gender",
]
