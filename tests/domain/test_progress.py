"""A learner's week (pure): the week before today's, the reported week of the Monday cron, its UTC bounds
and the window that holds it in every timezone; the correctness of several messages."""

from __future__ import annotations

import datetime as dt

import pytest

from mluv.domain.progress import (
    previous_week_start,
    week_bounds,
    week_is_over,
    week_start_of,
    week_window,
    weighted_correctness,
)

UTC = dt.UTC


def utc(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> dt.datetime:
    return dt.datetime(year, month, day, hour, minute, tzinfo=UTC)


@pytest.mark.parametrize(
    ("today", "expected"),
    [
        (dt.date(2024, 11, 18), dt.date(2024, 11, 11)),  # Monday: last week just ended
        (dt.date(2024, 11, 20), dt.date(2024, 11, 11)),  # Wednesday
        (dt.date(2024, 11, 24), dt.date(2024, 11, 11)),  # Sunday: this week is not over yet
        (dt.date(2025, 1, 1), dt.date(2024, 12, 23)),  # across the year
    ],
)
def test_previous_week_start(today: dt.date, expected: dt.date) -> None:
    assert previous_week_start(today) == expected
    assert expected.weekday() == 0
    assert week_is_over(expected, today)
    assert not week_is_over(week_start_of(today), today)


@pytest.mark.parametrize(
    ("tick", "monday"),
    [
        (utc(2024, 1, 15, 8), dt.date(2024, 1, 8)),
        (utc(2024, 1, 17, 8), dt.date(2024, 1, 8)),  # a late (caught-up) run reports the same week
        (utc(2024, 1, 1, 8), dt.date(2023, 12, 25)),
    ],
)
def test_the_weekly_cron_reports_the_last_full_week(tick: dt.datetime, monday: dt.date) -> None:
    assert previous_week_start(tick.date()) == monday
    assert monday.weekday() == 0


def test_week_bounds_are_local_midnights() -> None:
    # Prague: CET all week → from 7 Jan 23:00 UTC to 14 Jan 23:00 UTC.
    assert week_bounds(dt.date(2024, 1, 8), "Europe/Prague") == (utc(2024, 1, 7, 23), utc(2024, 1, 14, 23))
    # A week with the spring-forward Sunday is an hour shorter.
    start, end = week_bounds(dt.date(2024, 3, 25), "Europe/Prague")
    assert end - start == dt.timedelta(days=7, hours=-1)


@pytest.mark.parametrize("timezone", ["Pacific/Kiritimati", "Etc/GMT+12", "Europe/Prague", "Mars/Olympus"])
def test_the_week_window_holds_the_local_week_in_every_timezone(timezone: str) -> None:
    window_start, window_end = week_window(dt.date(2024, 1, 8))
    start, end = week_bounds(dt.date(2024, 1, 8), timezone)
    assert window_start <= start < end <= window_end


@pytest.mark.parametrize(
    ("points", "words", "expected"),
    [(0, 0, None), (850, 10, 85), (845, 10, 85), (844, 10, 84), (100, 3, 33), (200, 3, 67)],
)
def test_weighted_correctness_rounds_half_up(points: int, words: int, expected: int | None) -> None:
    assert weighted_correctness(points, words) == expected
