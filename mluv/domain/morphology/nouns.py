"""Czech nouns, enough for the grammar rules: a noun's pattern, its case forms, a written form's cases (pure).

- **Patterns** (`PATTERNS`): the fourteen school patterns — masculine pán, hrad, muž, stroj, předseda,
  soudce; feminine žena, růže, píseň, kost; neuter město, moře, kuře, stavení — and muzeum. Each lists, per
  case and number, the endings it may take, preferred first; the usual consonant changes are applied
  ("Praha" → "Praze", "kniha" → "knize", "matka" → "matce", "Brno" → "Brně", "sestra" → "sester",
  "doktor" → "doktoři"), and a stem may lose a fleeting e ("pátek" → "pátku", "píseň" → "písně") or
  shorten a vowel.
- **A noun's pattern** (`nouns(lemma)`) comes from its ending and from the affix classes Hunspell's cs_CZ
  dictionary gives its forms (`mluv.domain.spelling.analyze`): P animate hard (pán, předseda), U animate
  soft (muž, soudce), H and L inanimate hard with genitive -u and -a (hrad), S soft (stroj, stavení), Z
  feminine (žena, růže, píseň), K (kost, kuře), M and C neuter (město, moře). A lemma the dictionary
  gives several classes has several nouns (Praha the city, Prah a man); a lemma with none has no noun.
- **Generated forms are validated**: a form is kept only if Hunspell analyses it as a form of the same
  lemma, so a wrong candidate never becomes a suggestion; a case with no valid form has none.
- **Irregular nouns** (`IRREGULAR`, from `irregular.py`: den, dům, rok, člověk, dítě, práce…) are written
  out in full: the dictionary lists their forms as words of their own.
- **Readings** (`noun_readings(word)`): every (noun, cases) the written word can be, from Hunspell's
  analyses; a reading of a lemma far rarer (by `PLAUSIBLE_ZIPF`) than the most frequent one is dropped
  ("Praha": the city, not the genitive of the rare surname Prah), so is a name when the word is also a
  common noun ("Kniha" opening a sentence), and a regular reading rarer than an irregular one ("dny":
  den, not dno). `complete` is False when an analysis without an affix class names an entry that is not a
  noun this module declines (an irregular form such as "lidi" or a verb such as "vidím"): the rules then
  say nothing. Precision over recall.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from typing import Final, Literal, cast, get_args

from mluv.domain.czech import zipf_frequency
from mluv.domain.morphology.irregular import ENTRIES
from mluv.domain.spelling import analyze

Case = Literal["nominative", "genitive", "dative", "accusative", "vocative", "locative", "instrumental"]
CASES: Final[tuple[Case, ...]] = get_args(Case)
Number = Literal["singular", "plural"]
Gender = Literal["masculine", "feminine", "neuter"]
Slot = tuple[Case, Number]
SLOTS: Final[tuple[Slot, ...]] = tuple((case, number) for number in ("singular", "plural") for case in CASES)

PLAUSIBLE_ZIPF: Final = 2.0
VOWELS: Final = frozenset("aeiouyáéíóúůýě")
_SOFTEN: Final = {"d": "ď", "t": "ť", "n": "ň"}
_HARDEN: Final = {"ď": "d", "ť": "t", "ň": "n"}
_SHORTEN: Final = {"á": "a", "é": "e", "í": "i", "ů": "o", "ý": "y"}


@dataclass(frozen=True, slots=True)
class Pattern:
    name: str
    gender: Gender
    animate: bool
    ending: str  # what the lemma ends with: removed to get the stem ("" for a consonant)
    flags: frozenset[str]  # Hunspell affix classes that declare a lemma of this pattern
    endings: tuple[tuple[str, ...], ...]  # per slot in SLOTS order; "=" the lemma, codes in _candidates


def _pattern(name: str, gender: Gender, animate: bool, ending: str, flags: str, table: str) -> Pattern:
    slots = tuple(tuple(cell.split("|")) for cell in table.split())
    assert len(slots) == len(SLOTS), name
    return Pattern(name, gender, animate, ending, frozenset(flags), slots)


# Endings per slot (singular then plural: nom gen dat acc voc loc ins). Codes: "=" the lemma, "0" no ending
# (with a fleeting e or a shortened vowel), "Ě" -ě/-e with its consonant change (sestra → sestře), "I" -i
# with its change (doktor → doktoři), "ÍCH" -ích after k/h/ch/g with its change (park → parcích).
PATTERNS: Final = (
    _pattern("pán", "masculine", True, "", "P", "= a ovi|u a e|u|Ě ovi|u em I|ové ů ům y I|ové ech|ÍCH y"),
    _pattern("hrad", "masculine", False, "", "HLQ", "= u|a u = e|u Ě|u|e em y ů ům y y ech|ÍCH|ích y"),
    _pattern("muž", "masculine", True, "", "U", "= e i|ovi e i|e i|ovi em i|ové|é ů ům e i|ové|é ích i"),
    _pattern("stroj", "masculine", False, "", "S", "= e i = i i em e ů ům e e ích i"),
    _pattern("předseda", "masculine", True, "a", "P", "a y ovi u o ovi ou ové ů ům y ové ech|ÍCH y"),
    _pattern("soudce", "masculine", True, "e", "U", "e e i|ovi e e i|ovi em i|ové ů ům e i|ové ích i"),
    _pattern("žena", "feminine", False, "a", "Z", "a y Ě u o Ě ou y 0 ám y y ách ami"),
    _pattern("růže", "feminine", False, "e", "Z", "e e i i e i í e í|0 ím e e ích emi"),
    _pattern("píseň", "feminine", False, "", "Z", "= e i = i i í e í ím e e ích emi"),
    _pattern("kost", "feminine", False, "", "K", "= i i = i i í i í em|ím i i ech|ích mi|emi"),
    _pattern("město", "neuter", False, "o", "MC", "o a u o o Ě|u em a 0 ům a a ech|ÍCH|ách y"),
    _pattern("moře", "neuter", False, "e", "M", "e e i e e i em e í|0 ím e e ích i"),
    _pattern("kuře", "neuter", False, "e", "K", "e ete eti e e eti etem ata at atům ata ata atech aty"),
    _pattern("stavení", "neuter", False, "í", "S", "í í í í í í ím í í ím í í ích ími"),
    _pattern("muzeum", "neuter", False, "um", "M", "um a u um um u em a í|0 ům a a ích|ech y"),
)
_BY_NAME: Final = {pattern.name: pattern for pattern in PATTERNS}
# The slots whose forms show a lemma's affix classes (the nominative is the entry itself, without a class).
_PROBES: Final[tuple[Slot, ...]] = (
    ("genitive", "singular"),
    ("dative", "singular"),
    ("locative", "singular"),
    ("instrumental", "singular"),
    ("nominative", "plural"),
    ("genitive", "plural"),
)


@dataclass(frozen=True, slots=True)
class Noun:
    """A lemma declined by one pattern: its valid forms per slot (preferred first)."""

    lemma: str
    pattern: str
    gender: Gender
    animate: bool
    table: tuple[tuple[str, ...], ...]  # per slot in SLOTS order

    def forms(self, case: Case, number: Number) -> tuple[str, ...]:
        """The forms of (case, number), preferred first; () when none is known."""
        return self.table[SLOTS.index((case, number))]

    def slots_of(self, word: str) -> frozenset[Slot]:
        """The (case, number) slots `word` (any capitalisation) fills."""
        lower = word.lower()
        return frozenset(
            slot for slot, forms in zip(SLOTS, self.table, strict=True) if lower in {f.lower() for f in forms}
        )


@dataclass(frozen=True, slots=True)
class Reading:
    noun: Noun
    slots: frozenset[Slot]


@dataclass(frozen=True, slots=True)
class Readings:
    readings: tuple[Reading, ...]
    complete: bool  # every entry the word may come from is a noun declined here (or a derived adjective)


IRREGULAR: Final = tuple(
    Noun(lemma, "irregular", cast(Gender, gender), animate, cells)
    for lemma, gender, animate, cells in ENTRIES
)
_IRREGULAR_LEMMAS: Final = {noun.lemma: noun for noun in IRREGULAR}
_IRREGULAR_FORMS: Final[dict[str, tuple[Noun, ...]]] = {}
for _noun in IRREGULAR:
    for _forms in _noun.table:
        for _form in _forms:
            if _noun not in _IRREGULAR_FORMS.get(_form, ()):
                _IRREGULAR_FORMS[_form] = (*_IRREGULAR_FORMS.get(_form, ()), _noun)


# ---------------------------------------------------------------------------------------------------
# Building forms


def join(stem: str, ending: str) -> str:
    """`stem` + `ending` as Czech spells it: ď/ť/ň before e and i ("píseň" + "e" → "písně")."""
    if stem and stem[-1] in _HARDEN and ending[:1] in ("e", "ě", "i", "í"):
        vowel = "ě" if ending[0] in ("e", "ě") else ending[0]
        return stem[:-1] + _HARDEN[stem[-1]] + vowel + ending[1:]
    if ending.startswith("ě") and stem[-1:] not in ("d", "t", "n", "b", "p", "v", "m", "f"):
        return stem + "e" + ending[1:]  # ě only after d, t, n and the labials
    return stem + ending


def e_change(stem: str) -> str:
    """The stem with the ending -ě and the consonant change it causes: Prah → Praze, sestr → sestře."""
    for old, new in (("ch", "še"), ("k", "ce"), ("h", "ze"), ("g", "ze"), ("r", "ře")):
        if stem.endswith(old):
            return stem[: -len(old)] + new
    return join(stem, "ě")


def i_change(stem: str) -> str:
    """The stem with the animate plural -i: doktor → doktoři, kluk → kluci, Čech → Češi."""
    for old, new in (("ch", "ši"), ("k", "ci"), ("h", "zi"), ("g", "zi"), ("r", "ři")):
        if stem.endswith(old):
            return stem[: -len(old)] + new
    return join(stem, "i")


def _velar_ich(stem: str) -> str | None:
    for old, new in (("ch", "ších"), ("k", "cích"), ("h", "zích"), ("g", "zích")):
        if stem.endswith(old):
            return stem[: -len(old)] + new
    return None


def _zero(stem: str) -> list[str]:
    """No ending: the stem, with an e between two final consonants (sester, matek), or a shortened vowel."""
    found = []
    if len(stem) > 2 and stem[-1] not in VOWELS and stem[-2] not in VOWELS:
        found.append(join(stem[:-1], "e") + stem[-1])  # sestr → sester, loďk → loděk
    found.append(stem)
    for index in range(len(stem) - 1, -1, -1):
        if stem[index] in _SHORTEN:  # kráv → krav
            found.append(stem[:index] + _SHORTEN[stem[index]] + stem[index + 1 :])
            break
        if stem[index] in VOWELS:
            break
    return found


def _stems(lemma: str, pattern: Pattern) -> list[str]:
    if pattern.ending:
        stem = lemma[: -len(pattern.ending)]
        if lemma.endswith("ě") and stem[-1:] in _SOFTEN:
            stem = stem[:-1] + _SOFTEN[stem[-1]]  # kuchyně → kuchyň-, štěně → štěň-
        return [stem]
    stems = [lemma]
    if len(lemma) > 3 and lemma[-2] in ("e", "ě") and lemma[-1] not in VOWELS:  # a fleeting e: pátek → pátk-
        before = lemma[:-2]
        if lemma[-2] == "ě" and before[-1:] in _SOFTEN:
            before = before[:-1] + _SOFTEN[before[-1]]
        stems.append(before + lemma[-1])
    for long, short in (("ů", "o"), ("é", "e")):  # dům → dom-, chléb → chleb-
        index = lemma.rfind(long)
        if index >= 0:
            stems.append(lemma[:index] + short + lemma[index + 1 :])
    return stems


def _candidates(lemma: str, stem: str, code: str, soft_e: bool) -> list[str]:
    if code == "=":
        return [lemma]
    if code == "Ě":
        return [e_change(stem)]
    if code == "I":
        return [i_change(stem)]
    if code == "ÍCH":
        velar = _velar_ich(stem)
        return [velar] if velar else []
    if code == "0":
        return _zero(stem)
    if soft_e and code.startswith("e") and stem[-1:] in ("b", "p", "v", "m", "f"):
        code = "ě" + code[1:]  # země → zeměmi
    return [join(stem, code)]


def _valid(form: str, lemma: str) -> bool:
    return form == lemma or any(stem == lemma for stem, _ in analyze(form))


def _flags(form: str, lemma: str) -> set[str]:
    return {flag for stem, flag in analyze(form) if stem == lemma and flag}


def _compatible(lemma: str) -> list[Pattern]:
    last = lemma[-1:]
    if lemma.endswith("um"):
        return [_BY_NAME["muzeum"]]
    if last in VOWELS:
        return [p for p in PATTERNS if p.ending == last or (p.ending == "e" and last == "ě")]
    return [p for p in PATTERNS if p.ending == ""] if last.isalpha() else []


def _table(lemma: str, pattern: Pattern, flags: set[str]) -> tuple[tuple[str, ...], ...]:
    soft_e = lemma.endswith("ě")
    table: list[tuple[str, ...]] = []
    for slot, codes in zip(SLOTS, pattern.endings, strict=True):
        if pattern.name == "hrad" and slot == ("genitive", "singular"):
            codes = tuple(
                c for c in codes if (c == "u" and flags & {"H", "Q"}) or (c == "a" and "L" in flags)
            )
        if pattern.name == "hrad" and slot == ("locative", "singular"):
            # Without R or L, Hunspell's -e is the vocative ("hotele!") and sometimes the locative too ("v
            # čase", "v autobuse"): recognised as one, never suggested ("v hotelu").
            codes = ("Ě", "u") if flags & {"R", "L"} else ("u", "e")
        forms: list[str] = []
        for stem in _stems(lemma, pattern):
            for code in codes:
                for form in _candidates(lemma, stem, code, soft_e):
                    if form not in forms and _valid(form, lemma):
                        forms.append(form)
        table.append(tuple(forms))
    return tuple(table)


@lru_cache(maxsize=16_384)
def nouns(lemma: str) -> tuple[Noun, ...]:
    """The nouns `lemma` (a nominative singular as the dictionary spells it) can be; () if none."""
    if lemma in _IRREGULAR_LEMMAS:
        return (_IRREGULAR_LEMMAS[lemma],)
    compatible = _compatible(lemma)
    flags: set[str] = set()
    for pattern in compatible:
        for stem in _stems(lemma, pattern):
            for slot in _PROBES:
                for code in pattern.endings[SLOTS.index(slot)]:
                    for form in _candidates(lemma, stem, code, lemma.endswith("ě")):
                        flags |= _flags(form, lemma)
    found: list[Noun] = []
    for pattern in compatible:
        if not pattern.flags & flags:
            continue
        table = _table(lemma, pattern, flags)
        if table[SLOTS.index(("genitive", "singular"))] or table[SLOTS.index(("genitive", "plural"))]:
            found.append(Noun(lemma, pattern.name, pattern.gender, pattern.animate, table))
    return tuple(found)


@lru_cache(maxsize=16_384)
def noun_readings(word: str) -> Readings:
    """Every noun `word` can be a form of, with the slots it fills (see the module docstring)."""
    analyses = list(analyze(word))
    if not analyses and word.islower():
        analyses = list(analyze(word[:1].upper() + word[1:]))  # "praha": a name written lowercase
    readings: list[Reading] = [
        Reading(noun, noun.slots_of(word)) for noun in _IRREGULAR_FORMS.get(word.lower(), ())
    ]
    complete = bool(analyses) or bool(readings)
    for stem, flag in analyses:
        declined = nouns(stem)
        if not declined:
            if flag is None and stem.lower() not in _IRREGULAR_FORMS:
                complete = False  # an entry of its own that is no noun declined here ("dny", "lidi", "velký")
            continue  # with an affix class: a verb or an adjective ("hradě": hradit; "doktorovi": doktorův)
        found = [Reading(noun, slots) for noun in declined if (slots := noun.slots_of(word))]
        readings += [reading for reading in found if reading not in readings]
    return Readings(tuple(_plausible(readings)), complete)


def _plausible(readings: list[Reading]) -> list[Reading]:
    if any(reading.noun.lemma.islower() for reading in readings):
        # "Kniha" starting a sentence is the book, not the surname Kniha.
        readings = [reading for reading in readings if not reading.noun.lemma[:1].isupper()]
    irregular = [reading for reading in readings if reading.noun.pattern == "irregular"]
    if irregular:
        # "dny" is the plural of den (irregular), hardly a form of dno or dna.
        best = max(zipf_frequency(reading.noun.lemma) for reading in irregular)
        readings = [r for r in readings if r in irregular or zipf_frequency(r.noun.lemma) >= best]
    if readings:
        best = max(zipf_frequency(reading.noun.lemma) for reading in readings)
        readings = [r for r in readings if zipf_frequency(r.noun.lemma) >= best - PLAUSIBLE_ZIPF]
    return readings
