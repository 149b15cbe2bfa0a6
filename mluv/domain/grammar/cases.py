"""The rules about case: what a preposition governs, and what a numeral needs (pure).

**preposition-case**: the noun right after a preposition (after the adjectives and determiners that agree
with it) must be in the case the preposition governs (`GOVERNMENT`):

- genitive: do, z/ze, od/ode, u, bez, kromě, během, místo, vedle, podle, kolem, okolo, uprostřed;
- dative: k/ke, proti, díky, kvůli;  instrumental: s (a genitive is tolerated: "s kopce");
- locative: při; v/ve, na, o, po take the locative for a place or a topic, and na the accusative too
  ("jdu na poštu"); v/ve, o and po take an accusative of time ("v pátek", "po celý den", "o hodinu
  později"), v/ve one with věřit/doufat/změnit ("věřím v Boha"), o one with the verbs and nouns that
  want it (`_O_ACCUSATIVE_WORDS`: "starám se o dítě", "zájem o hudbu");
- accusative: pro, přes; před, nad, pod, mezi take the instrumental and accept the accusative.

A noun is flagged when none of its readings is in an allowed case; the suggestion declines the noun (and
the words that agree with it) into the governed case, keeping the number: "do kino" → "do kina", "v Praha"
→ "v Praze", "k doktor" → "k doktorovi". After na/o/v the locative is suggested unless a verb of motion or
one that takes the accusative comes first in the sentence ("jdu na pošta" → "na poštu"). A preposition that
must become ve/ke/ze/se before the new form is part of the span ("v škola" → "ve škole").

**numeral-agreement**: dva/oba go with masculine nouns, dvě/obě with feminine and neuter ones ("dva
sestry" → "dvě sestry"); after dva, dvě, oba, obě, tři, čtyři the noun is nominative (or accusative)
plural ("tři sestra" → "tři sestry"), after pět to devadesát and několik genitive plural ("pět sestry" →
"pět sester"). A masculine animate noun after 2-4 has two plural forms: the accusative is suggested
after mít ("mám dva bratr" → "bratry"), the nominative at the start of a sentence or after být, else none.
params: numeral (as written, lowercased), gender (the noun's), and case and number when the noun's form is
what is fixed.

Both rules speak only when the noun's readings are complete and agree (`mluv.domain.morphology`), and
name a form only when the dictionary confirms it (else `suggestion` is None).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

from mluv.domain.czech import zipf_frequency
from mluv.domain.grammar.tokens import Finding, Phrase, Token, joined_after, match_case, phrase_after, replace
from mluv.domain.morphology import Case, Gender, Number, Reading, Slot, modifier, modifier_forms


def _words(text: str) -> frozenset[str]:
    return frozenset(text.split())


@dataclass(frozen=True, slots=True)
class Government:
    case: Case  # the case suggested
    accepted: frozenset[Case]  # every case that is right after the preposition


# (the case suggested, a case also accepted, the prepositions)
_GOVERNMENT_TABLE: Final[tuple[tuple[Case, Case | None, str], ...]] = (
    ("genitive", None, "do z ze od ode u bez beze kromě během místo vedle podle kolem okolo uprostřed"),
    ("dative", None, "k ke proti díky kvůli"),
    ("locative", None, "při"),
    ("locative", "accusative", "v ve na o po"),
    ("accusative", None, "pro přes"),
    ("instrumental", "genitive", "s"),
    ("instrumental", "accusative", "před nad pod mezi"),
)
GOVERNMENT: Final = {
    preposition: Government(case, frozenset({case} if also is None else {case, also}))
    for case, also, prepositions in _GOVERNMENT_TABLE
    for preposition in prepositions.split()
}
# v/po/o + accusative of time: "v pátek", "v tu chvíli", "po celý den", "o hodinu později".
TIME_NOUNS: Final = _words(
    "pondělí úterý středa čtvrtek pátek sobota neděle poledne půlnoc půl hodina chvíle okamžik moment doba "
    "den čas minuta vteřina sekunda týden měsíc rok noc život večer ráno víkend léto zima kus trocha"
)
# Otherwise v + accusative only with věřit, doufat, změnit (se) v; o + accusative only after these words
# (beginnings of their forms).
_V_ACCUSATIVE_VERBS: Final = ("věř", "doufa", "doufá", "proměn", "změn")
_O_ACCUSATIVE_WORDS: Final = tuple(
    _words(
        "star postar zajím zájem pros požád žád pokus pokouš opř opír přiš přijd přijde přijdu jde jedn šlo "
        "půjde bojuj boj soutěž strach bát bál bojí bojím starost péč peč hraj hrá zasl dělit rozděl usil "
        "uchá přihlás zakop rozšíř zvýš sníž zvětš zmenš prodlouž zkrát"
    )
)
# Verbs (beginnings of their forms) after which na/o/v take the accusative: motion, waiting, looking…
_ACCUSATIVE_VERBS: Final = tuple(
    _words(
        "jdu jde jdeš jdeme jdete jdou jít šel šla šli půjd pojď chod jed jet jel pojed jezd jezdí letí letě "
        "polet spěch běž přijd přijed přij odjed odjíž vrát pozv zvu zve dív podív čeká čekám počk těš mysl "
        "zapom ptá zept odpov hraj hrá zajím starám staráš stará staráme staráte starají pros požád žád "
        "pokus opř"
    )
)
_ADVERB_NOUNS: Final = frozenset({"moc"})  # written like a noun, but an adverb here: "díky moc"
_PLURAL_PLACES: Final = ("ice", "any")  # Pardubice, Budějovice, Drážďany: plural only

NUMERAL_GENDER: Final[dict[str, Gender]] = {
    "dva": "masculine",
    "oba": "masculine",
    "dvě": "feminine",
    "obě": "feminine",
}
_OTHER_GENDER: Final = {"dva": "dvě", "oba": "obě", "dvě": "dva", "obě": "oba"}
FEW: Final = frozenset({"dva", "dvě", "oba", "obě", "tři", "čtyři"})
MANY: Final = _words(
    "pět šest sedm osm devět deset jedenáct dvanáct třináct čtrnáct patnáct šestnáct sedmnáct osmnáct "
    "devatenáct dvacet třicet čtyřicet padesát šedesát sedmdesát osmdesát devadesát několik"
)
# Words after a numeral that it does not count: "dvě stě", "pět plus pět", "v pět ráno".
_NOT_COUNTED: Final = _words("stě sta set tisíc plus minus krát ráno dopoledne poledne odpoledne večer")
_ACCUSATIVE_PREPOSITIONS: Final = _words("v ve na za přes o po")  # "za dva dny": the numeral unchanged
_HAVE: Final = _words("mám máš má máme máte mají měl měla měli měly mít vidím vidíš vidí potkal")
_BE: Final = _words("je jsou byl byla byli byly bylo jsme jste bude budou")
_VOCALIC: Final = {"v": "ve", "k": "ke", "z": "ze", "s": "se"}
_VOWELS: Final = frozenset("aeiouyáéíóúůýě")


def _best(readings: tuple[Reading, ...]) -> Reading:
    return max(readings, key=lambda reading: zipf_frequency(reading.noun.lemma))


def _number(reading: Reading) -> Number:
    lemma = reading.noun.lemma
    if lemma[:1].isupper() and lemma.endswith(_PLURAL_PLACES):
        return "plural"
    return "singular" if any(number == "singular" for _, number in reading.slots) else "plural"


def _vocalic(preposition: str, following: str) -> str:
    """ve/ke/ze/se where Czech needs the vowel before `following` ("ve škole", "ke kamarádovi")."""
    lower = following.lower()
    vocal = _VOCALIC.get(preposition)
    if vocal is None or len(lower) < 2:
        return preposition
    first, second = lower[0], lower[1]
    sibilant_cluster = first in "szšžcč" and second not in _VOWELS
    needs = {
        "v": first in "vf" or sibilant_cluster,
        "k": first in "kg" or sibilant_cluster,
        "z": first in "szšž",
        "s": first in "szšž",
    }[preposition]
    return vocal if needs else preposition


def _decline(
    tokens: list[Token], phrase: Phrase, reading: Reading, slot: Slot
) -> tuple[list[tuple[int, str]], bool] | None:
    """The changes declining the phrase into `slot` ((index, form) pairs, all confirmed), or None."""
    case, number = slot
    noun = tokens[phrase.noun]
    forms = reading.noun.forms(case, number)
    if not forms:
        return None
    changes = [(phrase.noun, match_case(noun.text, forms[0]))]
    complete = True
    for index, found in phrase.modifiers:
        agreeing = modifier_forms(found, reading.noun.gender, reading.noun.animate, case, number)
        if tokens[index].lower in agreeing:
            continue
        if not agreeing:
            complete = False
            continue
        changes.append((index, match_case(tokens[index].text, agreeing[0])))
    return changes, complete


def _accusative_cue(tokens: list[Token], index: int) -> bool:
    for position in range(index - 1, -1, -1):
        token = tokens[position]
        if token.lower.startswith(_ACCUSATIVE_VERBS) and modifier(token.word) is None:
            return True
        if token.sentence_start:
            return False
    return False


def _sentence(tokens: list[Token], index: int) -> list[Token]:
    start = index
    while start > 0 and not tokens[start].sentence_start:
        start -= 1
    end = index + 1
    while end < len(tokens) and not tokens[end].sentence_start:
        end += 1
    return tokens[start:end]


def _accepted(
    preposition: str, government: Government, reading: Reading, tokens: list[Token], index: int
) -> set[Case]:
    accepted = set(government.accepted)
    if preposition in ("v", "ve", "po", "o") and reading.noun.lemma not in TIME_NOUNS:
        cues = {"v": _V_ACCUSATIVE_VERBS, "ve": _V_ACCUSATIVE_VERBS, "o": _O_ACCUSATIVE_WORDS}.get(
            preposition
        )
        if cues is None or not any(t.lower.startswith(cues) for t in _sentence(tokens, index)):
            accepted.discard("accusative")
    return accepted


def preposition_case(text: str, tokens: list[Token]) -> list[Finding]:
    """preposition-case (see the module docstring)."""
    findings: list[Finding] = []
    for index, token in enumerate(tokens):
        preposition = token.lower
        government = GOVERNMENT.get(preposition)
        if government is None or (token.text[:1].isupper() and not token.sentence_start):
            continue
        before = tokens[index - 1] if index > 0 else None
        if preposition == "místo" and before and (modifier(before.word) or before.lower in GOVERNMENT):
            continue  # "hezké místo", "na místo": the noun místo
        phrase = phrase_after(tokens, index)
        if phrase is None or not phrase.readings.complete or tokens[phrase.noun].lower in _ADVERB_NOUNS:
            continue
        readings = phrase.readings.readings
        if preposition == "díky" and any(case == "vocative" for r in readings for case, _ in r.slots):
            continue  # "Díky Petře!": thanks, not "thanks to"
        if any(
            {case for case, _ in reading.slots} & _accepted(preposition, government, reading, tokens, index)
            for reading in readings
        ):
            continue
        reading = _best(readings)
        case = government.case
        if case == "locative" and preposition in ("na", "o", "v", "ve") and _accusative_cue(tokens, index):
            case = "accusative"
        params = {"preposition": preposition, "case": case}
        declined = _decline(tokens, phrase, reading, (case, _number(reading)))
        noun = tokens[phrase.noun]
        if declined is None:
            findings.append(Finding("preposition-case", noun.start, noun.end, noun.text, None, params))
            continue
        changes, complete = declined
        if not complete:  # a modifier that cannot be declined: fix the noun only
            changes = [change for change in changes if change[0] == phrase.noun]
        vocal = _vocalic(preposition, dict(changes).get(index + 1, tokens[index + 1].word))
        if vocal != preposition:
            changes.append((index, match_case(token.text, vocal)))
        start, end, original, suggestion = replace(text, tokens, changes)
        findings.append(Finding("preposition-case", start, end, original, suggestion, params))
    return findings


def _numeral_target(tokens: list[Token], index: int, reading: Reading) -> Case | None:
    """nominative or accusative plural for a masculine animate noun after 2-4 (they differ), by context."""
    if not (reading.noun.gender == "masculine" and reading.noun.animate):
        return "nominative"
    before = tokens[index - 1].lower if index > 0 and not tokens[index].sentence_start else None
    if before is None or before in _BE:
        return "nominative"
    sentence = _sentence(tokens, index)
    if any(token.lower in _HAVE for token in sentence if token.start < tokens[index].start):
        return "accusative"
    return None


def numeral_agreement(text: str, tokens: list[Token]) -> list[Finding]:
    """numeral-agreement (see the module docstring)."""
    findings: list[Finding] = []
    for index, token in enumerate(tokens):
        numeral = token.lower
        if numeral not in FEW and numeral not in MANY:
            continue
        previous = tokens[index - 1].lower if index > 0 and token.joined else None
        following = joined_after(tokens, index)
        if previous in GOVERNMENT and previous not in _ACCUSATIVE_PREPOSITIONS:
            continue  # "do dvou": the numeral itself is declined, another rule's matter
        if following is None or following.lower in FEW | MANY | _NOT_COUNTED:
            continue
        phrase = phrase_after(tokens, index)
        if phrase is None or not phrase.readings.complete:
            continue
        readings = phrase.readings.readings
        if numeral in MANY:
            if any(("genitive", "plural") in reading.slots for reading in readings):
                continue
            target: Case | None = "genitive"
        else:
            plural = [r for r in readings if r.slots & {("nominative", "plural"), ("accusative", "plural")}]
            if plural:
                genders = {reading.noun.gender for reading in plural}
                expected = _expected_numeral(numeral, genders)
                if expected is not None and expected != numeral:
                    params = {"numeral": numeral, "gender": genders.pop()}
                    fixed = match_case(token.text, expected)
                    findings.append(
                        Finding("numeral-agreement", token.start, token.end, token.text, fixed, params)
                    )
                continue
            target = None
        genders = {reading.noun.gender for reading in readings}
        if len(genders) != 1:
            continue
        reading = _best(readings)
        gender = genders.pop()
        if target is None:
            target = _numeral_target(tokens, index, reading)
        case_param: Case = target or "nominative"
        params = {"numeral": numeral, "gender": gender, "case": case_param, "number": "plural"}
        changes: list[tuple[int, str]] = []
        expected = _expected_numeral(numeral, {gender})
        if expected is not None and expected != numeral:
            changes.append((index, match_case(token.text, expected)))
        declined = _decline(tokens, phrase, reading, (target, "plural")) if target else None
        noun = tokens[phrase.noun]
        if declined is None or not declined[1]:
            span = (token.start if changes else noun.start, noun.end)
            findings.append(Finding("numeral-agreement", *span, text[span[0] : span[1]], None, params))
            continue
        start, end, original, suggestion = replace(text, tokens, changes + declined[0])
        findings.append(Finding("numeral-agreement", start, end, original, suggestion, params))
    return findings


def _expected_numeral(numeral: str, genders: set[Gender]) -> str | None:
    if numeral not in NUMERAL_GENDER or len(genders) != 1:
        return None
    (gender,) = genders
    own = NUMERAL_GENDER[numeral]
    if (gender == "masculine") == (own == "masculine"):
        return numeral
    return _OTHER_GENDER[numeral]
