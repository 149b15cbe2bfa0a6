"""The weekly report's figures: days, mistakes and the stored document (pure, no I/O).

**Figures** (`DayFigures`, `WeeklyReport`): messages, words, days with at least one message, and the
correctness of the week (`mluv.domain.progress.weighted_correctness`: weighted by words, as in daily
statistics). Days are the learner's local days (`day_figures`). The streak is the learner's streak when
the report is made (`streak_as_of`), with the record.

**Mistakes**: corrections from the reviews of the week's messages (`messages.review["corrections"]`),
grouped by kind, lower-cased original and suggestion, most frequent first (ties: alphabetical). Unknown
words (kind "unknown", no suggestion) count as mistakes too.

**The document** (`WeeklyReport.to_json`): what weekly_reports.data stores, with the report's tips
(`Tip`: a text key and its arguments, chosen by `mluv.domain.report_tips`). `from_json` reads it back.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Final

from mluv.domain.progress import DAILY_CHALLENGE_MESSAGES, WEEK_DAYS, local_date, weighted_correctness

REPORT_VERSION: Final = 1
MAX_MISTAKES: Final = 5  # stored with the report


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
