"""The words the grammar rules read, their neighbours, and what a rule reports (pure).

- **Token**: a word of the text (`mluv.domain.czech.words_in`) with its span, the form the rules read
  (`word`: as written, or with its diacritics or capitalisation fixed by the word rules) and whether only
  spaces separate it from the previous word (`joined`: a comma, a digit, a line break or a sentence end
  breaks a phrase).
- **Phrase**: the words a preposition or a numeral governs: modifiers that agree (adjectives,
  determiners) and the noun after them: "do [velkého] kina".
- **Finding**: what a rule reports: the span it changes, the text as written, the correct text (or None)
  and the rule's params.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Final, Literal

from mluv.domain.czech import words_in
from mluv.domain.morphology import Modifier, Readings, modifier, noun_readings

# The grammar rules' ids (a part of `mluv.domain.review.RuleId`).
GrammarRule = Literal["preposition-case", "numeral-agreement", "adjective-agreement", "byt-form"]
_SENTENCE_END: Final = frozenset(".!?…;:")
MAX_MODIFIERS: Final = 3


@dataclass(frozen=True, slots=True)
class Token:
    text: str  # as written
    word: str  # what the rules read: NFC, with a diacritics or capitalisation fix applied
    start: int
    end: int
    joined: bool  # only spaces separate it from the previous token
    sentence_start: bool

    @property
    def lower(self) -> str:
        return self.word.lower()


@dataclass(frozen=True, slots=True)
class Finding:
    rule: GrammarRule
    start: int
    end: int
    original: str
    suggestion: str | None
    params: dict[str, str] = field(default_factory=dict)


def tokenize(text: str, fixes: Mapping[int, str] | None = None) -> list[Token]:
    """The tokens of `text`; `fixes` maps a word's start offset to the form the rules should read."""
    fixes = fixes or {}
    tokens: list[Token] = []
    previous_end: int | None = None
    for match in words_in(text):
        start, end = match.span()
        gap = text[previous_end:start] if previous_end is not None else ""
        joined = previous_end is not None and gap != "" and gap.isspace() and "\n" not in gap
        sentence_start = previous_end is None or "\n" in gap or any(char in _SENTENCE_END for char in gap)
        word = fixes.get(start) or unicodedata.normalize("NFC", match.group())
        tokens.append(Token(match.group(), word, start, end, joined, sentence_start))
        previous_end = end
    return tokens


def match_case(original: str, form: str) -> str:
    """`form` capitalised like `original` ("Kino" → "Kina"); a name keeps its capital ("praha" → "Praze")."""
    if original[:1].isupper() and not form[:1].isupper():
        return form[:1].upper() + form[1:]
    return form


def joined_after(tokens: list[Token], index: int) -> Token | None:
    """The token after `index` when only spaces separate them, else None."""
    following = index + 1
    return tokens[following] if following < len(tokens) and tokens[following].joined else None


@dataclass(frozen=True, slots=True)
class Phrase:
    modifiers: tuple[tuple[int, Modifier], ...]  # (token index, modifier)
    noun: int  # token index
    readings: Readings


def phrase_after(tokens: list[Token], index: int) -> Phrase | None:
    """The noun phrase right after token `index` (modifiers, then a noun with readings), or None."""
    modifiers: list[tuple[int, Modifier]] = []
    position = index + 1
    while position < len(tokens) and tokens[position].joined and len(modifiers) <= MAX_MODIFIERS:
        token = tokens[position]
        found = modifier(token.word)
        following = joined_after(tokens, position)
        if (
            found is not None
            and following is not None
            and (modifier(following.word) is not None or noun_readings(following.word).readings)
        ):
            modifiers.append((position, found))
            position += 1
            continue
        readings = noun_readings(token.word)
        return Phrase(tuple(modifiers), position, readings) if readings.readings else None
    return None


def replace(text: str, tokens: list[Token], changes: Iterable[tuple[int, str]]) -> tuple[int, int, str, str]:
    """(start, end, original, replacement) for replacing tokens by index with new forms, gaps kept."""
    changed = sorted(changes)
    first, last = changed[0][0], changed[-1][0]
    start, end = tokens[first].start, tokens[last].end
    new = dict(changed)
    pieces: list[str] = []
    for position in range(first, last + 1):
        if position > first:
            pieces.append(text[tokens[position - 1].end : tokens[position].start])
        pieces.append(new.get(position, tokens[position].word))  # an unchanged word keeps its word-rule fix
    return start, end, text[start:end], "".join(pieces)
