"""Czech adjectives and determiners that agree with a noun: recognise them, generate a requested form (pure).

- **Adjectives**: hard (velký: -ý -á -é) and soft (cizí: -í), recognised through Hunspell's analyses (the
  entry itself, or affix class Y of an entry in -ý/-í). Generated forms are validated like the nouns'
  (Hunspell must analyse them as forms of the same lemma); the masculine animate plural changes the
  consonant: velký → velcí, dobrý → dobří, český → čeští.
- **Determiners** (`DETERMINERS`): ten, tento, můj, tvůj, svůj, náš, váš — written out, since their forms
  are irregular; jeho, jejich never change (`INVARIANT`).
- **A predicate adjective** (`predicate_gender`): a hard adjective in the nominative singular, whose ending
  says its gender: -ý masculine, -á feminine, -é neuter ("rád", "ráda", "rádo" as well). A soft adjective
  (-í) is the same in all three and says nothing.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from typing import Final, Literal

from mluv.domain.morphology.nouns import SLOTS, Case, Gender, Number, join
from mluv.domain.spelling import analyze

# Per gender (masculine animate, masculine inanimate, feminine, neuter): the endings of the 14 slots.
_HARD: Final = {
    "ma": "ý ého ému ého ý ém ým Í ých ým é Í ých ými",
    "mi": "ý ého ému ý ý ém ým é ých ým é é ých ými",
    "f": "á é é ou á é ou é ých ým é é ých ými",
    "n": "é ého ému é é ém ým á ých ým á á ých ými",
}
_SOFT: Final = {
    "ma": "í ího ímu ího í ím ím í ích ím í í ích ími",
    "mi": "í ího ímu í í ím ím í ích ím í í ích ími",
    "f": "í í í í í í í í ích ím í í ích ími",
    "n": "í ího ímu í í ím ím í ích ím í í ích ími",
}
# ten, můj (with X = m, tv, sv) and náš (X = n, v); tento is ten + "to".
_TEN: Final = {
    "ma": "ten toho tomu toho ten tom tím ti těch těm ty ti těch těmi",
    "mi": "ten toho tomu ten ten tom tím ty těch těm ty ty těch těmi",
    "f": "ta té té tu ta té tou ty těch těm ty ty těch těmi",
    "n": "to toho tomu to to tom tím ta těch těm ta ta těch těmi",
}
_MUJ: Final = {
    "ma": "Xůj Xého Xému Xého Xůj Xém Xým Xoji|Xí Xých Xým Xoje|Xé Xoji|Xí Xých Xými",
    "mi": "Xůj Xého Xému Xůj Xůj Xém Xým Xoje|Xé Xých Xým Xoje|Xé Xoje|Xé Xých Xými",
    "f": "Xoje|Xá Xé|Xojí Xé|Xojí Xoji|Xou Xoje|Xá Xé|Xojí Xou|Xojí "  # singular, then the plural
    "Xoje|Xé Xých Xým Xoje|Xé Xoje|Xé Xých Xými",
    "n": "Xoje|Xé Xého Xému Xoje|Xé Xoje|Xé Xém Xým Xoje|Xá Xých Xým Xoje|Xá Xoje|Xá Xých Xými",
}
_NAS: Final = {
    "ma": "Xáš Xašeho Xašemu Xašeho Xáš Xašem Xaším Xaši Xašich Xašim Xaše Xaši Xašich Xašimi",
    "mi": "Xáš Xašeho Xašemu Xáš Xáš Xašem Xaším Xaše Xašich Xašim Xaše Xaše Xašich Xašimi",
    "f": "Xaše Xaší Xaší Xaši Xaše Xaší Xaší Xaše Xašich Xašim Xaše Xaše Xašich Xašimi",
    "n": "Xaše Xašeho Xašemu Xaše Xaše Xašem Xaším Xaše Xašich Xašim Xaše Xaše Xašich Xašimi",
}
_RAD: Final[dict[Gender, str]] = {"masculine": "rád", "feminine": "ráda", "neuter": "rádo"}
_GENDER_OF_ENDING: Final[dict[str, Gender]] = {"ý": "masculine", "á": "feminine", "é": "neuter"}
INVARIANT: Final = frozenset({"jeho", "jejich"})

Table = dict[str, tuple[tuple[str, ...], ...]]


def _cells(row: str, suffix: str) -> tuple[tuple[str, ...], ...]:
    return tuple(tuple(form + suffix for form in cell.split("|")) for cell in row.split())


def _determiner(table: dict[str, str], prefix: str = "", suffix: str = "") -> Table:
    return {key: _cells(row.replace("X", prefix), suffix=suffix) for key, row in table.items()}


DETERMINERS: Final[dict[str, Table]] = {
    "ten": _determiner(_TEN),
    "tento": _determiner(_TEN, suffix="to"),
    "můj": _determiner(_MUJ, "m"),
    "tvůj": _determiner(_MUJ, "tv"),
    "svůj": _determiner(_MUJ, "sv"),
    "náš": _determiner(_NAS, "n"),
    "váš": _determiner(_NAS, "v"),
}
_DETERMINER_FORMS: Final = {
    form: lemma
    for lemma, table in DETERMINERS.items()
    for cells in table.values()
    for cell in cells
    for form in cell
}


@dataclass(frozen=True, slots=True)
class Modifier:
    """A word that agrees with its noun: an adjective, a determiner, or jeho/jejich (which never change)."""

    kind: Literal["adjective", "determiner", "invariant"]
    lemma: str


def _key(gender: Gender, animate: bool) -> str:
    if gender == "masculine":
        return "ma" if animate else "mi"
    return "f" if gender == "feminine" else "n"


def _i_change(stem: str) -> str:
    for old, new in (("sk", "št"), ("ck", "čt"), ("ch", "š"), ("k", "c"), ("h", "z"), ("g", "z"), ("r", "ř")):
        if stem.endswith(old):
            return stem[: -len(old)] + new + "í"
    return join(stem, "í")


def _is_adjective(lemma: str) -> bool:
    if lemma.endswith("ý"):
        probe = lemma[:-1] + "ého"
    elif lemma.endswith("í"):
        probe = lemma + "ho"
    else:
        return False
    return (lemma, "Y") in analyze(probe)


@lru_cache(maxsize=16_384)
def adjective_lemma(word: str) -> str | None:
    """The adjective (in -ý or -í) `word` is a form of, or None: "velká" → "velký", "cizího" → "cizí"."""
    lower = word.lower()
    for stem, flag in analyze(lower) or analyze(word):
        if stem.endswith(("ý", "í")) and (
            flag == "Y" or (flag is None and stem == lower and _is_adjective(stem))
        ):
            return stem
    return None


def modifier(word: str) -> Modifier | None:
    """What agrees with a noun in `word`, or None (a noun, a verb, a personal pronoun…)."""
    lower = word.lower()
    if lower in INVARIANT:
        return Modifier("invariant", lower)
    if lower in _DETERMINER_FORMS:
        return Modifier("determiner", _DETERMINER_FORMS[lower])
    lemma = adjective_lemma(word)
    return Modifier("adjective", lemma) if lemma else None


@lru_cache(maxsize=16_384)
def modifier_forms(
    modifier: Modifier, gender: Gender, animate: bool, case: Case, number: Number
) -> tuple[str, ...]:
    """The forms of `modifier` agreeing with a noun in (case, number), preferred first; () if unknown."""
    index = SLOTS.index((case, number))
    key = _key(gender, animate)
    if modifier.kind == "invariant":
        return (modifier.lemma,)
    if modifier.kind == "determiner":
        return DETERMINERS[modifier.lemma][key][index]
    lemma = modifier.lemma
    soft = lemma.endswith("í")
    ending = (_SOFT if soft else _HARD)[key].split()[index]
    stem = lemma[:-1]
    form = _i_change(stem) if ending == "Í" else stem + ending
    return (form,) if form == lemma or (lemma, "Y") in analyze(form) else ()


def predicate_gender(word: str) -> tuple[str, Gender] | None:
    """A hard adjective in the nominative singular and the gender its ending says, or None.

    "velká" → ("velký", "feminine"); "rádo" → ("rád", "neuter"); "cizí" → None (soft: any gender).
    """
    lower = word.lower()
    for rad_gender, form in _RAD.items():
        if lower == form:
            return "rád", rad_gender
    lemma = adjective_lemma(word)
    if lemma is None or not lemma.endswith("ý") or lower[:-1] != lemma[:-1]:
        return None
    gender = _GENDER_OF_ENDING.get(lower[-1:])
    return (lemma, gender) if gender else None


def predicate_form(lemma: str, gender: Gender) -> str | None:
    """The nominative singular of a hard adjective (or rád) for `gender`: ("velký", "feminine") → "velká"."""
    if lemma == "rád":
        return _RAD[gender]
    form = lemma[:-1] + {"masculine": "ý", "feminine": "á", "neuter": "é"}[gender]
    return form if form == lemma or (lemma, "Y") in analyze(form) else None
