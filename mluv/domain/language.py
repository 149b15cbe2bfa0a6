"""Is a learner's message Czech practice at all? Blank texts, texts in Cyrillic, questions to the bot (pure).

`classify_message(text)` says what the practice handler does with a text:

- **"blank"**: nothing but whitespace and invisible format characters (a zero-width space…): there is
  nothing to review, the bot asks for a Czech sentence.
- **"cyrillic"**: it has letters and every one of them is Cyrillic (digits, punctuation and emoji do not
  count): the learner wrote Russian or Ukrainian, and Czech is written in Latin letters. Not stored as
  practice nor reviewed; the bot asks, kindly, for the same in Czech.
- **"question"**: a Cyrillic text that looks like a question to the bot: a "?" after its last letter or
  digit ("Как это работает? 🙂"), or a first word (after a leading "а"/"и"/"ну"/"і"/"й") among
  `QUESTION_WORDS`, the Russian and Ukrainian question words and requests ("как", "что", "чи",
  "навіщо", "помоги"…). The bot says what it does and how to use it, then asks for Czech.
- **"practice"**: everything else, mixed Latin and Cyrillic included ("Ahoj, как дела?" has Czech in it):
  stored and reviewed.
"""

from __future__ import annotations

import re
import unicodedata
from typing import Final, Literal

MessageKind = Literal["blank", "cyrillic", "question", "practice"]

QUESTION_WORDS: Final = frozenset(
    {
        # Russian
        *("как", "что", "почему", "зачем", "можно", "где", "когда", "кто", "куда", "откуда", "сколько"),
        *("какой", "какая", "какое", "какие", "чем", "чего", "разве", "неужели"),
        *("помоги", "помогите", "подскажи", "подскажите", "объясни", "объясните", "расскажи", "расскажите"),
        # Ukrainian
        *("як", "що", "чому", "навіщо", "нащо", "чи", "де", "коли", "хто", "куди", "звідки", "скільки"),
        *("який", "яка", "яке", "які", "можна", "невже", "хіба"),
        *("допоможи", "допоможіть", "підкажи", "підкажіть", "поясни", "поясніть", "розкажи", "розкажіть"),
    }
)
# Words a question may start with before its question word: "а как…", "і що…".
_LEADING: Final = frozenset({"а", "и", "ну", "і", "й"})
_WORD = re.compile(r"[^\W\d_]+")


def _is_cyrillic(char: str) -> bool:
    return unicodedata.name(char, "").startswith("CYRILLIC")


def is_blank(text: str) -> bool:
    """Nothing but whitespace and invisible format characters (Unicode category Cf: zero-width space…)."""
    return all(char.isspace() or unicodedata.category(char) == "Cf" for char in text)


def is_cyrillic(text: str) -> bool:
    """The text has letters and all of them are Cyrillic (digits, punctuation and emoji do not count)."""
    letters = [char for char in text if char.isalpha()]
    return bool(letters) and all(_is_cyrillic(char) for char in letters)


def looks_like_question(text: str) -> bool:
    """A "?" after the last letter or digit, or a first word that asks (`QUESTION_WORDS`)."""
    last = max((index for index, char in enumerate(text) if char.isalnum()), default=-1)
    if "?" in text[last + 1 :]:
        return True
    words = [word.lower() for word in _WORD.findall(text[:200])]
    while words and words[0] in _LEADING:
        words.pop(0)
    return bool(words) and words[0] in QUESTION_WORDS


def classify_message(text: str) -> MessageKind:
    """What the practice handler does with `text` (see the module docstring)."""
    if is_blank(text):
        return "blank"
    if is_cyrillic(text):
        return "question" if looks_like_question(text) else "cyrillic"
    return "practice"
