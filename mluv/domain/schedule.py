"""Parsing the time of an operator's scheduled post (pure; /schedule and the web compose page).

Every form is UTC: "+30m" / "+2h" / "+1d" from now; "18:00" today, or tomorrow once that time has passed;
"2026-12-24 09:00" (or ISO 8601, UTC unless it carries an offset). Past times are refused. A problem is a
ScheduleTimeError (a PostError: a bot.ftl key and its arguments).
"""

from __future__ import annotations

import datetime as dt
import re

from mluv.domain.post_format import PostError

_RELATIVE = re.compile(r"^\+(\d{1,4})([mhd])$")
_UNITS = {"m": "minutes", "h": "hours", "d": "days"}
TIME_FORMAT = "%Y-%m-%d %H:%M"


class ScheduleTimeError(PostError):
    pass


class UnreadableTimeError(ScheduleTimeError):
    """The words are not a time at all (as opposed to a time that is invalid or past)."""


def parse_send_time(value: str, now: dt.datetime) -> dt.datetime:
    """A UTC send time from "+30m" / "+2h" / "+1d", "HH:MM" (next occurrence, UTC) or a date and time
    (UTC unless it carries an offset). Times in the past are refused."""
    value = value.strip()
    if match := _RELATIVE.match(value):
        amount, unit = int(match.group(1)), _UNITS[match.group(2)]
        if amount == 0:
            raise ScheduleTimeError("schedule-error-zero-delay", {"value": value})
        return now + dt.timedelta(**{unit: amount})
    if re.fullmatch(r"\d{1,2}:\d{2}", value):
        hour, minute = (int(part) for part in value.split(":"))
        if not (0 <= hour <= 23 and 0 <= minute <= 59):
            raise ScheduleTimeError("schedule-error-time-of-day", {"value": value})
        candidate = now.astimezone(dt.UTC).replace(hour=hour, minute=minute, second=0, microsecond=0)
        return candidate if candidate > now else candidate + dt.timedelta(days=1)
    try:
        parsed = dt.datetime.fromisoformat(value.replace(" ", "T", 1))
    except ValueError:
        raise UnreadableTimeError("schedule-error-unreadable", {"value": value}) from None
    parsed = parsed.replace(tzinfo=dt.UTC) if parsed.tzinfo is None else parsed.astimezone(dt.UTC)
    if parsed <= now:
        raise ScheduleTimeError(
            "schedule-error-past", {"time": parsed.strftime(TIME_FORMAT), "example": example_time(now)}
        )
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
    if len(words) == 1:
        parse_send_time(words[0], now)  # a time alone: say what is wrong with it, if anything
    raise ScheduleTimeError("schedule-error-missing")


def example_time(now: dt.datetime) -> str:
    """A date and time for the usage example that is always valid: tomorrow at 09:00 UTC."""
    tomorrow = now.astimezone(dt.UTC) + dt.timedelta(days=1)
    return tomorrow.replace(hour=9, minute=0).strftime(TIME_FORMAT)
