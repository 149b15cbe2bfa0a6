"""Parsing the time of an operator's /schedule command (pure)."""

from __future__ import annotations

import datetime as dt
import re

_RELATIVE = re.compile(r"^\+(\d{1,4})([mhd])$")
_UNITS = {"m": "minutes", "h": "hours", "d": "days"}


class ScheduleTimeError(ValueError):
    pass


class UnreadableTimeError(ScheduleTimeError):
    """The words are not a time at all (as opposed to a time that is invalid or past)."""


def parse_send_time(value: str, now: dt.datetime) -> dt.datetime:
    """A UTC send time from "+30m" / "+2h" / "+1d", "HH:MM" (next occurrence, UTC) or an ISO date-time (UTC
    unless it carries an offset). Times in the past are refused.
    """
    value = value.strip()
    if match := _RELATIVE.match(value):
        amount, unit = int(match.group(1)), _UNITS[match.group(2)]
        if amount == 0:
            raise ScheduleTimeError("the delay must be positive")
        return now + dt.timedelta(**{unit: amount})
    if re.fullmatch(r"\d{1,2}:\d{2}", value):
        hour, minute = (int(part) for part in value.split(":"))
        if not (0 <= hour <= 23 and 0 <= minute <= 59):
            raise ScheduleTimeError(f"{value!r} is not a time of day")
        candidate = now.astimezone(dt.UTC).replace(hour=hour, minute=minute, second=0, microsecond=0)
        return candidate if candidate > now else candidate + dt.timedelta(days=1)
    try:
        parsed = dt.datetime.fromisoformat(value.replace(" ", "T", 1))
    except ValueError:
        raise UnreadableTimeError(f"cannot read {value!r} as a time") from None
    parsed = parsed.replace(tzinfo=dt.UTC) if parsed.tzinfo is None else parsed.astimezone(dt.UTC)
    if parsed <= now:
        raise ScheduleTimeError("that time has already passed")
    return parsed


def split_schedule_arguments(arguments: str, now: dt.datetime) -> tuple[dt.datetime, str]:
    """(send time, text) from "/schedule" arguments; the time may be two words ("2026-12-01 09:00")."""
    words = arguments.split()
    for count in (2, 1):
        if len(words) > count:
            try:
                send_at = parse_send_time(" ".join(words[:count]), now)
            except UnreadableTimeError:
                if count == 1:
                    raise
                continue
            text = arguments.strip().split(maxsplit=count)[-1].strip()
            return send_at, text
    raise ScheduleTimeError("a time and a text are needed")
