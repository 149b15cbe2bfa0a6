"""The feedback message a learner gets for one text, composed from its `Review` and their level (pure).

    format_feedback(review, "uk", level="intermediate")

Plain text: the bot sends it without `parse_mode`, so the learner's own words (quoted in corrections and
in the corrected text) need no escaping and cannot break the message. It fits one Telegram message: at
most `TELEGRAM_TEXT_LIMIT` (4096) characters as Telegram counts them (UTF-16 code units, so an emoji counts
two).

**Honest.** The last line says what the reviewer checked (`Review.checks`). Only a review whose checks
include "grammar" (a reviewer that checked grammar as a whole) may say there is no mistake
(`feedback-perfect`); without a correction, the others say what they found right and no more: the
offline reviewer (diacritics, spelling, grammar_rules) says "spelling and diacritics look right; the
grammar rules checked found nothing". A review stored before `checks` existed (an empty list) counts as
having checked diacritics and known words only.

**The level** (`Level`, the learner's choice at /start) sets how much an offline rule's correction (one
with `rule`) is explained, from the rule and its `params`, in the learner's language:
- beginner: the rule in a sentence with the corrected example ("после «do» нужен родительный падеж
  (2. pád, кого? чего?): do kina"), and a note on háček and čárka under the diacritics;
- intermediate: a short hint ("do + 2. pád");
- advanced: the correction only.
A correction without a rule (the online reviewer's) shows its own explanation at every level: the model
was told the level. A rule's correction whose params the text cannot use (missing, an unknown case) shows
its own explanation, if any; one without a suggestion gets the short hint, which needs no example.

Layout: the header (correctness and word count when there are corrections; else the line for what was
checked; a hint when the text has no words, and nothing else); missing diacritics ("original →
suggestion"); other corrections; unknown words; the online reviewer's comment; the corrected text; the
line saying what was checked. Lists show at most `MAX_ITEMS` entries (a repeated line once) and end with
"…and N more"; long fragments are shortened; the corrected text is shortened first, then the body, so
the last line always fits.
"""

from __future__ import annotations

from typing import Final

from mluv.domain.review import Correction, Level, Review
from mluv.domain.telegram_text import TELEGRAM_TEXT_LIMIT, shorten, utf16_length
from mluv.i18n import t

MAX_ITEMS: Final = 10
MAX_UNKNOWN_WORDS: Final = 15
MAX_FRAGMENT: Final = 60
MAX_EXPLANATION: Final = 200
MIN_CORRECTED_TEXT: Final = 40
SEPARATOR: Final = "\n\n"

CASES: Final = frozenset({"genitive", "dative", "accusative", "locative", "instrumental"})
GENDERS: Final = frozenset({"masculine", "feminine", "neuter"})
# Numerals whose form follows the noun's gender; after tři/čtyři the noun is nominative plural, after
# five and more genitive plural.
_GENDERED_NUMERALS: Final = frozenset({"dva", "dvě", "oba", "obě"})
_SMALL_NUMERALS: Final = frozenset({"tři", "čtyři"})


def _one_line(text: str, limit: int) -> str:
    return shorten(" ".join(text.split()), limit)


def _items(language: str, lines: list[str]) -> tuple[str, int]:
    """Unique lines (a repeated correction once), at most MAX_ITEMS, then "…and N more"; and their count."""
    unique = list(dict.fromkeys(lines))
    shown = unique[:MAX_ITEMS]
    if len(unique) > len(shown):
        shown.append(t(language, "feedback-more", count=len(unique) - len(shown)))
    return "\n".join(shown), len(unique)


# ---------------------------------------------------------------------------------------------------
# What was checked


def _checked(review: Review) -> str:
    """The strongest check the review made: grammar, the offline rules, spelling, or diacritics only."""
    checks = set(review.checks)
    for check, name in (("grammar", "grammar"), ("grammar_rules", "rules"), ("spelling", "spelling")):
        if check in checks:
            return name
    return "diacritics"


def _clean_line(review: Review, language: str) -> str:
    checked = _checked(review)
    if checked == "grammar":
        return t(language, "feedback-perfect", words=review.word_count)
    return t(language, f"feedback-clean-{checked}")


# ---------------------------------------------------------------------------------------------------
# An offline rule's correction explained


def _example(keyword: str, correction: Correction, suggestion: str) -> str:
    """The corrected phrase: "do kina" from preposition "do" and suggestion "kina"; the suggestion alone
    when the correction covers the keyword ("dva" → "dvě", "do kino" → "do kina") or starts with it."""
    lowered = keyword.lower()
    if lowered in correction.original.lower().split() or suggestion.lower().startswith(f"{lowered} "):
        return suggestion
    return f"{keyword} {suggestion}"


def _rule_text(correction: Correction) -> tuple[str, str, str] | None:
    """(key stem, the word that sets the rule, the example) for a rule's correction, or None when the
    rule needs no explanation per item (diacritics) or its params are not usable."""
    params, suggestion = correction.params, correction.suggestion or ""
    match correction.rule:
        case "preposition-case" if params.get("preposition") and params.get("case") in CASES:
            keyword = params["preposition"]
            return f"rule-preposition-{params['case']}", keyword, _example(keyword, correction, suggestion)
        case "numeral-agreement" if params.get("numeral"):
            keyword = params["numeral"]
            if keyword.lower() in _GENDERED_NUMERALS:
                if params.get("gender") not in GENDERS:
                    return None
                stem = f"rule-numeral-{params['gender']}"
            else:
                stem = (
                    "rule-numeral-plural" if keyword.lower() in _SMALL_NUMERALS else "rule-numeral-genitive"
                )
            return stem, keyword, _example(keyword, correction, suggestion)
        case "adjective-agreement" if params.get("noun") and params.get("gender") in GENDERS:
            noun = params["noun"]
            return f"rule-adjective-{params['gender']}", noun, _example(f"{noun} je", correction, suggestion)
        case "byt-form" if params.get("pronoun"):
            pronoun = params["pronoun"]
            return "rule-byt-form", pronoun, _example(pronoun, correction, suggestion)
        case "spelling" | "capitalisation":
            return f"rule-{correction.rule}", "", suggestion
    return None


def _explanation(correction: Correction, language: str, level: Level) -> str | None:
    own = _one_line(correction.explanation, MAX_EXPLANATION) if correction.explanation else None
    if correction.rule is None:
        return own
    if level == "advanced":
        return None
    rule = _rule_text(correction)
    if rule is None:
        return own
    stem, keyword, example = rule
    # Without a suggestion there is no example to show: the short hint needs none.
    depth = level if correction.suggestion else "intermediate"
    return t(
        language,
        f"{stem}-{depth}",
        original=_one_line(keyword, MAX_FRAGMENT),
        text=_one_line(example, MAX_FRAGMENT),
    )


# ---------------------------------------------------------------------------------------------------
# Sections


def _is_diacritics(correction: Correction) -> bool:
    return correction.rule == "diacritics" or (correction.rule is None and correction.kind == "diacritics")


def _diacritics_section(language: str, corrections: list[Correction], level: Level) -> str:
    lines = [
        t(
            language,
            "feedback-diacritics-item",
            original=_one_line(c.original, MAX_FRAGMENT),
            suggestion=_one_line(c.suggestion or "", MAX_FRAGMENT),
        )
        for c in corrections
    ]
    items, count = _items(language, lines)
    section = t(language, "feedback-diacritics", count=count, items=items)
    if level == "beginner":
        section = f"{section}\n{t(language, 'feedback-diacritics-note')}"
    return section


def _corrections_section(language: str, corrections: list[Correction], level: Level) -> str:
    lines = []
    for c in corrections:
        original = _one_line(c.original, MAX_FRAGMENT)
        suggestion = _one_line(c.suggestion or "—", MAX_FRAGMENT)
        explanation = _explanation(c, language, level)
        if explanation:
            lines.append(
                t(
                    language,
                    "feedback-correction-item-explained",
                    original=original,
                    suggestion=suggestion,
                    explanation=explanation,
                )
            )
        else:
            lines.append(t(language, "feedback-correction-item", original=original, suggestion=suggestion))
    items, count = _items(language, lines)
    return t(language, "feedback-corrections", count=count, items=items)


def _unknown_section(language: str, words: list[str]) -> str:
    shown = [_one_line(word, MAX_FRAGMENT) for word in words[:MAX_UNKNOWN_WORDS]]
    listed = ", ".join(shown)
    if len(words) > len(shown):
        listed = f"{listed} {t(language, 'feedback-more', count=len(words) - len(shown))}"
    return t(language, "feedback-unknown-words", count=len(words), words=listed)


def _fit(sections: list[str], corrected_text: str | None, last: str | None, language: str) -> str:
    """The sections, then as much of the corrected text as fits, then `last`, which always fits."""
    tail = f"{SEPARATOR}{last}" if last else ""
    room = TELEGRAM_TEXT_LIMIT - utf16_length(tail)
    message = SEPARATOR.join(sections)
    if corrected_text is not None:
        frame = t(language, "feedback-corrected-text", text="")
        budget = room - utf16_length(message) - utf16_length(f"{SEPARATOR}{frame}\n")
        if budget >= MIN_CORRECTED_TEXT:
            section = t(language, "feedback-corrected-text", text=shorten(corrected_text.strip(), budget))
            message = f"{message}{SEPARATOR}{section}"
    return shorten(message, room) + tail


def format_feedback(review: Review, language: str, level: Level = "beginner") -> str:
    """The feedback message for `review` in `language` ("ru"/"uk") for a learner at `level`; plain text,
    ≤ 4096 UTF-16 code units."""
    if review.word_count == 0 and not review.corrections:
        return _fit([t(language, "feedback-empty")], None, None, language)
    checked = t(language, f"feedback-checked-{_checked(review)}")
    comment = (
        [t(language, "feedback-comment", comment=_one_line(review.comment, 500))] if review.comment else []
    )
    if not review.corrections:
        return _fit([_clean_line(review, language), *comment], None, checked, language)

    sections = [t(language, "feedback-header", correctness=review.correctness, words=review.word_count)]
    diacritics = [c for c in review.corrections if _is_diacritics(c)]
    others = [c for c in review.corrections if not _is_diacritics(c) and c.kind != "unknown"]
    unknown = review.unknown_words or list(
        dict.fromkeys(c.original for c in review.corrections if c.kind == "unknown")
    )
    if diacritics:
        sections.append(_diacritics_section(language, diacritics, level))
    if others:
        sections.append(_corrections_section(language, others, level))
    if unknown:
        sections.append(_unknown_section(language, unknown))
    sections += comment
    has_suggestions = any(c.suggestion for c in review.corrections)
    corrected = review.corrected_text if has_suggestions and review.corrected_text.strip() else None
    return _fit(sections, corrected, checked, language)
