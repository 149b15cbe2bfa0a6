"""The cron jobs as the dashboard and /metrics show them: the schedule in words, the last run and success.

The specs are the catalogue's, registered by the process's composition root (serve, cli): the web never
imports the catalogue. Runs come from `cron_runs` (owned by mluv.jobs.cron).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from mluv.db.models import CronRun, CronRunStatus
from mluv.jobs.cron import CronJobSpec
from mluv.jobs.declare import registry


@dataclass(frozen=True)
class CronView:
    spec: CronJobSpec
    schedule: str
    next_run: dt.datetime
    interval: float  # seconds between this tick and the next one
    last_run: CronRun | None
    last_success: dt.datetime | None

    @property
    def name(self) -> str:
        return self.spec.name


def registered_crons() -> list[CronJobSpec]:
    """The crons of the catalogue, which the process's composition root registered (serve, cli)."""
    return [spec for spec in registry.crons.values() if isinstance(spec, CronJobSpec)]


def _field_text(value: int | set[int] | None, *, step_from_zero: int | None = None) -> str:
    if value is None:
        return "*"
    if isinstance(value, int):
        return str(value)
    ordered = sorted(value)
    if step_from_zero and len(ordered) > 2 and ordered[0] == 0:
        step = ordered[1] - ordered[0]
        if ordered == list(range(0, step_from_zero, step)):
            return f"*/{step}"
    return ",".join(str(v) for v in ordered)


WEEKDAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")


def describe_schedule(spec: CronJobSpec) -> str:
    """arq's fields as a crontab-like line (with seconds), plus words for the common shapes, in UTC."""
    s = spec.schedule
    line = " ".join(
        [
            _field_text(s.get("second"), step_from_zero=60),
            _field_text(s.get("minute"), step_from_zero=60),
            _field_text(s.get("hour"), step_from_zero=24),
            _field_text(s.get("day")),
            _field_text(s.get("month")),
            _field_text(s.get("weekday")),
        ]
    )
    minute, hour, weekday = s.get("minute"), s.get("hour"), s.get("weekday")
    second, day, month = s.get("second"), s.get("day"), s.get("month")
    words = ""
    if day is None and month is None:
        if isinstance(second, set) and minute is None and hour is None and weekday is None:
            words = f"every {60 // max(len(second), 1)} s"
        elif isinstance(minute, set) and hour is None and weekday is None and second in (0, None):
            words = f"every {60 // max(len(minute), 1)} min"
        elif isinstance(minute, int) and hour is None and weekday is None:
            words = f"hourly at :{minute:02d}"
        elif isinstance(minute, int) and isinstance(hour, int):
            when = f"{hour:02d}:{minute:02d} UTC"
            if weekday is None:
                words = f"daily {when}"
            elif isinstance(weekday, int):
                words = f"{WEEKDAYS[weekday]} {when}"
            else:
                words = f"{'/'.join(WEEKDAYS[d] for d in sorted(weekday))} {when}"
    return f"{words} ({line})" if words else f"{line} UTC"


async def cron_views(
    session_factory: async_sessionmaker[AsyncSession], specs: Iterable[CronJobSpec]
) -> list[CronView]:
    now = dt.datetime.now(dt.UTC)
    specs = sorted(specs, key=lambda spec: spec.name)
    async with session_factory() as session:
        latest = (
            select(CronRun)
            .distinct(CronRun.cron_name)
            .order_by(CronRun.cron_name, CronRun.started_at.desc(), CronRun.id.desc())
        )
        last_runs = {row.cron_name: row for row in (await session.scalars(latest)).all()}
        success_query = (
            select(CronRun.cron_name, func.max(func.coalesce(CronRun.finished_at, CronRun.started_at)))
            .where(CronRun.status == CronRunStatus.SUCCEEDED)
            .group_by(CronRun.cron_name)
        )
        successes = {name: when for name, when in (await session.execute(success_query)).tuples()}
    views = []
    for spec in specs:
        next_run = spec.next_tick(now)
        views.append(
            CronView(
                spec=spec,
                schedule=describe_schedule(spec),
                next_run=next_run,
                interval=(spec.next_tick(next_run) - next_run).total_seconds(),
                last_run=last_runs.get(spec.name),
                last_success=successes.get(spec.name),
            )
        )
    return views
