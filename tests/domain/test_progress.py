"""A learner's week (pure): the week before today's, the reported week of the Monday cron, its UTC bounds
and the window that holds it in every timezone; the correctness of several messages; the daily challenge
by level, a period's figures and the next streak milestone still to be paid."""

from __future__ import annotations

import datetime as dt

import pytest

from mluv.domain.progress import (
    DAILY_CHALLENGE_NUDGES,
    PeriodFigures,
    challenge_event,
    challenge_target,
    last_days,
    next_reward,
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


# --- the daily challenge, the week's figures, the next milestone ---------------------------------------


@pytest.mark.parametrize(
    ("level", "target"), [("beginner", 3), ("intermediate", 5), ("advanced", 7), ("unknown", 5)]
)
def test_the_challenge_size_follows_the_level(level: str, target: int) -> None:
    assert challenge_target(level) == target


@pytest.mark.parametrize(
    ("level", "events"),
    [
        ("beginner", {2: "nudge", 3: "done"}),
        ("intermediate", {3: "nudge", 4: "nudge", 5: "done"}),
        ("advanced", {5: "nudge", 6: "nudge", 7: "done"}),
    ],
)
def test_challenge_events_by_level(level: str, events: dict[int, str]) -> None:
    assert {n: challenge_event(level, n) for n in range(1, 10) if challenge_event(level, n)} == events
    # the practice handler enqueues the job at every count that can earn something
    assert set(events) <= set(DAILY_CHALLENGE_NUDGES)


def test_period_figures_add_up_and_weigh_correctness_by_words() -> None:
    week = PeriodFigures(3, 30, 2700, 30) + PeriodFigures(1, 10, 500, 10) + PeriodFigures(2, 4, 0, 0)
    assert week == PeriodFigures(6, 44, 3200, 40)
    assert week.correctness == 80
    assert PeriodFigures(2, 4).correctness is None


def test_the_last_seven_days_end_yesterday() -> None:
    assert last_days(dt.date(2026, 12, 2)) == (dt.date(2026, 11, 26), dt.date(2026, 12, 1))


@pytest.mark.parametrize(
    ("streak", "awarded", "expected"),
    [
        (0, (), (3, 5)),
        (4, (3,), (7, 10)),
        (2, (3, 7), (14, 20)),  # a milestone pays once in a lifetime: one already paid is skipped
        (99, (3, 7, 14, 30), (100, 200)),
        (120, (3, 7, 14, 30, 100), None),
    ],
)
def test_the_next_reward(streak: int, awarded: tuple[int, ...], expected: tuple[int, int] | None) -> None:
    assert next_reward(streak, awarded) == expected
