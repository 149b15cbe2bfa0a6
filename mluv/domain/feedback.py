"""The feedback message a learner gets for one text, composed from its `Review` (pure).

Plain text: the bot sends it without `parse_mode`, so the learner's own words (quoted in corrections and
in the corrected text) need no escaping and cannot break the message. It fits one Telegram message: at
most `TELEGRAM_TEXT_LIMIT` (4096) characters as Telegram counts them (UTF-16 code units, so an emoji counts
two).

Layout: a header with the correctness and word count (or a "perfect" line when there is nothing to
correct, or a hint when the text has no words); then missing diacritics ("original → suggestion"), other
corrections (from the online reviewer, with explanations), unknown words, the online reviewer's comment,
and the corrected text. Lists show at most `MAX_ITEMS` entries (repeated corrections once) and end with
"…and N more"; long fragments are shortened; the corrected text is shortened last, to what still fits.
"""

from __future__ import annotations

from typing import Final

from mluv.domain.review import Correction, Review
from mluv.domain.telegram_text import TELEGRAM_TEXT_LIMIT, shorten, utf16_length
from mluv.i18n import t

MAX_ITEMS: Final = 10
MAX_UNKNOWN_WORDS: Final = 15
MAX_FRAGMENT: Final = 60
MAX_EXPLANATION: Final = 200
MIN_CORRECTED_TEXT: Final = 40
SEPARATOR: Final = "\n\n"


def _one_line(text: str, limit: int) -> str:
    return shorten(" ".join(text.split()), limit)


def _unique(corrections: list[Correction]) -> list[Correction]:
    seen: set[tuple[str, str | None, str | None]] = set()
    unique: list[Correction] = []
    for correction in corrections:
        key = (correction.original, correction.suggestion, correction.explanation)
        if key not in seen:
            seen.add(key)
            unique.append(correction)
    return unique


def _items(language: str, lines: list[str], total: int) -> str:
    if total > len(lines):
        lines = [*lines, t(language, "feedback-more", count=total - len(lines))]
    return "\n".join(lines)


def _diacritics_section(language: str, corrections: list[Correction]) -> str:
    lines = [
        t(
            language,
            "feedback-diacritics-item",
            original=_one_line(c.original, MAX_FRAGMENT),
            suggestion=_one_line(c.suggestion or "", MAX_FRAGMENT),
        )
        for c in corrections[:MAX_ITEMS]
    ]
    items = _items(language, lines, len(corrections))
    return t(language, "feedback-diacritics", count=len(corrections), items=items)


def _corrections_section(language: str, corrections: list[Correction]) -> str:
    lines = []
    for c in corrections[:MAX_ITEMS]:
        original = _one_line(c.original, MAX_FRAGMENT)
        suggestion = _one_line(c.suggestion or "—", MAX_FRAGMENT)
        if c.explanation:
            explanation = _one_line(c.explanation, MAX_EXPLANATION)
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
    items = _items(language, lines, len(corrections))
    return t(language, "feedback-corrections", count=len(corrections), items=items)


def _unknown_section(language: str, words: list[str]) -> str:
    shown = [_one_line(word, MAX_FRAGMENT) for word in words[:MAX_UNKNOWN_WORDS]]
    listed = ", ".join(shown)
    if len(words) > len(shown):
        listed = f"{listed} {t(language, 'feedback-more', count=len(words) - len(shown))}"
    return t(language, "feedback-unknown-words", count=len(words), words=listed)


def _fit(sections: list[str], corrected_text: str | None, language: str) -> str:
    message = SEPARATOR.join(sections)
    if corrected_text is not None:
        frame = t(language, "feedback-corrected-text", text="")
        budget = TELEGRAM_TEXT_LIMIT - utf16_length(message) - utf16_length(SEPARATOR + frame)
        if budget >= MIN_CORRECTED_TEXT:
            section = t(language, "feedback-corrected-text", text=shorten(corrected_text.strip(), budget))
            message = f"{message}{SEPARATOR}{section}"
    return shorten(message, TELEGRAM_TEXT_LIMIT)


def format_feedback(review: Review, language: str) -> str:
    """The feedback message for `review` in `language` ("ru"/"uk"); plain text, ≤ 4096 characters."""
    comment = (
        [t(language, "feedback-comment", comment=_one_line(review.comment, 500))] if review.comment else []
    )
    if not review.corrections:
        if review.word_count == 0:
            return _fit([t(language, "feedback-empty")], None, language)
        return _fit([t(language, "feedback-perfect", words=review.word_count), *comment], None, language)

    sections = [t(language, "feedback-header", correctness=review.correctness, words=review.word_count)]
    diacritics = _unique([c for c in review.corrections if c.kind == "diacritics"])
    others = _unique([c for c in review.corrections if c.kind not in ("diacritics", "unknown")])
    unknown = review.unknown_words or list(
        dict.fromkeys(c.original for c in review.corrections if c.kind == "unknown")
    )
    if diacritics:
        sections.append(_diacritics_section(language, diacritics))
    if others:
        sections.append(_corrections_section(language, others))
    if unknown:
        sections.append(_unknown_section(language, unknown))
    sections += comment
    has_suggestions = any(c.suggestion for c in review.corrections)
    corrected = review.corrected_text if has_suggestions and review.corrected_text.strip() else None
    return _fit(sections, corrected, language)
