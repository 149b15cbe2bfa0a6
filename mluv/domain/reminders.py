"""When reminders are due: pure rules, no I/O.

Reminders go out at the learner's local reminder hour (users.timezone + users.reminder_hour, 18:00 by
default). The hourly cron asks, for one UTC tick, which (timezone, local hour, local date) each timezone
is in; learners whose (timezone, reminder_hour) match are due, for that local date.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass

from mluv.domain.progress import zone


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
