"""When reminders are due and what the weekly summary says (pure): local hours across timezones and DST,
the reported week, local days of a week, recommendations."""

from __future__ import annotations

import datetime as dt

import pytest

from mluv.domain.reminders import (
    ReminderSlot,
    WeekSummary,
    WrittenMessage,
    last_week,
    reminder_slots,
    summarise_week,
    week_bounds,
    weekly_tips,
)
from mluv.i18n import has_text

UTC = dt.UTC


def utc(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> dt.datetime:
    return dt.datetime(year, month, day, hour, minute, tzinfo=UTC)


@pytest.mark.parametrize(
    ("tick", "timezone", "hour", "day"),
    [
        (utc(2024, 1, 15, 17), "Europe/Prague", 18, dt.date(2024, 1, 15)),
        (utc(2024, 7, 15, 16), "Europe/Prague", 18, dt.date(2024, 7, 15)),
        (utc(2024, 1, 15, 16), "Europe/Kyiv", 18, dt.date(2024, 1, 15)),
        (utc(2024, 1, 15, 23), "America/New_York", 18, dt.date(2024, 1, 15)),
        (utc(2024, 1, 16, 1), "America/New_York", 20, dt.date(2024, 1, 15)),
        (utc(2024, 1, 15, 12), "Asia/Almaty", 18, dt.date(2024, 1, 15)),
        # Europe's spring-forward night: 01:00 UTC is 03:00 in Prague (02:00 never happens there).
        (utc(2024, 3, 31, 1), "Europe/Prague", 3, dt.date(2024, 3, 31)),
        # An unknown zone is evaluated as Prague but keeps its name (to match the rows that carry it).
        (utc(2024, 1, 15, 17), "Mars/Olympus", 18, dt.date(2024, 1, 15)),
    ],
)
def test_reminder_slots(tick: dt.datetime, timezone: str, hour: int, day: dt.date) -> None:
    assert reminder_slots(tick, [timezone, timezone]) == [ReminderSlot(timezone, hour, day)]


def test_reminder_slots_cover_each_timezone_once() -> None:
    slots = reminder_slots(utc(2024, 1, 15, 17), ["Europe/Kyiv", "Europe/Prague", "Europe/Kyiv"])
    assert [slot.timezone for slot in slots] == ["Europe/Kyiv", "Europe/Prague"]
    assert [slot.hour for slot in slots] == [19, 18]


@pytest.mark.parametrize(
    ("tick", "monday"),
    [
        (utc(2024, 1, 15, 8), dt.date(2024, 1, 8)),
        (utc(2024, 1, 17, 8), dt.date(2024, 1, 8)),  # a late (caught-up) run reports the same week
        (utc(2024, 1, 1, 8), dt.date(2023, 12, 25)),
    ],
)
def test_last_week_is_the_last_full_week(tick: dt.datetime, monday: dt.date) -> None:
    assert last_week(tick) == monday
    assert monday.weekday() == 0


def test_week_bounds_are_local_midnights() -> None:
    # Prague: CET all week → from 7 Jan 23:00 UTC to 14 Jan 23:00 UTC.
    assert week_bounds(dt.date(2024, 1, 8), "Europe/Prague") == (utc(2024, 1, 7, 23), utc(2024, 1, 14, 23))
    # A week with the spring-forward Sunday is an hour shorter.
    start, end = week_bounds(dt.date(2024, 3, 25), "Europe/Prague")
    assert end - start == dt.timedelta(days=7, hours=-1)


def _written(at: dt.datetime, words: int = 5, correctness: int | None = 90) -> WrittenMessage:
    return WrittenMessage(at, words, correctness)


def test_summarise_week_counts_local_days() -> None:
    messages = [
        _written(utc(2024, 1, 8, 9), correctness=80),
        _written(utc(2024, 1, 8, 10), correctness=None),  # not reviewed: not in the mean
        _written(utc(2024, 1, 8, 23, 30), correctness=100),  # 00:30 on 9 January in Prague
    ]
    assert summarise_week(messages, "Europe/Prague") == WeekSummary(
        messages=3, words=15, days=2, correctness=90
    )
    assert summarise_week(messages, "America/New_York").days == 1
    assert summarise_week([], "Europe/Prague") == WeekSummary(0, 0, 0, None)
    assert not summarise_week([], "Europe/Prague").active


@pytest.mark.parametrize(
    ("summary", "tips"),
    [
        (WeekSummary(messages=20, words=200, days=6, correctness=90), ["weekly-tip-keep-going"]),
        (WeekSummary(messages=3, words=30, days=2, correctness=90), ["weekly-tip-more-days"]),
        (WeekSummary(messages=20, words=200, days=5, correctness=55), ["weekly-tip-accuracy"]),
        (WeekSummary(messages=20, words=60, days=5, correctness=90), ["weekly-tip-longer"]),
        # At most two, the most useful first.
        (
            WeekSummary(messages=4, words=8, days=1, correctness=40),
            ["weekly-tip-more-days", "weekly-tip-accuracy"],
        ),
        (WeekSummary(messages=20, words=200, days=6, correctness=None), ["weekly-tip-keep-going"]),
    ],
)
def test_weekly_tips(summary: WeekSummary, tips: list[str]) -> None:
    assert weekly_tips(summary) == tips
    assert all(has_text(key, "ru") and has_text(key, "uk") for key in tips)
