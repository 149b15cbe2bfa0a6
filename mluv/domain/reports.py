"""The weekly report: figures, most frequent mistakes, recommendations, caption and chart (pure, no I/O).

**The week.** A report covers one calendar week, Monday to Sunday, of the learner's local days
(users.timezone). Asked for without a week (`/report`), it is the most recent week that is over in the
learner's timezone (`previous_week_start`): a finished week's figures never change, so the report can be
generated once, stored (weekly_reports) and reused for the whole following week.

**Figures** (`DayFigures`, `WeeklyReport`): messages, words, days with at least one message, and the
correctness weighted by words — Σ(word_count × correctness) / Σ word_count over reviewed messages, rounded
half up; None when nothing was reviewed. Weighting by words means an empty text (0 words, scored 100) and
a one-word "Ahoj" count for what they are, as in daily statistics. The streak is the learner's streak
when the report is made (`streak_as_of`), with the record.

**Mistakes**: corrections from the reviews of the week's messages (`messages.review["corrections"]`),
grouped by kind, lower-cased original and suggestion, most frequent first (ties: alphabetical). Unknown
words (kind "unknown", no suggestion) count as mistakes too.

**Recommendations** (`recommend`): the first `MAX_TIPS` rules that apply, in this order of priority:

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

**Caption** (`render_caption`): plain text in the learner's language, at most 1024 characters as Telegram
counts them (UTF-16 code units); when too long, tips and then mistakes are dropped from the end (one tip is
always kept) and fragments of the learner's text are shortened.

**Chart** (`weekly_chart_png`): words per day as bars, labelled with Czech weekday abbreviations and dates.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Final

from mluv.domain.chart import Bar, bar_chart_png
from mluv.domain.feedback import shorten, telegram_length
from mluv.domain.progress import DAILY_CHALLENGE_MESSAGES, local_date
from mluv.i18n import t

WEEK_DAYS: Final = 7
CAPTION_LIMIT: Final = 1024
REPORT_VERSION: Final = 1
MAX_MISTAKES: Final = 5  # stored with the report
CAPTION_MISTAKES: Final = 3  # shown in the caption
MAX_TIPS: Final = 3
MAX_FRAGMENT: Final = 40
CZECH_WEEKDAYS: Final = ("Po", "Út", "St", "Čt", "Pá", "So", "Ne")
CHART_TITLE: Final = "Slova za týden"  # "words this week": the chart speaks the language being learnt

# Thresholds of the recommendation rules (see the table above).
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


# --- weeks ----------------------------------------------------------------------------------------------


def week_start_of(day: dt.date) -> dt.date:
    """The Monday of `day`'s week."""
    return day - dt.timedelta(days=day.weekday())


def previous_week_start(today: dt.date) -> dt.date:
    """The Monday of the most recent week that is over on `today` (the week before today's week)."""
    return week_start_of(today) - dt.timedelta(days=WEEK_DAYS)


def week_is_over(week_start: dt.date, today: dt.date) -> bool:
    return week_start + dt.timedelta(days=WEEK_DAYS) <= today


def week_label(week_start: dt.date) -> str:
    """ "16.11–22.11": the week's first and last day."""
    end = week_start + dt.timedelta(days=WEEK_DAYS - 1)
    return f"{week_start.day:02d}.{week_start.month:02d}–{end.day:02d}.{end.month:02d}"


# --- figures --------------------------------------------------------------------------------------------


def weighted_correctness(points: int, reviewed_words: int) -> int | None:
    """round(points / reviewed_words), halves up; None without reviewed words."""
    if reviewed_words <= 0:
        return None
    return (2 * points + reviewed_words) // (2 * reviewed_words)


@dataclass(frozen=True)
class MessageFigures:
    """What the report needs of one message."""

    created_at: dt.datetime
    word_count: int
    correctness: int | None


@dataclass(frozen=True)
class DayFigures:
    day: dt.date
    messages: int = 0
    words: int = 0
    reviewed_words: int = 0
    correctness_points: int = 0  # Σ word_count × correctness over the day's reviewed messages

    @property
    def correctness(self) -> int | None:
        return weighted_correctness(self.correctness_points, self.reviewed_words)

    def to_json(self) -> dict[str, Any]:
        return {
            "date": self.day.isoformat(),
            "messages": self.messages,
            "words": self.words,
            "reviewed_words": self.reviewed_words,
            "correctness_points": self.correctness_points,
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> DayFigures:
        return cls(
            day=dt.date.fromisoformat(data["date"]),
            messages=int(data["messages"]),
            words=int(data["words"]),
            reviewed_words=int(data["reviewed_words"]),
            correctness_points=int(data["correctness_points"]),
        )


def day_figures(
    messages: Iterable[MessageFigures], week_start: dt.date, timezone: str
) -> tuple[DayFigures, ...]:
    """The seven days of the week from the learner's messages (grouped by local date; others ignored)."""
    days = {
        week_start + dt.timedelta(days=offset): DayFigures(week_start + dt.timedelta(days=offset))
        for offset in range(WEEK_DAYS)
    }
    for message in messages:
        day = local_date(message.created_at, timezone)
        figures = days.get(day)
        if figures is None:
            continue
        reviewed = message.correctness is not None
        days[day] = dataclasses.replace(
            figures,
            messages=figures.messages + 1,
            words=figures.words + message.word_count,
            reviewed_words=figures.reviewed_words + (message.word_count if reviewed else 0),
            correctness_points=figures.correctness_points
            + (message.word_count * (message.correctness or 0) if reviewed else 0),
        )
    return tuple(days[day] for day in sorted(days))


@dataclass(frozen=True)
class Mistake:
    kind: str
    original: str
    suggestion: str | None
    count: int

    def to_json(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "original": self.original,
            "suggestion": self.suggestion,
            "count": self.count,
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Mistake:
        return cls(str(data["kind"]), str(data["original"]), data.get("suggestion"), int(data["count"]))


def rank_mistakes(rows: Iterable[Mistake]) -> tuple[Mistake, ...]:
    """Merge rows that differ only in letter case; most frequent first, ties alphabetical."""
    merged: dict[tuple[str, str, str | None], int] = {}
    for row in rows:
        if row.count <= 0 or not row.original.strip():
            continue
        key = (
            row.kind,
            row.original.strip().lower(),
            row.suggestion.strip().lower() if row.suggestion else None,
        )
        merged[key] = merged.get(key, 0) + row.count
    ranked = sorted(merged.items(), key=lambda item: (-item[1], item[0][1], item[0][0], item[0][2] or ""))
    return tuple(Mistake(kind, original, suggestion, count) for (kind, original, suggestion), count in ranked)


@dataclass(frozen=True)
class Tip:
    """A recommendation: a text key of the `report-tip-*` family and its arguments."""

    key: str
    args: Mapping[str, int | str] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {"key": self.key, "args": dict(self.args)}

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Tip:
        return cls(str(data["key"]), dict(data.get("args") or {}))


@dataclass(frozen=True)
class WeeklyReport:
    week_start: dt.date
    days: tuple[DayFigures, ...]
    mistakes: tuple[Mistake, ...] = ()  # the most frequent (at most MAX_MISTAKES)
    mistake_counts: Mapping[str, int] = field(default_factory=dict)  # all of the week's, per kind
    streak: int = 0
    longest: int = 0
    previous_words: int | None = None  # words of the week before, for the trend
    tips: tuple[Tip, ...] = ()

    @property
    def week_end(self) -> dt.date:
        return self.week_start + dt.timedelta(days=WEEK_DAYS - 1)

    @property
    def messages(self) -> int:
        return sum(day.messages for day in self.days)

    @property
    def words(self) -> int:
        return sum(day.words for day in self.days)

    @property
    def active_days(self) -> int:
        return sum(1 for day in self.days if day.messages > 0)

    @property
    def challenge_days(self) -> int:
        return sum(1 for day in self.days if day.messages >= DAILY_CHALLENGE_MESSAGES)

    @property
    def correctness(self) -> int | None:
        return weighted_correctness(
            sum(day.correctness_points for day in self.days), sum(day.reviewed_words for day in self.days)
        )

    def to_json(self) -> dict[str, Any]:
        """The `weekly_reports.data` document (the summary fields are for readers such as dashboards)."""
        return {
            "version": REPORT_VERSION,
            "week_start": self.week_start.isoformat(),
            "week_end": self.week_end.isoformat(),
            "messages": self.messages,
            "words": self.words,
            "active_days": self.active_days,
            "correctness": self.correctness,
            "streak": self.streak,
            "longest": self.longest,
            "previous_words": self.previous_words,
            "days": [day.to_json() for day in self.days],
            "mistakes": [mistake.to_json() for mistake in self.mistakes],
            "mistake_counts": dict(self.mistake_counts),
            "tips": [tip.to_json() for tip in self.tips],
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> WeeklyReport:
        return cls(
            week_start=dt.date.fromisoformat(data["week_start"]),
            days=tuple(DayFigures.from_json(day) for day in data["days"]),
            mistakes=tuple(Mistake.from_json(item) for item in data.get("mistakes", [])),
            mistake_counts={str(k): int(v) for k, v in (data.get("mistake_counts") or {}).items()},
            streak=int(data.get("streak", 0)),
            longest=int(data.get("longest", 0)),
            previous_words=data.get("previous_words"),
            tips=tuple(Tip.from_json(tip) for tip in data.get("tips", [])),
        )


def build_weekly_report(
    week_start: dt.date,
    days: Sequence[DayFigures],
    mistakes: Iterable[Mistake] = (),
    *,
    streak: int = 0,
    longest: int = 0,
    previous_words: int | None = None,
) -> WeeklyReport:
    """The report of the week starting `week_start` (days missing from `days` count as empty)."""
    by_day = {day.day: day for day in days}
    week = tuple(
        by_day.get(week_start + dt.timedelta(days=offset), DayFigures(week_start + dt.timedelta(days=offset)))
        for offset in range(WEEK_DAYS)
    )
    ranked = rank_mistakes(mistakes)
    counts: dict[str, int] = {}
    for mistake in ranked:
        counts[mistake.kind] = counts.get(mistake.kind, 0) + mistake.count
    report = WeeklyReport(
        week_start=week_start,
        days=week,
        mistakes=ranked[:MAX_MISTAKES],
        mistake_counts=counts,
        streak=streak,
        longest=longest,
        previous_words=previous_words,
    )
    return dataclasses.replace(report, tips=recommend(report, ranked))


# --- recommendations ------------------------------------------------------------------------------------


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


# --- caption and chart ----------------------------------------------------------------------------------


def _fragment(text: str) -> str:
    return shorten(" ".join(text.split()), MAX_FRAGMENT)


def _tip_text(tip: Tip, language: str) -> str:
    args = {name: _fragment(value) if isinstance(value, str) else value for name, value in tip.args.items()}
    return t(language, tip.key, **args)


def _mistake_text(mistake: Mistake, language: str) -> str:
    original = _fragment(mistake.original)
    if mistake.suggestion:
        return t(
            language,
            "report-mistake",
            original=original,
            suggestion=_fragment(mistake.suggestion),
            count=mistake.count,
        )
    return t(language, "report-mistake-unknown", original=original, count=mistake.count)


def render_caption(report: WeeklyReport, language: str, *, limit: int = CAPTION_LIMIT) -> str:
    """The photo's caption (see the module docstring); at most `limit` UTF-16 code units."""
    header = [t(language, "report-title", time=week_label(report.week_start))]
    if report.messages == 0:
        header.append(t(language, "report-empty"))
    else:
        header.append(t(language, "report-totals", messages=report.messages, words=report.words))
        header.append(t(language, "report-active-days", days=report.active_days))
        correctness = report.correctness
        header.append(
            t(language, "report-correctness", correctness=correctness)
            if correctness is not None
            else t(language, "report-correctness-none")
        )
        if report.longest > 0:
            header.append(t(language, "report-streak", streak=report.streak, longest=report.longest))
    mistakes = [_mistake_text(mistake, language) for mistake in report.mistakes[:CAPTION_MISTAKES]]
    tips = [_tip_text(tip, language) for tip in report.tips[:MAX_TIPS]]

    def compose() -> str:
        sections = ["\n".join(header)]
        if mistakes:
            sections.append("\n".join([t(language, "report-mistakes-title"), *mistakes]))
        if tips:
            sections.append("\n".join([t(language, "report-tips-title"), *tips]))
        return "\n\n".join(sections)

    text = compose()
    while telegram_length(text) > limit:
        if len(tips) > 1:
            tips.pop()
        elif mistakes:
            mistakes.pop()
        elif tips:
            tips.pop()
        else:
            return shorten(text, limit)
        text = compose()
    return text


def chart_bars(report: WeeklyReport) -> list[Bar]:
    return [
        Bar(day.words, CZECH_WEEKDAYS[day.day.weekday()], f"{day.day.day:02d}.{day.day.month:02d}")
        for day in report.days
    ]


def weekly_chart_png(report: WeeklyReport) -> bytes:
    """The PNG of the week: words per day."""
    return bar_chart_png(chart_bars(report), title=CHART_TITLE)
