"""Texts as Telegram measures them (mluv.domain.telegram_text): lengths and splitting (pure)."""

from __future__ import annotations

from mluv.domain.telegram_text import split_text, utf16_length, visible_length


def test_utf16_length_counts_astral_characters_twice() -> None:
    assert utf16_length("Ahoj") == 4
    assert utf16_length("děkuji") == 6
    assert utf16_length("🎉") == 2
    assert visible_length("<b>Ahoj</b> &amp; čau", "HTML") == len("Ahoj & čau")
    assert visible_length("<b>Ahoj</b>", None) == 11


def test_split_prefers_paragraphs_then_lines_then_words() -> None:
    paragraph = "Dobrý den. " * 30  # 330 characters
    text = "\n\n".join([paragraph.strip()] * 4)
    parts = split_text(text, limit=700)
    assert parts == ["\n\n".join([paragraph.strip()] * 2)] * 2
    lines = "\n".join(["řádek číslo jedna"] * 10)
    assert all(len(p) <= 60 and not p.startswith("\n") for p in split_text(lines, limit=60))
    assert split_text(lines, limit=60)[0] == "\n".join(["řádek číslo jedna"] * 3)
    words = "slovo " * 50
    parts = split_text(words, limit=50)
    assert all(part.endswith("slovo") and utf16_length(part) <= 50 for part in parts)
    assert " ".join(parts) == words.strip()


def test_split_cuts_hard_without_whitespace_and_measures_utf16() -> None:
    assert split_text("x" * 25, limit=10) == ["x" * 10, "x" * 10, "x" * 5]
    emoji = "🎉" * 10  # 20 UTF-16 units
    parts = split_text(emoji, limit=7)
    assert parts == ["🎉" * 3] * 3 + ["🎉"]
    assert split_text("short", limit=10) == ["short"]
