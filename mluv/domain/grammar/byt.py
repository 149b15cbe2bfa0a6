"""The rules about být: its form after a personal pronoun, and a predicate adjective's gender (pure).

**byt-form**: a personal pronoun right before a present form of být (or its negation) takes its person:
já jsem, ty jsi, on/ona/ono je, my jsme, vy jste, oni/ony jsou ("já je" → "jsem", "my jsou" → "jsme",
"ty jsem" → "jsi"). Left alone, because the pronoun may not be the subject there: a pronoun after a
conjunction or a preposition ("ty a já jsme", "pro ty jsem"), "ty jsou" (those are) unless a singular
noun follows ("ty jsou student"), "ty" + an auxiliary before a participle ("ty jsem viděl": those I saw),
and "je" that may be "them" ("já je znám"): "je" is flagged only before a noun, an adjective or a
determiner, a preposition, a place adverb or the end of the sentence ("my je rádi." but "já je rád
vidím"). params: pronoun (as written, lowercased).

**adjective-agreement**: "<noun> je|není <adjective>" where the noun is a nominative singular subject
(only agreeing words, or a conjunction, before it in its clause) of one gender, and the adjective a hard
one in the nominative singular (-ý/-á/-é, or rád/ráda/rádo) not followed by a noun it could belong to
("sestra je velký fanoušek" is right): the adjective takes the noun's gender ("sestra je velký" →
"velká", "město je velká" → "velké"). Soft adjectives (-í) are the same in all genders; a capitalised
masculine animate noun (a man's name, which a woman may bear) is left alone. params: noun (its lemma),
gender (the noun's).
"""

from __future__ import annotations

from typing import Final

from mluv.domain.grammar.cases import GOVERNMENT
from mluv.domain.grammar.tokens import Finding, Token, joined_after, match_case
from mluv.domain.morphology import adjective_lemma, modifier, noun_readings, predicate_form, predicate_gender

# person and number → the present form of být; its negation is "ne" + the form (není for je).
PRESENT: Final = {"1s": "jsem", "2s": "jsi", "3s": "je", "1p": "jsme", "2p": "jste", "3p": "jsou"}
_NEGATIVE: Final = {form: ("není" if form == "je" else "ne" + form) for form in PRESENT.values()}
_PERSON_OF: Final = {
    **{form: person for person, form in PRESENT.items()},
    **{_NEGATIVE[form]: person for person, form in PRESENT.items()},
    "seš": "2s",  # colloquial jsi
    "jseš": "2s",
}
# pronoun → the persons it may be, its own first
PRONOUNS: Final[dict[str, tuple[str, ...]]] = {
    "já": ("1s",),
    "ty": ("2s", "3p"),  # ty jsou: those are (unless a singular noun follows: "ty jsou student")
    "on": ("3s",),
    "ona": ("3s",),
    "ono": ("3s",),
    "my": ("1p",),
    "vy": ("2p",),
    "oni": ("3p",),
    "ony": ("3p",),
}
_COORDINATORS: Final = frozenset({"a", "i", "nebo", "ani", "či", "než", "jako"})
_PLACE_ADVERBS: Final = frozenset({"doma", "tady", "tam", "venku", "zde", "uvnitř", "nahoře", "dole", "pryč"})
_PARTICIPLE_ENDINGS: Final = ("l", "la", "lo", "li", "ly")
_RAD: Final = frozenset({"rád", "ráda", "rádo", "rádi", "rády"})
_INTENSIFIERS: Final = frozenset(
    {
        "velmi", "moc", "hodně", "docela", "dost", "strašně", "hrozně", "opravdu", "fakt", "trochu", "příliš",
        "celkem", "tak", "taky", "také", "už", "ještě", "teď", "dnes", "vždy", "vždycky", "často", "zase",
        "pořád", "úplně", "velice", "celý", "ale", "prostě", "nějak",
    }
)  # fmt: skip
# What may precede a subject at the start of its clause.
_CLAUSE_OPENERS: Final = frozenset(
    {"a", "ale", "i", "že", "protože", "když", "jestli", "jestliže", "tak", "pak", "teď", "dnes", "však",
     "nebo", "proto", "jenže", "ovšem", "myslím", "asi", "možná", "takže", "jako", "snad", "zase"}
)  # fmt: skip


def _person_form(person: str, negative: bool) -> str:
    form = PRESENT[person]
    return _NEGATIVE[form] if negative else form


def _je_is_byt(tokens: list[Token], index: int) -> bool:
    """Whether "je" at `index` is být rather than the pronoun "them" (which a verb would follow)."""
    following = joined_after(tokens, index)
    if following is None:
        return index + 1 >= len(tokens) or tokens[index + 1].sentence_start
    lower = following.lower
    if lower in _RAD:  # "my je rádi." (jsme) but "já je rád vidím" (them)
        after = joined_after(tokens, index + 1)
        return after is None or after.lower in ("že", "za")
    if lower in GOVERNMENT or lower in _PLACE_ADVERBS or modifier(following.word) is not None:
        return True
    readings = noun_readings(following.word)
    return readings.complete and any(case == "nominative" for r in readings.readings for case, _ in r.slots)


def _singular_noun(token: Token | None) -> bool:
    """A noun that can only be a nominative singular here: "ty jsou student" (jsi), not "ty jsou knihy"."""
    if token is None:
        return False
    readings = noun_readings(token.word)
    slots = {slot for reading in readings.readings for slot in reading.slots}
    return readings.complete and ("nominative", "singular") in slots and ("nominative", "plural") not in slots


def byt_form(text: str, tokens: list[Token]) -> list[Finding]:
    """byt-form (see the module docstring)."""
    findings: list[Finding] = []
    for index, token in enumerate(tokens[:-1]):
        persons = PRONOUNS.get(token.lower)
        verb = tokens[index + 1]
        person = _PERSON_OF.get(verb.lower)
        if persons is None or person is None or not verb.joined:
            continue
        after = joined_after(tokens, index + 1)
        if person in persons and not (token.lower == "ty" and person == "3p" and _singular_noun(after)):
            continue
        before = tokens[index - 1] if index > 0 and not token.sentence_start else None
        if before is not None and (
            before.lower in _COORDINATORS or (token.joined and before.lower in GOVERNMENT)
        ):
            continue  # "ty a já jsme", "pro ty jsem": not the subject alone
        negative = verb.lower.startswith("ne")
        if token.lower == "ty" and after is not None and after.lower.endswith(_PARTICIPLE_ENDINGS):
            continue  # "ty jsem viděl": those I saw
        if person == "3s" and not negative and not _je_is_byt(tokens, index + 1):
            continue
        suggestion = match_case(verb.text, _person_form(persons[0], negative))
        params = {"pronoun": token.lower}
        findings.append(Finding("byt-form", verb.start, verb.end, verb.text, suggestion, params))
    return findings


def _subject_starts_clause(tokens: list[Token], index: int) -> bool:
    position = index - 1
    while position >= 0 and tokens[position + 1].joined and modifier(tokens[position].word) is not None:
        position -= 1
    if position < 0 or not tokens[position + 1].joined:
        return True
    return tokens[position].lower in _CLAUSE_OPENERS


def adjective_agreement(text: str, tokens: list[Token]) -> list[Finding]:
    """adjective-agreement (see the module docstring)."""
    findings: list[Finding] = []
    for index, token in enumerate(tokens):
        if token.lower not in ("je", "není") or index == 0 or not token.joined:
            continue
        subject = tokens[index - 1]
        if subject.lower in PRONOUNS or not _subject_starts_clause(tokens, index - 1):
            continue
        readings = noun_readings(subject.word)
        nominative = [r for r in readings.readings if ("nominative", "singular") in r.slots]
        genders = {reading.noun.gender for reading in nominative}
        if not readings.complete or len(genders) != 1:
            continue
        if any(r.noun.animate and r.noun.lemma[:1].isupper() for r in nominative):
            continue  # a man's name, which a woman may bear
        position = index + 1
        while position < len(tokens) and tokens[position].joined and tokens[position].lower in _INTENSIFIERS:
            position += 1
        if position >= len(tokens) or not tokens[position].joined:
            continue
        adjective = tokens[position]
        predicate = predicate_gender(adjective.word)
        (gender,) = genders
        if predicate is None or predicate[1] == gender:
            continue
        following = joined_after(tokens, position)
        if following is not None and (
            noun_readings(following.word).readings or adjective_lemma(following.word)
        ):
            continue  # "je velký fanoušek": the adjective belongs to the next noun
        form = predicate_form(predicate[0], gender)
        params = {"noun": nominative[0].noun.lemma, "gender": gender}
        suggestion = match_case(adjective.text, form) if form else None
        findings.append(
            Finding("adjective-agreement", adjective.start, adjective.end, adjective.text, suggestion, params)
        )
    return findings
