"""A learner's day, streak and daily challenge: pure rules, no I/O.

A learner's day is their local calendar day (users.timezone); times are stored in UTC.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

# Messages a day that complete the daily challenge; the nudge goes out at the 3rd and 4th.
DAILY_CHALLENGE_MESSAGES = 5
DAILY_CHALLENGE_NUDGES = (3, 4)
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


def is_valid_timezone(name: str) -> bool:
    return name in available_timezones()


def local_date(now: dt.datetime, timezone: str) -> dt.date:
    """The learner's calendar date at the UTC instant `now`."""
    return now.astimezone(zone(timezone)).date()


def day_bounds(day: dt.date, timezone: str) -> tuple[dt.datetime, dt.datetime]:
    """The UTC instants where the learner's local `day` starts and the next one starts (DST-safe)."""
    tz = zone(timezone)
    start = dt.datetime.combine(day, dt.time.min, tzinfo=tz)
    end = dt.datetime.combine(day + dt.timedelta(days=1), dt.time.min, tzinfo=tz)
    return start.astimezone(dt.UTC), end.astimezone(dt.UTC)


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


@dataclass(frozen=True)
class ChallengeProgress:
    done: int
    target: int = DAILY_CHALLENGE_MESSAGES

    @property
    def completed(self) -> bool:
        return self.done >= self.target

    @property
    def remaining(self) -> int:
        return max(0, self.target - self.done)
