"""Review of a learner's written Czech: word count, correctness, corrections and a corrected text.

Every reviewer produces a `Review` (stored as JSON in the `messages.review` column):

- `OfflineReviewer` (here): no network, deterministic, pure. Word rules from the Czech lexicon
  (`mluv.domain.czech`: wordfreq's frequencies) and Hunspell's cs_CZ dictionary (`mluv.domain.spelling`),
  then grammar rules (`mluv.domain.grammar`). `checks` = diacritics, spelling, grammar_rules: it never
  checks grammar as a whole, so its feedback may not say "no mistakes".
- `mluv.reviewers.llm`: optional, an OpenAI-compatible model whose corrections are merged with these.

Definitions (every reviewer):

- **Word**: as `mluv.domain.czech` defines it; `Review.word_count == count_words(text)`.
- **Positions** (`Correction.start`/`end`) are offsets in code points into the reviewed text
  (`text[start:end] == original`); `None` when an online correction cannot be located in the text.
- **Correctness** (0-100): `100 * (word_count - wrong) // word_count` (rounded down, so 100 means no word
  was corrected), where a word is wrong when a correction covers it. The level makes it stricter: for a
  beginner a word whose only mistake is diacritics counts half; for intermediate and advanced, whole. An
  empty text (0 words) scores 100: nothing is wrong; statistics weight correctness by word_count, so it
  does not count. The online reviewer takes the model's own score (0-100), capped at 99 when it made
  corrections.

Offline word rules, for each word (looked up lowercased, NFC), the first that applies:

1. **Missing diacritics** (rule "diacritics"): the word has no diacritics, and the most frequent accented
   spelling with the same letters (among the ~200k most frequent Czech words) is at least
   `DIACRITICS_MARGIN` (1.0) zipf more frequent: "dekuji" (3.35) → "děkuji" (5.23). Web text often omits
   diacritics, which is why the bare forms are "known" at all; the margin keeps real words such as "ze"
   (from) vs "že" (that, +0.8) apart. Real words whose accented twin is more frequent are kept: a short
   list (`VALID_BARE_FORMS`: byt, vyber, zprava…), masculine case forms in -u vs -ů ("lesu"/"lesů"),
   adverbs in -sky/-cky vs adjectives ("rusky"/"ruský") and verbs in -uji vs -ují ("pracuji"/"pracují").
   The suggestion is the most frequent spelling, except that learners, who write about themselves, get
   the first person when it is a known word ("potrebuji" → "potřebuji", not "potřebují"), and the adverb
   when it is within 1.0 zipf ("cesky" → "česky", not "český"); a name keeps its capital ("nemecko" →
   "Německo").
2. **Wrong diacritics** (rule "diacritics"): the word has diacritics, neither wordfreq nor Hunspell knows
   it, and its letters without diacritics spell a word both know: "dékuji" → "děkuji".
3. Hunspell accepts the word as written: it is right.
4. **A name written lowercase** (rule "capitalisation", kind "spelling"): Hunspell rejects it but accepts
   it capitalised, the name is not rare (`NAME_MIN_ZIPF`), and it is not likelier a frequent word ("bio")
   or a typo of one ("košku": kočku): "praha" → "Praha", "petr" → "Petr".
5. **A typo** (rule "spelling"): Hunspell rejects it, it does not look like a name (a capitalised word
   that does not start a sentence, or an all-capitals abbreviation), and wordfreq does not know it (zipf
   below `KNOWN_ZIPF`: a colloquial "jmenuju" or "kafe" is left alone, and a rare typo whose correction
   is far more frequent is not: "jabloko" → "jablko", `TYPO_MAX_ZIPF`/`TYPO_MARGIN`); the suggestion is
   `mluv.domain.spelling`'s best ("studnet" → "student"). Without a fast suggestion it is an **unknown
   word** (kind "unknown", no rule: "xqzvbn"), except that the first `MAX_SLOW_SUGGESTIONS` of them get
   Hunspell's own (slow, cached) suggestions. A word in another script (Cyrillic…) is always unknown.

A suggestion keeps the original capitalisation ("Dekuji" → "Děkuji", "DEKUJI" → "DĚKUJI"). Then the
grammar rules read the words with those fixes applied ("do skola" → "do školy"); a grammar correction
replaces the word rules' corrections of the words it covers. A text without a Latin letter (Cyrillic,
emoji, digits) gets no correction and no unknown word (`checks` empty): the feedback answers it itself.
`corrected_text` is the text with every suggestion applied; unknown words stay as they are. Once the
lexicon and the dictionary are loaded (`warm_up`), a review of a 100-word message takes a few ms.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Mapping
from typing import Any, Final, Literal, get_args

from pydantic import BaseModel, ConfigDict, Field

from mluv.domain import czech, spelling
from mluv.domain.czech import KNOWN_ZIPF, Lexicon, get_lexicon, is_latin, strip_diacritics, words_in
from mluv.domain.grammar import find_errors, tokenize

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

OFFLINE_CHECKS: Final[tuple[Check, ...]] = ("diacritics", "spelling", "grammar_rules")
DIACRITICS_MARGIN: Final = 1.0
MAX_SLOW_SUGGESTIONS: Final = 1
NAME_MIN_LENGTH: Final = 3
NAME_MARGIN: Final = 1.5
NAME_MIN_ZIPF: Final = 2.0
# A known word (zipf ≥ KNOWN_ZIPF) that Hunspell rejects is a typo only when rare and its correction far
# more frequent: "jabloko" (1.8) → "jablko" (4.4); not colloquial "jmenuju" (3.7) or "kafe".
TYPO_MAX_ZIPF: Final = 2.5
TYPO_MARGIN: Final = 2.0
# Lowercase words Hunspell knows only as names, although learners mean a colloquial word.
NOT_NAMES: Final = frozenset({"teda", "budem", "bio"})

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
    if own >= KNOWN_ZIPF or spelling.spell(lower):
        return None
    # Written with diacritics that make no word, while the letters spell one ("dékuji"; not "čai" → "cai").
    candidates = [*spellings, (bare, lexicon.zipf.get(bare, 0.0))]
    candidates = [(form, value) for form, value in candidates if spelling.spell(form)]
    if not candidates:
        return None
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


def _name_fix(form: str, lexicon: Lexicon) -> str | None:
    """The capitalised form of a lowercase name ("praha" → "Praha"), or None (see rule 4)."""
    if len(form) < NAME_MIN_LENGTH or not form.islower() or form in NOT_NAMES:
        return None
    capitalised = form[:1].upper() + form[1:]
    if not spelling.spell(capitalised):
        return None
    own = lexicon.zipf.get(form, 0.0)
    lemmas = [stem for stem, _ in spelling.analyze(capitalised) if stem[:1].isupper()]
    name = max((lexicon.zipf.get(lemma.lower(), 0.0) for lemma in lemmas), default=0.0)
    if name < NAME_MIN_ZIPF:
        return None
    if own >= KNOWN_ZIPF:
        # Written this way often: a name, unless a rare one that a frequent word spells ("bio": Bia).
        return capitalised if name >= own - NAME_MARGIN else None
    # Rarely written: a typo of a word more frequent than the name is likelier ("košku": kočku, not Koška).
    typo = spelling.fast_correction(form, lexicon)
    if typo is not None and typo.islower() and lexicon.zipf.get(typo, 0.0) > name:
        return None
    return capitalised


def _word_correction(text: str, match: re.Match[str], lexicon: Lexicon) -> Correction | None:
    """The word rules 1-5 for one word: its correction, or None. An unknown word gets no suggestion yet."""
    token = match.group()
    start, end = match.span()
    form = token if token.isascii() else unicodedata.normalize("NFC", token)
    lower = form.lower()

    def correction(suggestion: str | None, kind: CorrectionKind, rule: RuleId | None) -> Correction:
        fixed = _match_case(form, suggestion) if suggestion else None
        return Correction(original=token, suggestion=fixed, kind=kind, rule=rule, start=start, end=end)

    if not is_latin(form):
        return correction(None, "unknown", None)
    suggestion = _diacritics_suggestion(lower, lexicon)
    if suggestion is not None:
        if not spelling.spell(suggestion) and spelling.spell(suggestion.capitalize()):
            suggestion = suggestion.capitalize()  # "nemecko" → "Německo"
        return correction(suggestion, "diacritics", "diacritics")
    if spelling.spell(form):
        return None
    name = _name_fix(form, lexicon)
    if name is not None:
        return correction(name, "spelling", "capitalisation")
    if _looks_like_name(text, form, start):
        return None
    own = lexicon.zipf.get(lower, 0.0)
    fixed = spelling.fast_correction(lower, lexicon)
    frequent = fixed is not None and lexicon.zipf.get(fixed.lower(), 0.0) >= own + TYPO_MARGIN
    if own >= KNOWN_ZIPF and not (own < TYPO_MAX_ZIPF and frequent):
        return None
    return correction(fixed, "spelling", "spelling") if fixed else correction(None, "unknown", None)


def _suggest_slowly(corrections: list[Correction], lexicon: Lexicon) -> list[Correction]:
    """Hunspell's slow suggestions for the first `MAX_SLOW_SUGGESTIONS` unknown Latin words."""
    result: list[Correction] = []
    left = MAX_SLOW_SUGGESTIONS
    for c in corrections:
        if c.kind == "unknown" and left > 0 and is_latin(c.original):
            left -= 1
            fixed = spelling.slow_correction(unicodedata.normalize("NFC", c.original), lexicon)
            if fixed is not None:
                c = c.model_copy(
                    update={
                        "suggestion": _match_case(c.original, fixed),
                        "kind": "spelling",
                        "rule": "spelling",
                    }
                )
        result.append(c)
    return result


class OfflineReviewer:
    """Word rules (diacritics, spelling, names) and grammar rules; no I/O after the first load."""

    def review(self, text: str, *, level: Level = "beginner") -> Review:
        words = list(words_in(text))
        if not any(is_latin(match.group()) and match.group().isalpha() for match in words):
            # Nothing Czech to check (Cyrillic, emoji, digits): the feedback handles such a text itself.
            return Review(
                word_count=len(words), correctness=100, corrected_text=text, reviewer="offline", checks=[]
            )
        lexicon = get_lexicon()
        found = [_word_correction(text, match, lexicon) for match in words]
        word_corrections = _suggest_slowly([c for c in found if c is not None], lexicon)
        fixes = {
            c.start: unicodedata.normalize("NFC", c.suggestion)
            for c in word_corrections
            if c.start is not None and c.suggestion
        }
        tokens = tokenize(text, fixes)
        grammar = [
            Correction(
                original=f.original,
                suggestion=f.suggestion,
                kind="grammar",
                start=f.start,
                end=f.end,
                rule=f.rule,
                params=f.params,
            )
            for f in find_errors(text, tokens)
        ]
        corrections = sorted(
            [*grammar, *(c for c in word_corrections if not any(_overlap(c, g) for g in grammar))],
            key=lambda c: c.start or 0,
        )
        unknown_words = list(dict.fromkeys(c.original for c in corrections if c.kind == "unknown"))
        return Review(
            word_count=len(words),
            correctness=_score(words, corrections, level),
            corrections=corrections,
            unknown_words=unknown_words,
            corrected_text=_corrected(text, corrections),
            reviewer="offline",
            checks=list(OFFLINE_CHECKS),
        )


def _overlap(a: Correction, b: Correction) -> bool:
    return (a.start or 0) < (b.end or 0) and (b.start or 0) < (a.end or 0)


def _corrected(text: str, corrections: list[Correction]) -> str:
    pieces: list[str] = []
    last = 0
    for c in corrections:
        if c.suggestion is None or c.start is None or c.end is None or c.start < last:
            continue
        pieces += (text[last : c.start], c.suggestion)
        last = c.end
    pieces.append(text[last:])
    return "".join(pieces)


def _score(words: list[re.Match[str]], corrections: list[Correction], level: Level) -> int:
    """100 × the share of words without a mistake, rounded down; see "Correctness" above."""
    if not words:
        return 100
    half_units = 0  # a mistake counts 2, a beginner's diacritics-only mistake 1
    for match in words:
        start, end = match.span()
        kinds = {c.kind for c in corrections if (c.start or 0) < end and start < (c.end or 0)}
        if kinds:
            half_units += 1 if kinds == {"diacritics"} and level == "beginner" else 2
    return max(0, 2 * len(words) - half_units) * 100 // (2 * len(words))


_offline = OfflineReviewer()


def review_offline(text: str, *, level: Level = "beginner") -> Review:
    """`OfflineReviewer().review(text, level=level)`."""
    return _offline.review(text, level=level)


def warm_up() -> float:
    """Build the lexicon and load the dictionary now (idempotent, thread-safe); returns the seconds taken."""
    return czech.warm_up() + spelling.warm_up()
