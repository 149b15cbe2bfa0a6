"""Czech morphology (pure): a noun's pattern and gender, its case forms, the cases a written form can be, and
the adjectives and determiners that agree with it."""

from __future__ import annotations

import pytest

from mluv.domain import spelling
from mluv.domain.morphology import (
    Case,
    Gender,
    Modifier,
    Number,
    modifier,
    modifier_forms,
    noun_readings,
    nouns,
    predicate_form,
    predicate_gender,
)


@pytest.fixture(scope="module", autouse=True)
def dictionary() -> None:
    spelling.warm_up()


@pytest.mark.parametrize(
    ("lemma", "pattern", "gender", "animate"),
    [
        ("student", "pán", "masculine", True),
        ("doktor", "pán", "masculine", True),
        ("hrad", "hrad", "masculine", False),
        ("park", "hrad", "masculine", False),
        ("muž", "muž", "masculine", True),
        ("učitel", "muž", "masculine", True),
        ("stroj", "stroj", "masculine", False),
        ("počítač", "stroj", "masculine", False),
        ("předseda", "předseda", "masculine", True),
        ("táta", "předseda", "masculine", True),
        ("soudce", "soudce", "masculine", True),
        ("žena", "žena", "feminine", False),
        ("Praha", "žena", "feminine", False),
        ("růže", "růže", "feminine", False),
        ("restaurace", "růže", "feminine", False),
        ("píseň", "píseň", "feminine", False),
        ("tramvaj", "píseň", "feminine", False),
        ("kost", "kost", "feminine", False),
        ("noc", "kost", "feminine", False),
        ("město", "město", "neuter", False),
        ("Brno", "město", "neuter", False),
        ("moře", "moře", "neuter", False),
        ("letiště", "moře", "neuter", False),
        ("kuře", "kuře", "neuter", False),
        ("stavení", "stavení", "neuter", False),
        ("nádraží", "stavení", "neuter", False),
        ("centrum", "muzeum", "neuter", False),
        ("den", "irregular", "masculine", False),
        ("člověk", "irregular", "masculine", True),
        ("dítě", "irregular", "neuter", False),
    ],
)
def test_a_lemma_gets_its_pattern_and_gender(lemma: str, pattern: str, gender: Gender, animate: bool) -> None:
    assert [(n.pattern, n.gender, n.animate) for n in nouns(lemma)] == [(pattern, gender, animate)]


@pytest.mark.parametrize("lemma", ["xqzvbn", "velký", "vidím", "a"])
def test_a_word_that_is_no_declinable_noun_has_no_pattern(lemma: str) -> None:
    assert nouns(lemma) == ()


@pytest.mark.parametrize(
    ("lemma", "case", "number", "form"),
    [
        ("Praha", "locative", "singular", "Praze"),
        ("kniha", "locative", "singular", "knize"),
        ("matka", "dative", "singular", "matce"),
        ("sestra", "dative", "singular", "sestře"),
        ("sestra", "genitive", "plural", "sester"),
        ("škola", "genitive", "singular", "školy"),
        ("pošta", "accusative", "singular", "poštu"),
        ("kino", "genitive", "singular", "kina"),
        ("kino", "locative", "singular", "kině"),
        ("Brno", "locative", "singular", "Brně"),
        ("Německo", "locative", "singular", "Německu"),
        ("doktor", "dative", "singular", "doktorovi"),
        ("doktor", "nominative", "plural", "doktoři"),
        ("kluk", "nominative", "plural", "kluci"),
        ("les", "genitive", "singular", "lesa"),  # L: genitive -a
        ("hrad", "genitive", "singular", "hradu"),  # H: genitive -u
        ("hrad", "locative", "singular", "hradě"),
        ("hotel", "locative", "singular", "hotelu"),  # never the vocative "hotele"
        ("park", "locative", "plural", "parcích"),
        ("pátek", "genitive", "singular", "pátku"),  # a fleeting e
        ("píseň", "genitive", "singular", "písně"),
        ("Plzeň", "locative", "singular", "Plzni"),
        ("kost", "dative", "plural", "kostem"),
        ("muž", "instrumental", "singular", "mužem"),
        ("stroj", "genitive", "singular", "stroje"),
        ("předseda", "dative", "singular", "předsedovi"),
        ("soudce", "instrumental", "singular", "soudcem"),
        ("kuchyně", "dative", "singular", "kuchyni"),
        ("moře", "locative", "singular", "moři"),
        ("kuře", "genitive", "singular", "kuřete"),
        ("kuře", "nominative", "plural", "kuřata"),
        ("stavení", "instrumental", "singular", "stavením"),
        ("centrum", "genitive", "plural", "center"),
        ("den", "genitive", "singular", "dne"),
        ("rok", "genitive", "plural", "let"),
        ("člověk", "nominative", "plural", "lidé"),
        ("dítě", "nominative", "plural", "děti"),
        ("práce", "locative", "singular", "práci"),
    ],
)
def test_a_case_form_is_generated(lemma: str, case: Case, number: Number, form: str) -> None:
    (noun,) = nouns(lemma)
    assert noun.forms(case, number)[0] == form


def test_a_form_the_dictionary_does_not_confirm_is_never_given() -> None:
    (brno,) = nouns("Brno")
    assert brno.forms("dative", "plural") == ()  # "Brnům" is no word the dictionary knows
    for noun in (*nouns("sestra"), *nouns("kino"), *nouns("doktor")):
        for forms in noun.table:
            assert all(spelling.spell(form) for form in forms)


@pytest.mark.parametrize(
    ("word", "lemma", "slots"),
    [
        ("kino", "kino", {("nominative", "singular"), ("accusative", "singular"), ("vocative", "singular")}),
        (
            "kina",
            "kino",
            {("genitive", "singular"), *((c, "plural") for c in ("nominative", "accusative", "vocative"))},
        ),
        ("Praze", "Praha", {("dative", "singular"), ("locative", "singular")}),
        ("praha", "Praha", {("nominative", "singular")}),  # a name written lowercase
        ("sester", "sestra", {("genitive", "plural")}),
        ("let", "rok", {("genitive", "plural")}),  # also the noun let (a flight)
    ],
)
def test_the_cases_a_written_form_can_be(word: str, lemma: str, slots: set[tuple[str, str]]) -> None:
    readings = noun_readings(word)
    assert readings.complete
    assert [reading.slots for reading in readings.readings if reading.noun.lemma == lemma] == [slots]


@pytest.mark.parametrize(
    ("word", "lemmas"),
    [
        ("Praha", {"Praha"}),  # not the genitive of the rare surname Prah
        ("Kniha", {"kniha"}),  # opening a sentence: the book, not the surname Kniha
        ("dny", {"den"}),  # the irregular plural of den, hardly dno or dna
        ("lidi", {"člověk"}),
    ],
)
def test_implausible_readings_are_dropped(word: str, lemmas: set[str]) -> None:
    assert {reading.noun.lemma for reading in noun_readings(word).readings} == lemmas


@pytest.mark.parametrize("word", ["vidím", "velký", "doma"])
def test_an_entry_that_is_no_declined_noun_makes_the_reading_incomplete(word: str) -> None:
    assert not noun_readings(word).complete


def test_a_word_the_dictionary_rejects_has_no_reading() -> None:
    assert noun_readings("xqzvbn").readings == ()


@pytest.mark.parametrize(
    ("word", "expected"),
    [
        ("velká", Modifier("adjective", "velký")),
        ("cizího", Modifier("adjective", "cizí")),
        ("mého", Modifier("determiner", "můj")),
        ("této", Modifier("determiner", "tento")),
        ("našem", Modifier("determiner", "náš")),
        ("jeho", Modifier("invariant", "jeho")),
        ("kino", None),
        ("vidím", None),
    ],
)
def test_words_that_agree_with_a_noun(word: str, expected: Modifier | None) -> None:
    assert modifier(word) == expected


@pytest.mark.parametrize(
    ("word", "gender", "animate", "case", "number", "forms"),
    [
        ("velká", "neuter", False, "genitive", "singular", ("velkého",)),
        ("velký", "feminine", False, "locative", "singular", ("velké",)),
        ("velký", "masculine", True, "nominative", "plural", ("velcí",)),
        ("český", "masculine", True, "nominative", "plural", ("čeští",)),
        ("dobrý", "masculine", True, "nominative", "plural", ("dobří",)),
        ("cizí", "feminine", False, "instrumental", "singular", ("cizí",)),
        ("ten", "neuter", False, "genitive", "singular", ("toho",)),
        ("tento", "feminine", False, "accusative", "singular", ("tuto",)),
        ("můj", "feminine", False, "genitive", "singular", ("mé", "mojí")),
        ("moje", "masculine", False, "instrumental", "singular", ("mým",)),
        ("náš", "masculine", False, "locative", "singular", ("našem",)),
        ("jeho", "feminine", False, "dative", "plural", ("jeho",)),
    ],
)
def test_an_agreeing_form_is_generated(
    word: str, gender: Gender, animate: bool, case: Case, number: Number, forms: tuple[str, ...]
) -> None:
    found = modifier(word)
    assert found is not None
    assert modifier_forms(found, gender, animate, case, number) == forms


@pytest.mark.parametrize(
    ("word", "expected"),
    [
        ("velký", ("velký", "masculine")),
        ("velká", ("velký", "feminine")),
        ("velké", ("velký", "neuter")),
        ("Zajímavá", ("zajímavý", "feminine")),
        ("ráda", ("rád", "feminine")),
        ("cizí", None),  # soft: the same in every gender
        ("velkého", None),  # not a nominative singular
        ("kino", None),
    ],
)
def test_a_predicate_adjective_says_its_gender(word: str, expected: tuple[str, Gender] | None) -> None:
    assert predicate_gender(word) == expected


@pytest.mark.parametrize(
    ("lemma", "gender", "form"),
    [("velký", "feminine", "velká"), ("velký", "neuter", "velké"), ("rád", "neuter", "rádo")],
)
def test_a_predicate_adjective_for_a_gender(lemma: str, gender: Gender, form: str) -> None:
    assert predicate_form(lemma, gender) == form
