"""Czech words: what a word is, diacritics, and how frequent a word is (pure; the lexicon is built in memory).

- **Word**: a maximal run of letters of any script (Czech letters included; combining diacritical marks
  continue a word). Digits, punctuation and emoji are not words, nor is anything inside a URL
  (`http(s)://…`, `www.…`), an e-mail address, an @mention, a #hashtag or a /command. So "e-mail" is two
  words, "2025" none, "5x" one ("x"); Cyrillic words are words. `count_words(text)` is what the bot
  handler stores at once; it always equals `Review.word_count` of every reviewer.
- **Diacritics**: `strip_diacritics` lower-cases and drops them ("Děkuji" → "dekuji").
- **Frequency**: wordfreq's Czech word frequencies (the data ships in the wheel), in zipf. A word is
  *known* at `KNOWN_ZIPF` (1.5) or more. The lexicon also indexes the ~200k most frequent words by their
  form without diacritics, for the reviewer's diacritics rules. It is built lazily once per process
  (thread-safe; ~0.6 s, ~60 MB); call `warm_up()` at worker startup to pay that before the first job.
"""

from __future__ import annotations

import re
import time
import unicodedata
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Final

from mluv.domain.once import BuiltOnce
from mluv.logs import get_logger

log = get_logger(__name__)

LANGUAGE: Final = "cs"
INDEX_SIZE: Final = 200_000
MAX_SPELLINGS: Final = 4
KNOWN_ZIPF: Final = 1.5

_LETTER = r"[^\W\d_]"
_WORD = rf"{_LETTER}(?:{_LETTER}|[\u0300-\u036f])*"
_SKIP = r"(?:https?://|www\.)\S+|[\w.+-]+@[\w-]+(?:\.[\w-]+)+|(?<!\w)[@#/]\w+"
_TOKEN_RE = re.compile(rf"(?P<skip>{_SKIP})|(?P<word>{_WORD})")
_WORD_RE = re.compile(_WORD)


# ---------------------------------------------------------------------------------------------------
# Words


def words_in(text: str) -> Iterator[re.Match[str]]:
    """The words of `text` (the definition above), as matches: the word and its span in code points."""
    for match in _TOKEN_RE.finditer(text):
        if match.lastgroup == "word":
            yield match


def count_words(text: str) -> int:
    """The number of words in `text` (the definition above); equals `Review.word_count`."""
    return sum(1 for _ in words_in(text))


def strip_diacritics(word: str) -> str:
    """Lowercase `word` and drop its diacritics: "Děkuji" → "dekuji"."""
    if word.isascii():
        return word.lower()
    decomposed = unicodedata.normalize("NFD", word)
    return "".join(char for char in decomposed if not unicodedata.combining(char)).lower()


def is_latin(word: str) -> bool:
    """Czech is written in Latin letters: a Cyrillic (or Greek…) word is never a Czech word."""
    return word.isascii() or all(ord(char) < 0x250 or unicodedata.combining(char) for char in word)


# ---------------------------------------------------------------------------------------------------
# The lexicon: built once per process


@dataclass(frozen=True, slots=True)
class Lexicon:
    zipf: dict[str, float]  # every known Czech word (zipf >= KNOWN_ZIPF) → its zipf frequency
    # Form without diacritics → its spellings with diacritics among the INDEX_SIZE most frequent words,
    # most frequent first (at most MAX_SPELLINGS), as (spelling, zipf).
    accented: dict[str, tuple[tuple[str, float], ...]]
    build_seconds: float


def _build_lexicon() -> Lexicon:
    import wordfreq  # imported on first use: the import and the data cost time and memory

    started = time.perf_counter()
    zipf: dict[str, float] = {}
    accented: dict[str, tuple[tuple[str, float], ...]] = {}
    indexed = 0
    # Read the file directly rather than through wordfreq's cached lists, so that only what is kept here
    # stays in memory. Buckets come in descending frequency: bucket i holds the words at -i centibels,
    # zipf 9 - i/100.
    for index, bucket in enumerate(wordfreq.read_cBpack(wordfreq.available_languages()[LANGUAGE])):
        value = round(9.0 - index / 100, 2)
        if value < KNOWN_ZIPF:
            break
        for word in bucket:
            zipf[word] = value
            if indexed < INDEX_SIZE and _WORD_RE.fullmatch(word):
                indexed += 1
                key = word if word.isascii() else strip_diacritics(word)
                if key != word:
                    spellings = accented.get(key, ())
                    if len(spellings) < MAX_SPELLINGS:
                        accented[key] = (*spellings, (word, value))
    return Lexicon(zipf=zipf, accented=accented, build_seconds=time.perf_counter() - started)


def _log_built(lexicon: Lexicon) -> None:
    log.info("czech lexicon built", seconds=round(lexicon.build_seconds, 3), words=len(lexicon.zipf))


_LEXICON = BuiltOnce(_build_lexicon, on_built=_log_built)


def get_lexicon() -> Lexicon:
    """The process's lexicon, built on first use (thread-safe: one build however many threads ask)."""
    return _LEXICON.get()


def warm_up() -> float:
    """Build the lexicon now (idempotent, thread-safe); returns the seconds the build took."""
    return get_lexicon().build_seconds


def zipf_frequency(word: str) -> float:
    """wordfreq's zipf frequency of a Czech word (lowercased, NFC); 0.0 below KNOWN_ZIPF (unknown)."""
    return get_lexicon().zipf.get(unicodedata.normalize("NFC", word).lower(), 0.0)
