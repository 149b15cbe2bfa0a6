"""The weekly report's recommendations (pure, no I/O).

`recommend` returns the first `MAX_TIPS` rules that apply, in this order of priority:

| # | text key | when | arguments |
|---|---|---|---|
| 1 | report-tip-start | no message this week (then the only tip) | – |
| 2 | report-tip-regularity | practice on fewer than 4 days | days |
| 3 | report-tip-comeback | last week ≥ 50 words and this week at most half of it | words, count (last week) |
| 4 | report-tip-diacritics | ≥ 3 diacritics mistakes, at least half of all mistakes | original, suggestion |
| 5 | report-tip-accuracy | correctness below 70% | correctness |
| 6 | report-tip-longer | ≥ 3 messages of fewer than 8 words on average | words (average) |
| 7 | report-tip-unknown | ≥ 3 unknown words | count |
| 8 | report-tip-challenge | practice on ≥ 3 days but the daily challenge never done | goal |
| 9 | report-tip-growth | last week ≥ 50 words and this week ≥ 120% of it | count (% more) |
| 10 | report-tip-level-up | correctness ≥ 90% over ≥ 150 words | correctness |
| 11 | report-tip-streak | a streak of ≥ 3 days | streak |
| 12 | report-tip-keep-going | nothing above applies | – |
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Final

from mluv.domain.progress import DAILY_CHALLENGE_MESSAGES
from mluv.domain.report_figures import Mistake, Tip, WeeklyReport

MAX_TIPS: Final = 3

# Thresholds of the rules (see the table above).
REGULAR_DAYS: Final = 4
TREND_MIN_WORDS: Final = 50
COMEBACK_SHARE: Final = 0.5
GROWTH_SHARE: Final = 1.2
DIACRITICS_MIN: Final = 3
LOW_CORRECTNESS: Final = 70
SHORT_MESSAGE_WORDS: Final = 8
SHORT_MESSAGES_MIN: Final = 3
UNKNOWN_MIN: Final = 3
CHALLENGE_MIN_DAYS: Final = 3
HIGH_CORRECTNESS: Final = 90
LEVEL_UP_WORDS: Final = 150
STREAK_MIN: Final = 3


def recommend(report: WeeklyReport, mistakes: Sequence[Mistake] | None = None) -> tuple[Tip, ...]:
    """The report's tips (the rules in the module docstring); `mistakes`: all of the week's, ranked."""
    ranked = tuple(mistakes) if mistakes is not None else report.mistakes
    if report.messages == 0:
        return (Tip("report-tip-start"),)
    counts = report.mistake_counts
    all_mistakes = sum(counts.values())
    diacritics = counts.get("diacritics", 0)
    unknown = counts.get("unknown", 0)
    correctness = report.correctness
    previous = report.previous_words
    words = report.words
    tips: list[Tip] = []
    if report.active_days < REGULAR_DAYS:
        tips.append(Tip("report-tip-regularity", {"days": report.active_days}))
    if previous is not None and previous >= TREND_MIN_WORDS and words <= previous * COMEBACK_SHARE:
        tips.append(Tip("report-tip-comeback", {"words": words, "count": previous}))
    example = next((m for m in ranked if m.kind == "diacritics" and m.suggestion), None)
    if diacritics >= DIACRITICS_MIN and 2 * diacritics >= all_mistakes and example is not None:
        tips.append(
            Tip(
                "report-tip-diacritics",
                {"original": example.original, "suggestion": example.suggestion or ""},
            )
        )
    if correctness is not None and correctness < LOW_CORRECTNESS:
        tips.append(Tip("report-tip-accuracy", {"correctness": correctness}))
    if report.messages >= SHORT_MESSAGES_MIN and words < SHORT_MESSAGE_WORDS * report.messages:
        average = (2 * words + report.messages) // (2 * report.messages)
        tips.append(Tip("report-tip-longer", {"words": average}))
    if unknown >= UNKNOWN_MIN:
        tips.append(Tip("report-tip-unknown", {"count": unknown}))
    if report.active_days >= CHALLENGE_MIN_DAYS and report.challenge_days == 0:
        tips.append(Tip("report-tip-challenge", {"goal": DAILY_CHALLENGE_MESSAGES}))
    if previous is not None and previous >= TREND_MIN_WORDS and words >= previous * GROWTH_SHARE:
        tips.append(Tip("report-tip-growth", {"count": (100 * (words - previous)) // previous}))
    if correctness is not None and correctness >= HIGH_CORRECTNESS and words >= LEVEL_UP_WORDS:
        tips.append(Tip("report-tip-level-up", {"correctness": correctness}))
    if report.streak >= STREAK_MIN:
        tips.append(Tip("report-tip-streak", {"streak": report.streak}))
    if not tips:
        tips.append(Tip("report-tip-keep-going"))
    return tuple(tips[:MAX_TIPS])
