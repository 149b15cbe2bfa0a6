"""How good is the offline reviewer's feedback: precision and recall per rule on a labelled set of learner
sentences, false alarms on correct ones, and the time to review a 100-word message.

    .venv/bin/python -m bench.review_quality [--runs 1000]

**The set**, `tests/domain/data/learner_sentences.tsv` (written for this project; UTF-8, tab-separated, a
header line `text<TAB>expected`): sentences typical of Russian- and Ukrainian-speaking learners, each
otherwise correct Czech. `expected` is `ok` or the sentence's errors, `rule:original→suggestion` items
separated by ` | ` (rule ids: `mluv.domain.review.RULE_IDS`); a suggestion may list forms that are all
correct, separated by "/" ("doktor→doktorovi/doktoru"). `original` is the wrong word as written: the noun
for preposition-case ("do kino": kino→kina), the numeral for numeral-agreement ("dva sestry": dva→dvě),
the adjective for adjective-agreement, the verb for byt-form ("já je": je→jsem).

**Scoring** (`score`), using only `review_offline` and the `Review` it returns:
- *found*: the corrections with that `rule`; *labelled*: the set's errors with that rule;
- a *true positive*: a found correction with the same rule and the same original (case-insensitive) as a
  labelled error of the same sentence, each labelled error matched at most once; *suggestion right*: the
  matched correction's suggestion is one of the labelled forms (exactly, capitals included);
- precision = true positives / found (none when nothing was found), recall = true positives / labelled;
- *false alarms*: the share of "ok" sentences with any correction at all (an unknown word included: the
  learner sees it flagged either way);
- the issue's five sentences (`ISSUE_SENTENCES`): *praised* when their review has no correction.
**Timing**: the first review of each sentence (the set in order, caches cold after one warm-up review),
then `--runs` reviews of distinct 100-word messages made of the set's sentences (seeded), p50/p99 in ms.
Targets (tests/domain/test_review_quality.py asserts the first three): precision ≥ 0.9 for each rule that
found anything, false alarms ≤ 3 %, no issue sentence praised; a 100-word review under 50 ms p99.
"""

from __future__ import annotations

import argparse
import random
import time
import unicodedata
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

from bench.common import REPO_ROOT, percentiles, write_result
from mluv.domain.czech import warm_up, words_in
from mluv.domain.review import RULE_IDS, Correction, Review, review_offline

SET_PATH: Final = REPO_ROOT / "tests" / "domain" / "data" / "learner_sentences.tsv"
HEADER: Final = "text\texpected"
ISSUE_SENTENCES: Final = (
    "Chci jít do kino.",
    "Já bydlím v Praha.",
    "Mám dva sestry.",
    "Moje sestra je velký.",
    "Jdu k doktor.",
)
MESSAGE_WORDS: Final = 100


@dataclass(frozen=True, slots=True)
class Error:
    rule: str
    original: str
    suggestions: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Sentence:
    text: str
    errors: tuple[Error, ...]


def _nfc(text: str) -> str:
    return unicodedata.normalize("NFC", text)


def _parse_error(item: str, text: str, where: str) -> Error:
    rule, colon, pair = item.partition(":")
    original, arrow, suggestions = pair.partition("→")
    if not (colon and arrow and original and suggestions) or rule not in RULE_IDS:
        raise ValueError(f"{where}: {item!r} is not rule:original→suggestion with a known rule")
    if original not in text:
        raise ValueError(f"{where}: {original!r} is not in the sentence")
    return Error(rule, original, tuple(suggestions.split("/")))


def load_set(path: Path = SET_PATH) -> list[Sentence]:
    """The labelled sentences; ValueError on a malformed line (the set is ground truth: fail loudly)."""
    lines = _nfc(path.read_text(encoding="utf-8")).splitlines()
    if not lines or lines[0] != HEADER:
        raise ValueError(f"{path}: the first line must be {HEADER!r}")
    sentences = []
    for number, line in enumerate(lines[1:], start=2):
        text, tab, expected = line.partition("\t")
        where = f"{path.name}:{number}"
        if not tab or not text.strip():
            raise ValueError(f"{where}: not text<TAB>expected")
        errors = (
            () if expected == "ok" else tuple(_parse_error(i, text, where) for i in expected.split(" | "))
        )
        sentences.append(Sentence(text, errors))
    return sentences


@dataclass(slots=True)
class RuleScore:
    labelled: int = 0
    found: int = 0
    true_positives: int = 0
    suggestion_right: int = 0

    @property
    def precision(self) -> float | None:
        return self.true_positives / self.found if self.found else None

    @property
    def recall(self) -> float | None:
        return self.true_positives / self.labelled if self.labelled else None


@dataclass(slots=True)
class Quality:
    rules: dict[str, RuleScore] = field(default_factory=lambda: {rule: RuleScore() for rule in RULE_IDS})
    ok_sentences: int = 0
    false_alarms: int = 0
    false_positives: list[dict[str, Any]] = field(default_factory=list)
    missed: list[dict[str, Any]] = field(default_factory=list)
    wrong_suggestions: list[dict[str, Any]] = field(default_factory=list)
    alarms: list[dict[str, Any]] = field(default_factory=list)
    seconds: list[float] = field(default_factory=list)

    @property
    def false_alarm_rate(self) -> float:
        return self.false_alarms / self.ok_sentences if self.ok_sentences else 0.0

    @property
    def total(self) -> RuleScore:
        total = RuleScore()
        for rule in self.rules.values():
            total.labelled += rule.labelled
            total.found += rule.found
            total.true_positives += rule.true_positives
            total.suggestion_right += rule.suggestion_right
        return total


def _described(correction: Correction) -> dict[str, Any]:
    return {
        "rule": correction.rule,
        "kind": correction.kind,
        "original": correction.original,
        "suggestion": correction.suggestion,
    }


def score(sentences: Sequence[Sentence], review: Callable[[str], Review] = review_offline) -> Quality:
    """Review every sentence and score the corrections against the labels (the module docstring)."""
    quality = Quality()
    for sentence in sentences:
        started = time.perf_counter()
        corrections = review(sentence.text).corrections
        quality.seconds.append(time.perf_counter() - started)
        if not sentence.errors:
            quality.ok_sentences += 1
            if corrections:
                quality.false_alarms += 1
                quality.alarms.append(
                    {"text": sentence.text, "corrections": [_described(c) for c in corrections]}
                )
        unmatched = list(sentence.errors)
        for error in sentence.errors:
            quality.rules[error.rule].labelled += 1
        for correction in corrections:
            if correction.rule is None:
                continue
            quality.rules[correction.rule].found += 1
            match = next(
                (
                    e
                    for e in unmatched
                    if e.rule == correction.rule and e.original.lower() == _nfc(correction.original).lower()
                ),
                None,
            )
            if match is None:
                quality.false_positives.append({"text": sentence.text, **_described(correction)})
                continue
            unmatched.remove(match)
            quality.rules[correction.rule].true_positives += 1
            if correction.suggestion is not None and _nfc(correction.suggestion) in match.suggestions:
                quality.rules[correction.rule].suggestion_right += 1
            else:
                expected = "/".join(match.suggestions)
                quality.wrong_suggestions.append(
                    {"text": sentence.text, "expected": expected, **_described(correction)}
                )
        quality.missed += [
            {
                "text": sentence.text,
                "rule": e.rule,
                "original": e.original,
                "suggestion": "/".join(e.suggestions),
            }
            for e in unmatched
        ]
    return quality


def is_praised(review: Review) -> bool:
    """The learner would be told nothing is wrong: the review has no correction."""
    return not review.corrections


def hundred_word_messages(sentences: Sequence[Sentence], count: int, seed: int = 12) -> list[str]:
    """`count` distinct messages of exactly MESSAGE_WORDS words: the set's sentences in a seeded order."""
    rng = random.Random(seed)
    texts = [sentence.text for sentence in sentences]
    messages = []
    for _ in range(count):
        rng.shuffle(texts)
        joined = " ".join(texts)
        end = next(match.end() for index, match in enumerate(words_in(joined)) if index == MESSAGE_WORDS - 1)
        messages.append(joined[:end] + ".")
    return messages


def _ratio(value: float | None) -> str:
    return "—" if value is None else f"{value:.2f}"


def main(runs: int) -> None:
    warm_up()
    review_offline("Ahoj, jak se máš?")  # loads what the reviewer loads once per process
    sentences = load_set()
    quality = score(sentences)
    praised = [text for text in ISSUE_SENTENCES if is_praised(review_offline(text))]
    samples = []
    for message in hundred_word_messages(sentences, runs):
        started = time.perf_counter()
        review_offline(message)
        samples.append((time.perf_counter() - started) * 1000)
    timing = percentiles(samples)
    first = percentiles([seconds * 1000 for seconds in quality.seconds])

    errors = sum(1 for sentence in sentences if sentence.errors)
    print(
        f"offline reviewer on {len(sentences)} learner sentences "
        f"({quality.ok_sentences} ok, {errors} with errors)"
    )
    print(
        f"{'rule':<22}{'labelled':>9}{'found':>7}{'true pos':>10}"
        f"{'precision':>11}{'recall':>8}{'suggestion':>12}"
    )
    rows = {**quality.rules, "all rules": quality.total}
    for name, rule in rows.items():
        print(
            f"{name:<22}{rule.labelled:>9}{rule.found:>7}{rule.true_positives:>10}{_ratio(rule.precision):>11}"
            f"{_ratio(rule.recall):>8}{f'{rule.suggestion_right}/{rule.true_positives}':>12}"
        )
    print(
        f"false alarms on correct sentences: {quality.false_alarms}/{quality.ok_sentences}"
        f" = {quality.false_alarm_rate:.1%}"
    )
    print(
        f"issue sentences praised: {len(praised)}/{len(ISSUE_SENTENCES)}" + (f" {praised}" if praised else "")
    )
    print(f"first review of a sentence (cold caches): p50 {first['p50']:.2f} ms, p99 {first['p99']:.2f} ms")
    print(
        f"review of a {MESSAGE_WORDS}-word message, {runs} runs: "
        f"p50 {timing['p50']:.2f} ms, p99 {timing['p99']:.2f} ms"
    )
    path = write_result(
        "review_quality",
        {
            "sentences": len(sentences),
            "ok_sentences": quality.ok_sentences,
            "rules": {
                name: {
                    "labelled": rule.labelled,
                    "found": rule.found,
                    "true_positives": rule.true_positives,
                    "precision": rule.precision,
                    "recall": rule.recall,
                    "suggestion_right": rule.suggestion_right,
                }
                for name, rule in rows.items()
            },
            "false_alarms": quality.false_alarms,
            "false_alarm_rate": quality.false_alarm_rate,
            "issue_sentences_praised": praised,
            "unit": "ms",
            "first_review": first,
            "message_review": {"words": MESSAGE_WORDS, "runs": runs, **timing},
            "false_positives": quality.false_positives,
            "missed": quality.missed,
            "wrong_suggestions": quality.wrong_suggestions,
            "alarms": quality.alarms,
        },
    )
    print(f"wrote {path}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--runs", type=int, default=1000)
    main(parser.parse_args().runs)
