"""When reminders are due and what the weekly summary says: pure rules, no I/O.

Reminders go out at the learner's local reminder hour (users.timezone + users.reminder_hour, 18:00 by
default). The hourly cron asks, for one UTC tick, which (timezone, local hour, local date) each timezone
is in; learners whose (timezone, reminder_hour) match are due, for that local date.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass

from mluv.domain.progress import day_bounds, local_date, zone

# Whoever wrote at least this many days last week practises regularly enough for harder advice.
REGULAR_DAYS = 4
# Below this mean correctness the most useful advice is to slow down and check diacritics.
ACCURACY_TARGET = 70
# Messages shorter than this on average are single phrases; longer sentences teach more grammar.
SHORT_MESSAGE_WORDS = 6


@dataclass(frozen=True)
class ReminderSlot:
    """A timezone at a tick: the local hour it is there and the local date."""

    timezone: str
    hour: int
    day: dt.date


def reminder_slots(tick: dt.datetime, timezones: Iterable[str]) -> list[ReminderSlot]:
    """For each timezone, its local hour and date at the UTC instant `tick`.

    An unknown zone name is evaluated as Prague, as everywhere else (mluv.domain.progress.zone), and keeps
    its own name so the database rows that carry it still match.
    """
    slots = []
    for name in sorted(set(timezones)):
        local = tick.astimezone(zone(name))
        slots.append(ReminderSlot(timezone=name, hour=local.hour, day=local.date()))
    return slots


def last_week(tick: dt.datetime) -> dt.date:
    """The Monday that starts the last full week before `tick` (the weekly cron runs on Mondays)."""
    today = tick.astimezone(dt.UTC).date()
    this_monday = today - dt.timedelta(days=today.weekday())
    return this_monday - dt.timedelta(days=7)


def week_bounds(week_start: dt.date, timezone: str) -> tuple[dt.datetime, dt.datetime]:
    """UTC instants where the learner's local week (7 local days from week_start) starts and ends."""
    start, _ = day_bounds(week_start, timezone)
    _, end = day_bounds(week_start + dt.timedelta(days=6), timezone)
    return start, end


@dataclass(frozen=True)
class WrittenMessage:
    created_at: dt.datetime
    word_count: int
    correctness: int | None


@dataclass(frozen=True)
class WeekSummary:
    messages: int
    words: int
    days: int
    # Mean correctness (0-100) of the reviewed messages; None when none was reviewed.
    correctness: int | None

    @property
    def active(self) -> bool:
        return self.messages > 0


def summarise_week(messages: Iterable[WrittenMessage], timezone: str) -> WeekSummary:
    """Totals of a learner's week; days are counted in the learner's timezone."""
    count = words = 0
    days: set[dt.date] = set()
    scores: list[int] = []
    for message in messages:
        count += 1
        words += message.word_count
        days.add(local_date(message.created_at, timezone))
        if message.correctness is not None:
            scores.append(message.correctness)
    correctness = round(sum(scores) / len(scores)) if scores else None
    return WeekSummary(messages=count, words=words, days=len(days), correctness=correctness)


def weekly_tips(summary: WeekSummary) -> list[str]:
    """Text keys of the recommendations for a week, most useful first (at most two)."""
    tips = []
    if summary.days < REGULAR_DAYS:
        tips.append("weekly-tip-more-days")
    if summary.correctness is not None and summary.correctness < ACCURACY_TARGET:
        tips.append("weekly-tip-accuracy")
    if summary.messages and summary.words / summary.messages < SHORT_MESSAGE_WORDS:
        tips.append("weekly-tip-longer")
    return tips[:2] or ["weekly-tip-keep-going"]
