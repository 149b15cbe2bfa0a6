"""When reminders are due (pure): local hours across timezones and DST."""

from __future__ import annotations

import datetime as dt

import pytest

from mluv.domain.reminders import ReminderSlot, reminder_slots

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
