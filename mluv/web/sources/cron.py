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
from mluv.jobs.cron import CronJobSpec, Schedule
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


def _field_text(value: int | set[int] | None, *, span: int | None = None, names: tuple[str, ...] = ()) -> str:
    if value is None:
        return "*"
    ordered = sorted({value} if isinstance(value, int) else value)
    step = _even_step(ordered, span) if span else None
    if step is not None:
        return f"*/{step}"
    return ",".join(names[v] if names else str(v) for v in ordered)


def _even_step(ordered: list[int], span: int | None) -> int | None:
    """The step of 0, n, 2n, ... covering the whole span (every n), else None."""
    if span is None or len(ordered) < 2 or ordered[0] != 0:
        return None
    step = ordered[1] - ordered[0]
    return step if span % step == 0 and ordered == list(range(0, span, step)) else None


WEEKDAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")  # arq's weekday 0 is Monday


def _words(s: Schedule) -> str | None:
    """The common shapes in words (UTC), or None; a schedule with a seconds field says which second."""
    second, minute, hour = s.get("second"), s.get("minute"), s.get("hour")
    weekday = s.get("weekday")
    if s.get("day") is not None or s.get("month") is not None:
        return None
    if isinstance(second, set):
        step = _even_step(sorted(second), 60)
        if step is None or minute is not None or hour is not None or weekday is not None:
            return None
        return f"every {step} s"
    past = f", {second} s past" if second else ""
    if second is None:
        return "every second" if minute is None and hour is None and weekday is None else None
    if weekday is None and hour is None and minute is None:
        return f"every minute at second {second}" if second else "every minute"
    if weekday is None and hour is None and isinstance(minute, set):
        step = _even_step(sorted(minute), 60)
        return f"every {step} min{past}" if step is not None else None
    if weekday is None and hour is None and isinstance(minute, int):
        return f"hourly at :{minute:02d}{past}"
    if not isinstance(minute, int):
        return None
    clock = f"{minute:02d}" + (f":{second:02d}" if second else "")
    if weekday is None and isinstance(hour, set):
        step = _even_step(sorted(hour), 24)
        return f"every {step} h at :{clock}" if step is not None else None
    if not isinstance(hour, int):
        return None
    when = f"{hour:02d}:{clock} UTC"
    if weekday is None:
        return f"daily {when}"
    days = [weekday] if isinstance(weekday, int) else sorted(weekday)
    return f"{'/'.join(WEEKDAYS[d] for d in days)} {when}"


def describe_schedule(s: Schedule) -> str:
    """Words for the common shapes, then arq's fields (second minute hour day month weekday, UTC)."""
    line = " ".join(
        [
            _field_text(s.get("second"), span=60),
            _field_text(s.get("minute"), span=60),
            _field_text(s.get("hour"), span=24),
            _field_text(s.get("day")),
            _field_text(s.get("month")),
            _field_text(s.get("weekday"), names=WEEKDAYS),
        ]
    )
    words = _words(s)
    return f"{words} ({line})" if words else f"{line} (second minute hour day month weekday, UTC)"


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
                schedule=describe_schedule(spec.schedule),
                next_run=next_run,
                interval=(spec.next_tick(next_run) - next_run).total_seconds(),
                last_run=last_runs.get(spec.name),
                last_success=successes.get(spec.name),
            )
        )
    return views
