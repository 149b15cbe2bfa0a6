"""Cron jobs on arq's scheduler, in explicit UTC, run once per tick and caught up after downtime.

    @cron(queue=Queue.LONG, hour=0, minute=5, catch_up=True, retry=RetryPolicy(max_tries=3))
    async def check_and_reset_streaks(ctx: JobContext, run: CronRun) -> dict[str, int]: ...

What arq does not give, and this adds:
- every worker schedules every tick under the unique id `<name>:<tick in unix ms>` (arq: `unique=True`),
  but a late worker can enqueue the same id again after the first run removed its job key; a claim on
  cron_runs (one row per cron name and business key) makes the body run once per tick whatever happens;
- `max_tries > 1` (arq's cron default is 1) so a run cut by a deploy (SIGTERM → cancelled) runs again,
  taking over its own claim;
- arq skips ticks that passed while no worker ran: with `catch_up=True` a worker starting up enqueues the
  most recent missed tick (no cron_runs row) under the very id the scheduler would have used, once.
"""

from __future__ import annotations

import datetime as dt
import re
import uuid
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, TypedDict

from arq.connections import ArqRedis
from arq.cron import CronJob as ArqCronJob
from arq.cron import cron as arq_cron
from arq.cron import next_cron
from arq.jobs import Job

from mluv.jobs.declare import registry
from mluv.jobs.deployment import namespace_of
from mluv.jobs.queues import Queue
from mluv.jobs.retry import CRON_RETRY, RetryPolicy
from mluv.jobs.run import ARQ_TIMEOUT_MARGIN, JobContext, arq_max_tries, execute, resources_of
from mluv.logs import get_logger, redact

if TYPE_CHECKING:  # imported where used: a worker picks its first job before loading SQLAlchemy
    from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

    from mluv.db.models import CronRunStatus

log = get_logger("mluv.jobs.cron")

UTC = dt.UTC
# How far back to look for a missed tick (covers weekly jobs).
CATCH_UP_LOOKBACK = dt.timedelta(days=8)
# A tick younger than this is left to the scheduler itself (it enqueues up to a second ahead).
CATCH_UP_GRACE = dt.timedelta(minutes=2)
# A claim left "running" this long after its timeout belongs to a dead worker: another run may take it.
LEASE_MARGIN = dt.timedelta(seconds=60)

ScheduleField = int | set[int] | None


class Schedule(TypedDict, total=False):
    month: ScheduleField
    day: ScheduleField
    weekday: ScheduleField
    hour: ScheduleField
    minute: ScheduleField
    second: ScheduleField


@dataclass(frozen=True)
class CronRun:
    """What a cron job body learns about its run."""

    tick: dt.datetime  # the scheduled time, UTC
    business_key: str
    business_date: dt.date
    attempt: int
    manual: bool = False


@dataclass
class CronJobSpec:
    name: str
    fn: Callable[[JobContext[Any], CronRun], Awaitable[Any]]
    queue: Queue
    retry: RetryPolicy
    timeout: float | None
    catch_up: bool
    month: ScheduleField = None
    day: ScheduleField = None
    weekday: ScheduleField = None
    hour: ScheduleField = None
    minute: ScheduleField = None
    second: ScheduleField = 0
    keep_result: float = 86_400
    schedule: Schedule = field(init=False)

    def __post_init__(self) -> None:
        self.schedule = {
            "month": self.month,
            "day": self.day,
            "weekday": self.weekday,
            "hour": self.hour,
            "minute": self.minute,
            "second": self.second,
        }

    # ticks and keys

    def next_tick(self, after: dt.datetime) -> dt.datetime:
        return next_cron(after.astimezone(UTC), microsecond=0, **self.schedule)

    def previous_tick(self, now: dt.datetime) -> dt.datetime | None:
        """The most recent scheduled time at or before `now` (within the lookback)."""
        tick = None
        candidate = self.next_tick(now - CATCH_UP_LOOKBACK)
        while candidate <= now:
            tick = candidate
            candidate = self.next_tick(candidate)
        return tick

    def business_key(self, tick: dt.datetime) -> str:
        # Daily/weekly jobs are keyed by their date so a date is processed once, whichever tick ran it.
        if self.catch_up:
            return tick.date().isoformat()
        return tick.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")

    def job_id_for(self, tick: dt.datetime) -> str:
        # The id arq's scheduler gives a unique cron job: <name>:<unix ms of next_run>.
        return f"{self.name}:{int(tick.timestamp() * 1000)}"

    def parse_tick(self, job_id: str) -> dt.datetime | None:
        match = re.fullmatch(rf"{re.escape(self.name)}:(\d+)(?::.*)?", job_id)
        if match is None:
            return None
        return dt.datetime.fromtimestamp(int(match.group(1)) // 1000, tz=UTC)

    async def enqueue_now(self, pool: ArqRedis) -> Job | None:
        """A manual run, now: keyed `manual:<job id>` in cron_runs, so it never takes a tick's place."""
        job_id = f"{self.name}:manual:{uuid.uuid4().hex}"
        return await pool.enqueue_job(self.name, _job_id=job_id, _queue_name=self.queue.value)

    # arq integration

    def timeout_for(self, ctx: dict[str, Any]) -> float:
        if self.timeout is not None:
            return self.timeout
        return self.queue.default_timeout(resources_of(ctx).settings)

    def arq_cron(self, default_timeout: float) -> ArqCronJob:
        timeout = self.timeout if self.timeout is not None else default_timeout
        return arq_cron(
            self.run,
            name=self.name,
            microsecond=0,
            unique=True,
            run_at_startup=False,
            timeout=timeout + ARQ_TIMEOUT_MARGIN,
            max_tries=arq_max_tries(self.retry),
            # A kept result makes arq's enqueue refuse the same tick id again after the run.
            keep_result=self.keep_result,
            **self.schedule,
        )

    async def run(self, ctx: dict[str, Any]) -> Any:
        job_id = str(ctx.get("job_id", ""))
        # arq's id carries `<REDIS_NAMESPACE>:` outside the default namespace; the tick follows it.
        tick = self.parse_tick(namespace_of(ctx.get("redis")).local_id(job_id))
        manual = tick is None
        tick = tick or dt.datetime.now(UTC).replace(microsecond=0)
        key = f"manual:{job_id}" if manual else self.business_key(tick)
        timeout = self.timeout_for(ctx)

        async def call(job_ctx: JobContext[Any]) -> Any:
            from mluv.db.models import CronRunStatus

            session_factory = job_ctx.resources.session_factory
            attempt = await claim(session_factory, self.name, key, tick.date(), job_id, timeout)
            if attempt is None:
                log.info("cron tick already handled", business_key=key)
                return {"skipped": key}
            run = CronRun(
                tick=tick, business_key=key, business_date=tick.date(), attempt=attempt, manual=manual
            )
            result = await self.fn(job_ctx, run)
            await finish(session_factory, self.name, key, CronRunStatus.SUCCEEDED, result=result)
            return result

        async def failed(job_ctx: JobContext[Any], error: BaseException) -> None:
            from mluv.db.models import CronRunStatus

            await finish(
                job_ctx.resources.session_factory,
                self.name,
                key,
                CronRunStatus.FAILED,
                error=redact(f"{type(error).__name__}: {error}"),
            )

        return await execute(
            ctx,
            name=self.name,
            queue=self.queue,
            policy=self.retry,
            time_limit=timeout,
            arguments={"business_key": key},
            call=call,
            on_final_failure=failed,
        )


async def claim(
    session_factory: async_sessionmaker[AsyncSession],
    name: str,
    key: str,
    business_date: dt.date,
    job_id: str,
    lease_seconds: float,
) -> int | None:
    """Claim (name, key) for this run; the attempt number, or None if it succeeded or runs elsewhere."""
    from sqlalchemy.dialects.postgresql import insert

    from mluv.db.models import CronRun as CronRunRow
    from mluv.db.models import CronRunStatus

    now = dt.datetime.now(UTC)
    lease_expired = now - dt.timedelta(seconds=lease_seconds) - LEASE_MARGIN
    values = insert(CronRunRow).values(
        cron_name=name,
        business_key=key,
        business_date=business_date,
        status=CronRunStatus.RUNNING,
        job_id=job_id,
        attempts=1,
    )
    statement = values.on_conflict_do_update(
        index_elements=["cron_name", "business_key"],
        set_={
            "status": CronRunStatus.RUNNING,
            "job_id": job_id,
            "attempts": CronRunRow.attempts + 1,
            "started_at": now,
            "finished_at": None,
            "error": None,
        },
        # A failed run may run again; a running one only by its own job (arq retry) or after its lease.
        where=(CronRunRow.status == CronRunStatus.FAILED)
        | ((CronRunRow.status == CronRunStatus.RUNNING) & (CronRunRow.job_id == job_id))
        | ((CronRunRow.status == CronRunStatus.RUNNING) & (CronRunRow.started_at < lease_expired)),
    ).returning(CronRunRow.attempts)
    async with session_factory.begin() as session:
        return (await session.execute(statement)).scalar_one_or_none()


async def finish(
    session_factory: async_sessionmaker[AsyncSession],
    name: str,
    key: str,
    status: CronRunStatus,
    *,
    result: Any = None,
    error: str | None = None,
) -> None:
    from sqlalchemy import update

    from mluv.db.models import CronRun as CronRunRow

    stored = result if isinstance(result, dict) else ({"value": result} if result is not None else None)
    async with session_factory.begin() as session:
        await session.execute(
            update(CronRunRow)
            .where(CronRunRow.cron_name == name, CronRunRow.business_key == key)
            .values(status=status, finished_at=dt.datetime.now(UTC), result=stored, error=error)
        )


async def run_succeeded(
    session_factory: async_sessionmaker[AsyncSession], spec: CronJobSpec, tick: dt.datetime
) -> bool:
    """Whether the run of `spec` for `tick` has finished successfully (its cron_runs row says so)."""
    from sqlalchemy import select

    from mluv.db.models import CronRun as CronRunRow
    from mluv.db.models import CronRunStatus

    async with session_factory() as session:
        status = await session.scalar(
            select(CronRunRow.status).where(
                CronRunRow.cron_name == spec.name, CronRunRow.business_key == spec.business_key(tick)
            )
        )
    return status == CronRunStatus.SUCCEEDED


async def catch_up_missed_runs(
    pool: ArqRedis,
    session_factory: async_sessionmaker[AsyncSession],
    specs: Iterable[CronJobSpec],
    *,
    now: dt.datetime | None = None,
) -> list[str]:
    """Enqueue the latest missed tick of each catch-up cron (no cron_runs row); returns the job ids."""
    from sqlalchemy import select

    from mluv.db.models import CronRun as CronRunRow

    now = now or dt.datetime.now(UTC)
    enqueued: list[str] = []
    for spec in specs:
        if not spec.catch_up:
            continue
        tick = spec.previous_tick(now)
        if tick is None or now - tick < CATCH_UP_GRACE:
            continue
        key = spec.business_key(tick)
        async with session_factory() as session:
            seen = await session.scalar(
                select(CronRunRow.id).where(CronRunRow.cron_name == spec.name, CronRunRow.business_key == key)
            )
        if seen is not None:
            continue
        job = await pool.enqueue_job(spec.name, _job_id=spec.job_id_for(tick), _queue_name=spec.queue.value)
        if job is not None:
            log.warning("catching up a missed cron run", cron=spec.name, business_key=key, job_id=job.job_id)
            enqueued.append(job.job_id)
    return enqueued


def cron(
    *,
    queue: Queue = Queue.FAST,
    month: ScheduleField = None,
    day: ScheduleField = None,
    weekday: ScheduleField = None,
    hour: ScheduleField = None,
    minute: ScheduleField = None,
    second: ScheduleField = 0,
    retry: RetryPolicy | None = None,
    timeout: float | None = None,
    catch_up: bool = False,
    name: str | None = None,
) -> Callable[[Callable[[JobContext[Any], CronRun], Awaitable[Any]]], CronJobSpec]:
    """Declare and register a cron job; schedule fields are UTC, as in arq's `cron()`."""

    def decorate(fn: Callable[[JobContext[Any], CronRun], Awaitable[Any]]) -> CronJobSpec:
        spec = CronJobSpec(
            name=name or fn.__name__,
            fn=fn,
            queue=queue,
            retry=retry or CRON_RETRY,
            timeout=timeout,
            catch_up=catch_up,
            month=month,
            day=day,
            weekday=weekday,
            hour=hour,
            minute=minute,
            second=second,
        )
        registry.add_cron(spec.name, spec)
        return spec

    return decorate


def every(seconds: int) -> Schedule:
    """Schedule fields for "every N seconds", N dividing a minute or an hour (e.g. 300 → every 5 min)."""
    if seconds < 1:
        raise ValueError(f"an interval must be at least 1 s, not {seconds}")
    if seconds < 60 and 60 % seconds == 0:
        return {"second": set(range(0, 60, seconds))}
    if seconds % 60 == 0 and 3600 % seconds == 0:
        return {"minute": set(range(0, 60, seconds // 60)), "second": 0}
    raise ValueError(f"{seconds} s does not divide a minute or an hour evenly")
