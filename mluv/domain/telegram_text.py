"""Texts as Telegram measures them: lengths in UTF-16 code units, after entity parsing, and splitting.

Telegram takes 1–4096 characters per message and up to 1024 per caption, counted in UTF-16 code units
(an emoji outside the BMP counts twice) after entity parsing (HTML tags and entities do not count). A
plain text over the limit is split at paragraph, line or word boundaries (`split_text`); a text with
markup cannot be split safely, so the Sender refuses it instead. A text the bot composes (feedback, a
report's caption) is cut to fit instead (`shorten`). Pure: the domain and the Sender both use it.
"""

from __future__ import annotations

import html
import re

TELEGRAM_TEXT_LIMIT = 4096
TELEGRAM_CAPTION_LIMIT = 1024
ELLIPSIS = "…"

_TAG = re.compile(r"<[^>]*>")


def utf16_length(text: str) -> int:
    """Telegram measures texts in UTF-16 code units (an emoji outside the BMP counts twice)."""
    return len(text.encode("utf-16-le")) // 2


def visible_length(text: str, parse_mode: str | None) -> int:
    """Length as Telegram checks it: after entity parsing (HTML tags and entities removed)."""
    if parse_mode is not None and parse_mode.upper() == "HTML":
        return utf16_length(html.unescape(_TAG.sub("", text)))
    return utf16_length(text)


def fits_one_message(text: str, parse_mode: str | None) -> bool:
    """Whether Telegram would take `text` as one message: not empty, not over the limit once parsed."""
    return bool(text.strip()) and visible_length(text, parse_mode) <= TELEGRAM_TEXT_LIMIT


def _fitting_prefix(text: str, limit: int) -> int:
    """The longest prefix length (in code points) whose UTF-16 length is within `limit`."""
    end = min(len(text), limit)
    while (excess := utf16_length(text[:end]) - limit) > 0:
        end -= max(1, excess // 2)
    return end


def split_text(text: str, limit: int = TELEGRAM_TEXT_LIMIT) -> list[str]:
    """Split a plain text into parts of at most `limit` UTF-16 units, preferring paragraph breaks, then
    line breaks (each in the second half of a part), then any whitespace, then a hard cut."""
    parts: list[str] = []
    rest = text.strip()
    while utf16_length(rest) > limit:
        head = rest[: _fitting_prefix(rest, limit)]
        cut = -1
        for separator in ("\n\n", "\n"):
            position = head.rfind(separator)
            if position >= len(head) // 2:
                cut = position
                break
        if cut < 0:
            cut = max((m.start() for m in re.finditer(r"\s", head)), default=-1)
        part = rest[:cut].rstrip() if cut > 0 else ""
        if not part:
            cut = len(head)
            part = head
        parts.append(part)
        rest = rest[cut:].strip()
    if rest:
        parts.append(rest)
    return parts


def shorten(text: str, limit: int) -> str:
    """`text` cut to at most `limit` UTF-16 code units, ending with "…" when it was cut."""
    if utf16_length(text) <= limit:
        return text
    if limit <= 0:
        return ""
    budget = limit - 1
    kept: list[str] = []
    for char in text:
        units = 2 if ord(char) > 0xFFFF else 1
        if units > budget:
            break
        kept.append(char)
        budget -= units
    return "".join(kept).rstrip() + ELLIPSIS
