"""Czech spelling against Hunspell's cs_CZ dictionary (pure: it reads only the dictionary in the package).

- **The dictionary**: `mluv/domain/data/hunspell/cs_CZ.{aff,dic}` (GPL, vendored with its licence), loaded
  once per process on first use (thread-safe; ~0.25 s, ~20 MB); `warm_up()` pays that at worker startup.
  Every call into Hunspell holds one lock: the C++ object is not documented as thread-safe.
- `spell(word)`: Hunspell accepts the word as written (a capitalised or all-capitals form of a lowercase word
  is accepted, a lowercase form of a name is not: "praha" is rejected, "Praha" accepted). A word with a
  letter outside ISO 8859-2 (the dictionary's encoding: Cyrillic, "à"…) is never Czech: rejected.
- `analyze(word)`: Hunspell's analyses as (stem, flag): the dictionary entry the word comes from and the
  affix class that produced it (None for the entry itself): "Praze" → (("Praha", "Z"),). The morphology
  (`mluv.domain.morphology`) reads the flags as declension classes. Cached.
- `suggest(word)`: Hunspell's own suggestions, cached (~100 ms each: its n-gram search is slow).
- `fast_correction(word, lexicon)`: the best correction of a word Hunspell rejects, or None, from a fast
  search (~1 ms): edit distance 1 on the word without diacritics, any diacritics ("studnet" → "student",
  "stastny" → "šťastný"), among the lexicon's words that Hunspell accepts. `slow_correction`: the same
  from `suggest` (at most edit distance 2 without diacritics), for when the fast search finds none. The best
  is the closest (edit distance without diacritics), then a word before a name, then the most frequent
  (wordfreq's zipf). A suggestion that Hunspell accepts only capitalised is given capitalised.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any, Final

from mluv.domain.czech import Lexicon, strip_diacritics
from mluv.domain.once import BuiltOnce
from mluv.logs import get_logger

log = get_logger(__name__)

DATA_DIR: Final = Path(__file__).parent / "data" / "hunspell"
LANGUAGE: Final = "cs_CZ"
ENCODING: Final = "iso8859-2"
MAX_SLOW_DISTANCE: Final = 2
_ASCII: Final = "abcdefghijklmnopqrstuvwxyz"

Analysis = tuple[str, str | None]  # (stem, flag)


@dataclass(frozen=True, slots=True)
class _Dictionary:
    handle: Any  # hunspell.Hunspell (untyped C extension)
    lock: threading.Lock
    load_seconds: float


def _load() -> _Dictionary:
    import hunspell  # type: ignore[import-untyped]  # chunspell: a C extension without type information

    started = time.perf_counter()
    handle = hunspell.Hunspell(LANGUAGE, hunspell_data_dir=str(DATA_DIR))
    return _Dictionary(handle=handle, lock=threading.Lock(), load_seconds=time.perf_counter() - started)


def _log_loaded(dictionary: _Dictionary) -> None:
    log.info("hunspell dictionary loaded", seconds=round(dictionary.load_seconds, 3))


_DICTIONARY = BuiltOnce(_load, on_built=_log_loaded)


def get_dictionary() -> _Dictionary:
    """The process's Hunspell dictionary, loaded on first use (one load however many threads ask)."""
    return _DICTIONARY.get()


def warm_up() -> float:
    """Load the dictionary now (idempotent, thread-safe); returns the seconds the load took."""
    return get_dictionary().load_seconds


def _encodable(word: str) -> bool:
    try:
        word.encode(ENCODING)
    except UnicodeEncodeError:
        return False
    return bool(word)


@lru_cache(maxsize=65_536)
def spell(word: str) -> bool:
    """Hunspell accepts `word` as written (see the module docstring)."""
    if not _encodable(word):
        return False
    dictionary = get_dictionary()
    with dictionary.lock:
        return bool(dictionary.handle.spell(word))


@lru_cache(maxsize=65_536)
def analyze(word: str) -> tuple[Analysis, ...]:
    """Hunspell's analyses of `word` as (stem, flag), e.g. "Praze" → (("Praha", "Z"),); () if rejected."""
    if not _encodable(word):
        return ()
    dictionary = get_dictionary()
    with dictionary.lock:
        raw: tuple[str, ...] = dictionary.handle.analyze(word)
    analyses: list[Analysis] = []
    for line in raw:
        fields = dict(field.split(":", 1) for field in line.split() if ":" in field)
        if "st" in fields:
            analysis = (fields["st"], fields.get("fl"))
            if analysis not in analyses:
                analyses.append(analysis)
    return tuple(analyses)


@lru_cache(maxsize=8_192)
def suggest(word: str) -> tuple[str, ...]:
    """Hunspell's suggestions for `word` (slow: ~100 ms, hence the cache); () for a non-Czech word."""
    if not _encodable(word):
        return ()
    dictionary = get_dictionary()
    with dictionary.lock:
        return tuple(dictionary.handle.suggest(word))


# ---------------------------------------------------------------------------------------------------
# Corrections


def edit_distance(a: str, b: str) -> int:
    """Damerau-Levenshtein distance (optimal string alignment: a swap of two neighbours costs 1)."""
    previous2: list[int] = []
    previous = list(range(len(b) + 1))
    for i, char_a in enumerate(a, 1):
        current = [i] + [0] * len(b)
        for j, char_b in enumerate(b, 1):
            cost = 0 if char_a == char_b else 1
            current[j] = min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + cost)
            if i > 1 and j > 1 and char_a == b[j - 2] and a[i - 2] == char_b:
                current[j] = min(current[j], previous2[j - 2] + 1)
        previous2, previous = previous, current
    return previous[-1]


def _edits1(word: str) -> Iterator[str]:
    for i in range(len(word) + 1):
        left, right = word[:i], word[i:]
        if right:
            yield left + right[1:]
            if len(right) > 1:
                yield left + right[1] + right[0] + right[2:]
            for char in _ASCII:
                yield left + char + right[1:]
        for char in _ASCII:
            yield left + char + right


def _accepted(candidate: str) -> str | None:
    """`candidate` as the dictionary spells it: as is, or capitalised (a name); None if rejected."""
    if spell(candidate):
        return candidate
    capitalised = candidate[:1].upper() + candidate[1:]
    return capitalised if spell(capitalised) else None


def _rank(lower: str, lexicon: Lexicon) -> Any:
    bare = strip_diacritics(lower)

    def key(candidate: str) -> tuple[int, bool, float]:
        low = candidate.lower()
        distance = edit_distance(bare, strip_diacritics(low))
        # A name fits a lowercase word worse than a word does ("stastny": "šťastný", not "Štastný").
        return distance, candidate != low, -lexicon.zipf.get(low, 0.0)

    return key


def _fast_candidates(lower: str, lexicon: Lexicon) -> set[str]:
    bare = strip_diacritics(lower)
    found: set[str] = set()
    for edit in {bare, *_edits1(bare)}:
        spellings = [form for form, _ in lexicon.accented.get(edit, ())]
        if edit in lexicon.zipf:
            spellings.append(edit)
        for form in spellings:
            if form != lower and (accepted := _accepted(form)) is not None:
                found.add(accepted)
    return found


def fast_correction(word: str, lexicon: Lexicon) -> str | None:
    """The best correction within edit distance 1 without diacritics (any diacritics), or None (~1 ms)."""
    lower = word.lower()
    if not _encodable(lower):
        return None
    candidates = _fast_candidates(lower, lexicon)
    return min(sorted(candidates), key=_rank(lower, lexicon)) if candidates else None


def slow_correction(word: str, lexicon: Lexicon) -> str | None:
    """The best of Hunspell's suggestions within `MAX_SLOW_DISTANCE` without diacritics, or None (slow)."""
    lower = word.lower()
    bare = strip_diacritics(lower)
    candidates = {
        suggestion
        for suggestion in suggest(lower)
        if suggestion.isalpha()
        and suggestion.lower() != lower
        and edit_distance(bare, strip_diacritics(suggestion)) <= MAX_SLOW_DISTANCE
    }
    return min(sorted(candidates), key=_rank(lower, lexicon)) if candidates else None
