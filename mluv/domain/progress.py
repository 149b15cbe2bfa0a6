"""A learner's day and week, streak, daily challenge and correctness over time: pure rules, no I/O.

A learner's day is their local calendar day (users.timezone); times are stored in UTC. A learner's week
is Monday to Sunday of their local days: `week_bounds` gives its UTC instants, `week_window` instants
that hold it whatever the timezone, `previous_week_start` the most recent week that is over (the one the
weekly report covers).

**Correctness of several messages** (a day, a week): weighted by words, Σ(word_count × correctness) /
Σ word_count over the reviewed messages, rounded half up (`weighted_correctness`); None when nothing with
words was reviewed. Weighting by words means an empty text (0 words, scored 100) and a one-word "Ahoj"
count for what they are. daily_stats.correctness_avg is the same ratio, unrounded (mluv.db.analytics).

**The daily challenge** is a number of messages a day that follows the level (`challenge_target`:
beginner 3, intermediate 5, advanced 7); `challenge_event` says what a day's n-th message earns (a nudge
with 2 or 1 left, "done" at the target). `next_reward` is the next streak milestone still to be paid.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Final
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from mluv.domain.gamification import STREAK_MILESTONES, stars_for

# Messages a day that complete the daily challenge, by level (users.level): a beginner writes less.
CHALLENGE_BY_LEVEL: Final = {"beginner": 3, "intermediate": 5, "advanced": 7}
# The default level's size, for figures that do not know the learner's level (daily_stats, the report).
DAILY_CHALLENGE_MESSAGES = 5
# The practice handler enqueues the challenge job at each of these counts; the job decides from the level
# (nudge at target-2 and target-1, "done" at target), so every level's counts are covered.
FIRST_NUDGE = 2
DAILY_CHALLENGE_NUDGES = tuple(range(FIRST_NUDGE, max(CHALLENGE_BY_LEVEL.values()) + 1))
WEEK_DAYS: Final = 7
DEFAULT_TIMEZONE = "Europe/Prague"
# Offered on the settings keyboard: where learners of Czech from Russia and Ukraine mostly live.
COMMON_TIMEZONES = (
    "Europe/Prague",
    "Europe/Kyiv",
    "Europe/Moscow",
    "Europe/Warsaw",
    "Europe/Berlin",
    "Europe/London",
    "Asia/Almaty",
    "America/New_York",
)


def zone(name: str) -> ZoneInfo:
    """The zone for an IANA name; an unknown name falls back to Prague rather than failing a handler."""
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo(DEFAULT_TIMEZONE)


def local_date(now: dt.datetime, timezone: str) -> dt.date:
    """The learner's calendar date at the UTC instant `now`."""
    return now.astimezone(zone(timezone)).date()


def day_bounds(day: dt.date, timezone: str) -> tuple[dt.datetime, dt.datetime]:
    """The UTC instants where the learner's local `day` starts and the next one starts (DST-safe)."""
    tz = zone(timezone)
    start = dt.datetime.combine(day, dt.time.min, tzinfo=tz)
    end = dt.datetime.combine(day + dt.timedelta(days=1), dt.time.min, tzinfo=tz)
    return start.astimezone(dt.UTC), end.astimezone(dt.UTC)


# --- weeks ----------------------------------------------------------------------------------------------


def week_start_of(day: dt.date) -> dt.date:
    """The Monday of `day`'s week."""
    return day - dt.timedelta(days=day.weekday())


def previous_week_start(today: dt.date) -> dt.date:
    """The Monday of the most recent week that is over on `today` (the week before today's week)."""
    return week_start_of(today) - dt.timedelta(days=WEEK_DAYS)


def week_is_over(week_start: dt.date, today: dt.date) -> bool:
    return week_start + dt.timedelta(days=WEEK_DAYS) <= today


def week_bounds(week_start: dt.date, timezone: str) -> tuple[dt.datetime, dt.datetime]:
    """The UTC instants where the learner's local week (Monday to Sunday) starts and the next one starts."""
    start, _ = day_bounds(week_start, timezone)
    end, _ = day_bounds(week_start + dt.timedelta(days=WEEK_DAYS), timezone)
    return start, end


def week_window(week_start: dt.date) -> tuple[dt.datetime, dt.datetime]:
    """UTC instants that hold the local week starting `week_start` in every timezone (UTC-12 … UTC+14)."""
    start = dt.datetime.combine(week_start, dt.time.min, tzinfo=dt.UTC) - dt.timedelta(hours=14)
    end = dt.datetime.combine(week_start + dt.timedelta(days=WEEK_DAYS), dt.time.min, tzinfo=dt.UTC)
    return start, end + dt.timedelta(hours=12)


# --- correctness ----------------------------------------------------------------------------------------


def weighted_correctness(points: int, reviewed_words: int) -> int | None:
    """round(points / reviewed_words), halves up; None without reviewed words.

    `points`: Σ word_count × correctness over the reviewed messages; `reviewed_words`: their Σ word_count.
    """
    if reviewed_words <= 0:
        return None
    return (2 * points + reviewed_words) // (2 * reviewed_words)


@dataclass(frozen=True)
class PeriodFigures:
    """A learner's totals over some days; `points` and `reviewed_words` as in `weighted_correctness`."""

    messages: int = 0
    words: int = 0
    points: int = 0
    reviewed_words: int = 0

    def __add__(self, other: PeriodFigures) -> PeriodFigures:
        return PeriodFigures(
            self.messages + other.messages,
            self.words + other.words,
            self.points + other.points,
            self.reviewed_words + other.reviewed_words,
        )

    @property
    def correctness(self) -> int | None:
        return weighted_correctness(self.points, self.reviewed_words)


def last_days(today: dt.date, days: int = WEEK_DAYS) -> tuple[dt.date, dt.date]:
    """The first and last of the `days` days that have ended before `today` when today is counted too."""
    return today - dt.timedelta(days=days - 1), today - dt.timedelta(days=1)


# --- streaks and the daily challenge --------------------------------------------------------------------


@dataclass(frozen=True)
class StreakState:
    current: int
    longest: int
    last_active_date: dt.date | None


def advance_streak(state: StreakState, today: dt.date) -> StreakState:
    """The streak after practising on `today`: same day unchanged, next day +1, a gap restarts at 1."""
    last = state.last_active_date
    if last is not None and last >= today:
        return state
    current = state.current + 1 if last == today - dt.timedelta(days=1) else 1
    return StreakState(current=current, longest=max(state.longest, current), last_active_date=today)


def streak_as_of(state: StreakState, today: dt.date) -> int:
    """The streak a learner sees today: a streak whose last day is before yesterday is already broken."""
    last = state.last_active_date
    if last is None or last < today - dt.timedelta(days=1):
        return 0
    return state.current


def challenge_target(level: str) -> int:
    """Messages a day that complete the daily challenge at `level`; an unknown level gets the default."""
    return CHALLENGE_BY_LEVEL.get(level, DAILY_CHALLENGE_MESSAGES)


def challenge_event(level: str, count: int) -> str | None:
    """What the `count`-th message of a day earns at `level`: "done" at the target, "nudge" with 2 or 1
    left (never after the first message: its feedback is enough), else None."""
    target = challenge_target(level)
    if count == target:
        return "done"
    return "nudge" if max(FIRST_NUDGE, target - 2) <= count < target else None


def next_reward(current_streak: int, awarded: Iterable[int]) -> tuple[int, int] | None:
    """(days, stars) of the next milestone the streak can still earn, or None when none is left.

    A milestone pays once in a lifetime (mluv.domain.gamification), so one already awarded is skipped.
    """
    done = set(awarded)
    days = next((d for d in STREAK_MILESTONES if d > current_streak and d not in done), None)
    return None if days is None else (days, stars_for(days))


@dataclass(frozen=True)
class ChallengeProgress:
    done: int
    target: int = DAILY_CHALLENGE_MESSAGES

    @property
    def completed(self) -> bool:
        return self.done >= self.target
