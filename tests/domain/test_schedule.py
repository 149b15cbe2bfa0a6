"""The time of a scheduled post (mluv.domain.schedule): every form in UTC, past times refused with the
reason, the usage example always a valid future time (pure)."""

from __future__ import annotations

import datetime as dt

import pytest

from mluv.domain.schedule import (
    ScheduleTimeError,
    example_time,
    parse_send_time,
    split_schedule_arguments,
)

NOW = dt.datetime(2026, 12, 8, 14, 30, 15, tzinfo=dt.UTC)


def at(day: int, hour: int, minute: int = 0, month: int = 12) -> dt.datetime:
    return dt.datetime(2026, month, day, hour, minute, tzinfo=dt.UTC)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("+30m", NOW + dt.timedelta(minutes=30)),
        ("+2h", NOW + dt.timedelta(hours=2)),
        ("+1d", NOW + dt.timedelta(days=1)),
        ("18:00", at(8, 18)),  # later today
        ("14:31", at(8, 14, 31)),
        ("14:30", at(9, 14, 30)),  # this minute has begun: tomorrow
        ("09:00", at(9, 9)),  # passed today: tomorrow
        ("0:05", at(9, 0, 5)),
        ("2026-12-24 09:00", at(24, 9)),
        ("2026-12-24T09:00", at(24, 9)),
        ("2026-12-24 10:00+01:00", at(24, 9)),  # an offset is honoured, the result is UTC
        ("2027-01-01", dt.datetime(2027, 1, 1, tzinfo=dt.UTC)),
    ],
)
def test_each_form_gives_a_utc_time(value: str, expected: dt.datetime) -> None:
    assert parse_send_time(value, NOW) == expected


@pytest.mark.parametrize(
    ("value", "key", "params"),
    [
        (
            "2026-12-01 09:00",
            "schedule-error-past",
            {"time": "2026-12-01 09:00", "example": "2026-12-09 09:00"},
        ),
        (
            "2026-12-08 14:30",
            "schedule-error-past",
            {"time": "2026-12-08 14:30", "example": "2026-12-09 09:00"},
        ),
        ("+0m", "schedule-error-zero-delay", {"value": "+0m"}),
        ("25:00", "schedule-error-time-of-day", {"value": "25:00"}),
        ("12:60", "schedule-error-time-of-day", {"value": "12:60"}),
        ("zítra", "schedule-error-unreadable", {"value": "zítra"}),
        ("+30s", "schedule-error-unreadable", {"value": "+30s"}),
    ],
)
def test_a_time_that_cannot_be_used_is_refused_with_the_reason(
    value: str, key: str, params: dict[str, str]
) -> None:
    with pytest.raises(ScheduleTimeError) as raised:
        parse_send_time(value, NOW)
    assert (raised.value.key, raised.value.params) == (key, params)


@pytest.mark.parametrize(
    ("arguments", "send_at", "text"),
    [
        ("+30m Ahoj všichni!", NOW + dt.timedelta(minutes=30), "Ahoj všichni!"),
        ("18:00 Dobrý večer", at(8, 18), "Dobrý večer"),
        ("2026-12-24 09:00 Veselé Vánoce!\nDruhý řádek", at(24, 9), "Veselé Vánoce!\nDruhý řádek"),
        ("2026-12-24 Štědrý den", at(24, 0), "Štědrý den"),
    ],
)
def test_the_time_is_split_from_the_text(arguments: str, send_at: dt.datetime, text: str) -> None:
    assert split_schedule_arguments(arguments, NOW) == (send_at, text)


@pytest.mark.parametrize(
    ("arguments", "key"),
    [
        ("", "schedule-error-missing"),
        ("+30m", "schedule-error-missing"),
        ("zítra Ahoj", "schedule-error-unreadable"),
        ("2026-12-01 09:00 Ahoj", "schedule-error-past"),
        ("10:99", "schedule-error-time-of-day"),
    ],
)
def test_arguments_without_a_usable_time_or_text(arguments: str, key: str) -> None:
    with pytest.raises(ScheduleTimeError) as raised:
        split_schedule_arguments(arguments, NOW)
    assert raised.value.key == key


@pytest.mark.parametrize("now", [NOW, at(31, 23, 59), at(1, 0, 0, month=1), at(8, 9, 0)])
def test_the_usage_example_is_always_a_valid_future_time(now: dt.datetime) -> None:
    example = example_time(now)
    sent_at, text = split_schedule_arguments(f"{example} Dobré ráno!", now)
    assert sent_at > now and text == "Dobré ráno!" and example.endswith("09:00")
