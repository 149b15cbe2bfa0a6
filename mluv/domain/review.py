"""Review of a learner's written Czech: word count, correctness, corrections and a corrected text.

Every reviewer produces a `Review` (stored as JSON in the `messages.review` column):

- `OfflineReviewer` (here): no network, deterministic. It uses the Czech lexicon (`mluv.domain.czech`:
  wordfreq's word frequencies) to find missing diacritics and words it does not know (possible typos).
- `mluv.reviewers.llm.OpenAIReviewer`: optional, when `OPENAI_API_KEY` is set; an OpenAI-compatible
  chat-completions endpoint, with explanations in the learner's language, falling back to this one.

Definitions (every reviewer):

- **Word**: as `mluv.domain.czech` defines it; `Review.word_count == count_words(text)`.
- **Positions** (`Correction.start`/`end`) are offsets in code points into the reviewed text
  (`text[start:end] == original`); `None` when an online correction cannot be located in the text.
- **Correctness** (0-100): `100 * ok_words // word_count` (rounded down, so 100 means no word was
  corrected), where ok_words are the words without a correction. An empty text (0 words) scores 100:
  nothing is wrong; statistics weight correctness by word_count, so it does not count. The online
  reviewer takes the model's own score (0-100), capped at 99 when it made corrections.

Offline rules, for each word (looked up lowercased, NFC):

1. **Missing diacritics**: the word has no diacritics, and the most frequent accented spelling with the
   same letters (among the ~200k most frequent Czech words) is at least `DIACRITICS_MARGIN` (1.0) zipf
   more frequent: "dekuji" (3.35) → "děkuji" (5.23). Web text often omits diacritics, which is why the
   bare forms are "known" at all; the margin keeps real words such as "ze" (from) vs "že" (that, +0.8)
   apart. Real words whose accented twin is more frequent are kept: a short list (`VALID_BARE_FORMS`:
   byt, vyber, zprava…), masculine case forms in -u vs -ů ("lesu"/"lesů"), adverbs in -sky/-cky vs
   adjectives ("rusky"/"ruský") and verbs in -uji vs -ují ("pracuji"/"pracují"). The suggestion is the
   most frequent spelling, except that learners, who write about themselves, get the first person when it
   is a known word ("potrebuji" → "potřebuji", not "potřebují"), and the adverb when it is within 1.0
   zipf ("cesky" → "česky", not "český").
2. **Wrong diacritics**: the word has diacritics, is not a known word, and its letters without
   diacritics spell a known word: "dékuji" → "děkuji".
3. **Unknown word**: its zipf frequency is below `KNOWN_ZIPF` (1.5), unless it looks like a name (a
   capitalised word that does not start a sentence, or an all-capitals abbreviation): "xqzvbn". A word
   in another script (Cyrillic…) is always unknown: Czech is written in Latin letters.

A suggestion keeps the original capitalisation ("Dekuji" → "Děkuji", "DEKUJI" → "DĚKUJI").
`corrected_text` is the text with the diacritics corrections applied; unknown words stay as they are.
Once the lexicon is built (`mluv.domain.czech.warm_up`), a review of a 100-word message takes well under
1 ms.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Mapping
from typing import Any, Final, Literal, get_args

from pydantic import BaseModel, ConfigDict, Field

from mluv.domain.czech import KNOWN_ZIPF, Lexicon, get_lexicon, is_latin, strip_diacritics, words_in

CorrectionKind = Literal[
    "diacritics", "unknown", "spelling", "grammar", "vocabulary", "word_order", "style", "other"
]
CORRECTION_KINDS: Final[tuple[str, ...]] = get_args(CorrectionKind)
ReviewerName = Literal["offline", "openai"]
# The learner's level (users.level): how much the feedback explains and how strict the score is.
Level = Literal["beginner", "intermediate", "advanced"]
LEVELS: Final[tuple[str, ...]] = get_args(Level)
# The offline rules; a correction a rule found carries its id (and the rule's details in `params`), so the
# feedback explains it in the learner's language and a merge with the online reviewer never drops it.
RuleId = Literal[
    "diacritics",
    "spelling",
    "capitalisation",
    "preposition-case",
    "numeral-agreement",
    "adjective-agreement",
    "byt-form",
]
RULE_IDS: Final[tuple[str, ...]] = get_args(RuleId)
# What a reviewer checked: only a review whose checks include "grammar" (a reviewer that checks grammar
# as a whole) may tell the learner there is no mistake; "grammar_rules" are the offline rules above.
Check = Literal["diacritics", "spelling", "grammar_rules", "grammar"]

DIACRITICS_MARGIN: Final = 1.0

# Czech words written without diacritics that are words in their own right although an accented twin is
# more frequent by DIACRITICS_MARGIN or more (checked against wordfreq's list; not exhaustive). Words a
# learner almost always means with diacritics (rad → rád, dam → dám) are deliberately not here.
VALID_BARE_FORMS: Final = frozenset(
    {
        "byt",  # flat (být: to be)
        "cech",  # guild
        "dolaru",  # dative/locative of dolar
        "jez",  # weir; eat! (jež: which)
        "mistru",  # dative of mistr
        "plni",  # full (plural)
        "porada",  # meeting (pořádá: organises)
        "poradu",  # meeting, accusative (pořadu: programme)
        "pral",  # washed, fought (přál: wished)
        "prala",
        "psu",  # dative of pes
        "spis",  # file, document (spíš: rather)
        "tipu",  # genitive of tip
        "vyber",  # choose! (výběr: choice)
        "vyberu",  # I will choose (výběru: choice, genitive)
        "zeleni",  # the Greens (zelení)
        "zprava",  # from the right (zpráva: message)
    }
)

_SENTENCE_END = frozenset(".!?…")
_OPENERS = frozenset("\"'«»„“”‚‘’([{-–—")


# ---------------------------------------------------------------------------------------------------
# The result


class Correction(BaseModel):
    """One correction: `original` as written, `suggestion` (None for an unknown word), its kind."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    original: str
    suggestion: str | None
    kind: CorrectionKind
    start: int | None = None
    end: int | None = None
    explanation: str | None = None
    rule: RuleId | None = None
    params: dict[str, str] = Field(default_factory=dict)


class Review(BaseModel):
    """The review of one learner message (see the module docstring for the definitions)."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    word_count: int = Field(ge=0)
    correctness: int = Field(ge=0, le=100)
    corrections: list[Correction] = Field(default_factory=list)
    unknown_words: list[str] = Field(default_factory=list)
    corrected_text: str
    reviewer: ReviewerName
    comment: str | None = None
    checks: list[Check] = Field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        """A JSON-compatible dict for the `messages.review` JSONB column."""
        return self.model_dump(mode="json")

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Review:
        """The inverse of `to_json`; unknown keys (from newer versions) are ignored."""
        return cls.model_validate(dict(data))


# ---------------------------------------------------------------------------------------------------
# Rules about words: capitalisation, names, bare forms that are words


def _match_case(original: str, suggestion: str) -> str:
    if original == original.lower():
        return suggestion
    if len(original) > 1 and original == original.upper():
        return suggestion.upper()
    if len(original) == len(suggestion):
        return "".join(s.upper() if o.isupper() else s for o, s in zip(original, suggestion, strict=True))
    return suggestion[:1].upper() + suggestion[1:]


def _starts_sentence(text: str, start: int) -> bool:
    index = start - 1
    while index >= 0:
        char = text[index]
        if char in "\n\r":
            return True
        if char.isspace() or char in _OPENERS:
            index -= 1
            continue
        return char in _SENTENCE_END
    return True


def _looks_like_name(text: str, word: str, start: int) -> bool:
    if not word[:1].isupper():
        return False
    if len(word) > 1 and word == word.upper():
        return True
    return not _starts_sentence(text, start)


def _bare_form_is_valid(bare: str, accented: str) -> bool:
    if bare in VALID_BARE_FORMS:
        return True
    stem = bare[:-1]
    if bare.endswith("u") and accented == f"{stem}ů":  # lesu / lesů: both case forms
        return True
    if bare.endswith(("sky", "cky")) and accented == f"{stem}ý":  # rusky / ruský: adverb and adjective
        return True
    return bare.endswith("uji") and accented == f"{bare[:-3]}ují"  # pracuji / pracují: I / they work


# ---------------------------------------------------------------------------------------------------
# Offline reviewer


def _diacritics_suggestion(lower: str, lexicon: Lexicon) -> str | None:
    bare = strip_diacritics(lower)
    spellings = lexicon.accented.get(bare, ())
    own = lexicon.zipf.get(lower, 0.0)
    if bare == lower:  # written without diacritics
        if not spellings:
            return None
        best, best_zipf = spellings[0]
        if best_zipf - own < DIACRITICS_MARGIN or _bare_form_is_valid(lower, best):
            return None
        return _preferred_spelling(lower, spellings)
    if own >= KNOWN_ZIPF:
        return None
    # Written with diacritics that make no known word, while the letters spell one ("dékuji").
    candidates = [*spellings, (bare, lexicon.zipf.get(bare, 0.0))]
    form, value = max(candidates, key=lambda candidate: candidate[1])
    return form if value >= KNOWN_ZIPF else None


def _preferred_spelling(bare: str, spellings: tuple[tuple[str, float], ...]) -> str:
    """The most frequent spelling, except where learners most likely mean a slightly rarer one."""
    best, best_zipf = spellings[0]
    for form, value in spellings:
        # Learners write about themselves: "potrebuji" → "potřebuji" (I need), not "potřebují" (they need).
        if bare.endswith("uji") and form.endswith("uji") and value >= KNOWN_ZIPF:
            return form
        # "mluvím cesky" → "česky" (adverb), not "český" (adjective), unless the adjective is far likelier.
        if bare.endswith(("sky", "cky")) and form == f"{best[:-1]}y" and value >= best_zipf - 1.0:
            return form
    return best


class OfflineReviewer:
    """Missing diacritics and unknown words from wordfreq's Czech frequencies; no I/O after the build."""

    def review(self, text: str) -> Review:
        lexicon = get_lexicon()
        corrections: list[Correction] = []
        unknown_words: list[str] = []
        pieces: list[str] = []
        last = 0
        words = 0
        for match in words_in(text):
            words += 1
            token = match.group()
            start, end = match.span()
            form = token if token.isascii() else unicodedata.normalize("NFC", token)
            lower = form.lower()
            suggestion = _diacritics_suggestion(lower, lexicon)
            if suggestion is not None:
                fixed = _match_case(form, suggestion)
                corrections.append(
                    Correction(original=token, suggestion=fixed, kind="diacritics", start=start, end=end)
                )
                pieces += (text[last:start], fixed)
                last = end
            elif not is_latin(form) or (
                lexicon.zipf.get(lower, 0.0) < KNOWN_ZIPF and not _looks_like_name(text, form, start)
            ):
                corrections.append(
                    Correction(original=token, suggestion=None, kind="unknown", start=start, end=end)
                )
                if token not in unknown_words:
                    unknown_words.append(token)
        pieces.append(text[last:])
        return Review(
            word_count=words,
            correctness=_score(words, len(corrections)),
            corrections=corrections,
            unknown_words=unknown_words,
            corrected_text="".join(pieces),
            reviewer="offline",
        )


def _score(words: int, wrong: int) -> int:
    if words == 0:
        return 100
    return max(0, words - wrong) * 100 // words


_offline = OfflineReviewer()


def review_offline(text: str) -> Review:
    """`OfflineReviewer().review(text)`."""
    return _offline.review(text)
