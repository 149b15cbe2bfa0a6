"""One try of a job inside a worker: its context, timeout, retry policy, metrics and dead letter.

Declared jobs (mluv.jobs.declare) and cron jobs (mluv.jobs.cron) both run through `execute`. A job gets a
`JobContext`: this run's identity and the process's shared resources, which the jobs framework knows
only as `JobResources` (what it needs itself: settings and the session factory); the catalogue types its
jobs with the application's own Resources (`JobContext[Resources]`).
"""

from __future__ import annotations

import asyncio
import datetime as dt
import time
import traceback
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Generic, Protocol, TypeVar

import structlog
from arq import Retry
from arq.connections import ArqRedis
from pydantic import BaseModel

from mluv.jobs.counters import JobCounters, Outcome
from mluv.jobs.history import TryOutcome, note_try
from mluv.jobs.queues import Queue
from mluv.jobs.retry import RetryPolicy
from mluv.logs import get_logger, redact
from mluv.settings import Settings

if TYPE_CHECKING:  # SQLAlchemy is imported by the first job that uses the database, not at worker start
    from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

log = get_logger("mluv.jobs")

# Extra arq tries beyond the policy's, so a job whose worker crashed (SIGKILL, OOM) is re-run even on its
# last try: arq counts a crash re-run as a try and refuses to start a job past max_tries.
CRASH_ALLOWANCE = 2
# arq's own timeout is a safety net; ours fires first so the policy and the dead letter see the timeout.
ARQ_TIMEOUT_MARGIN = 5.0

# Keys of arq's ctx that the worker's on_startup fills in.
CTX_RESOURCES = "mluv_resources"
CTX_COUNTERS = "mluv_counters"


def arq_max_tries(policy: RetryPolicy) -> int:
    """arq's max_tries for a policy: its tries, the crash allowance, and one last try that only writes the
    dead letter (arq gives a job up past max_tries without calling any hook, so a plain `arq` worker would
    drop a job whose tries crashes used up without a trace; mluv.jobs.wake reports the rest)."""
    return policy.max_tries + CRASH_ALLOWANCE + 1


class WorkerDied(RuntimeError):
    """A job's tries were used up by its worker stopping mid-run (crash, OOM, kill, deploy), not by errors."""


class JobResources(Protocol):
    """What the jobs framework itself uses of a process's resources."""

    @property
    def settings(self) -> Settings: ...

    @property
    def session_factory(self) -> async_sessionmaker[AsyncSession]: ...


ResourcesT = TypeVar("ResourcesT", bound=JobResources, covariant=True)


@dataclass(frozen=True)
class JobContext(Generic[ResourcesT]):
    """What a running job gets: the process's shared resources and this run's identity."""

    resources: ResourcesT
    job_id: str
    job_name: str
    job_try: int
    queue: Queue
    enqueue_time: dt.datetime | None
    raw: dict[str, Any]

    @property
    def redis(self) -> ArqRedis:
        redis: ArqRedis = self.raw["redis"]
        return redis


def context_from_arq(ctx: dict[str, Any], name: str, queue: Queue) -> JobContext[Any]:
    return JobContext(
        resources=ctx[CTX_RESOURCES],
        job_id=str(ctx.get("job_id", "")),
        job_name=name,
        job_try=int(ctx.get("job_try", 1)),
        queue=queue,
        enqueue_time=ctx.get("enqueue_time"),
        raw=ctx,
    )


def resources_of(ctx: dict[str, Any]) -> JobResources:
    resources: JobResources = ctx[CTX_RESOURCES]
    return resources


async def execute(
    ctx: dict[str, Any],
    *,
    name: str,
    queue: Queue,
    policy: RetryPolicy,
    time_limit: float,
    arguments: dict[str, Any] | BaseModel,
    call: Callable[[JobContext[Any]], Awaitable[Any]],
    on_final_failure: Callable[[JobContext[Any], BaseException], Awaitable[None]] | None = None,
    stale_after: float | None = None,
) -> Any:
    """Run one try of a job with logging context, timeout, retry policy, metrics and dead letters.

    `arguments` as a model is dumped to JSON only for a dead letter, not on every run. With `stale_after`
    (seconds), a try that starts later than that past its due time is skipped: logged, and the result
    `{"skipped": "stale", ...}` says so (mluv.jobs.declare: the expiry policy).
    """
    job_ctx = context_from_arq(ctx, name, queue)
    metrics: JobCounters | None = ctx.get(CTX_COUNTERS)
    # A model's __dict__ holds its fields; getattr on a missing one raises inside pydantic (slow).
    user_id = (arguments.__dict__ if isinstance(arguments, BaseModel) else arguments).get("user_id")
    started, started_at = time.perf_counter(), time.time()
    with structlog.contextvars.bound_contextvars(
        job_id=job_ctx.job_id,
        job_name=name,
        job_try=job_ctx.job_try,
        **({"user_id": user_id} if user_id is not None else {}),
    ):
        late = lateness(ctx)
        if stale_after is not None and late is not None and late > stale_after:
            log.warning("job skipped: stale", late_seconds=round(late, 1), stale_after_seconds=stale_after)
            if metrics:
                metrics.record(name, Outcome.SUCCEEDED, time.perf_counter() - started)
            note_try(ctx, name, TryOutcome.SKIPPED, started_at=started_at, duration=0.0, error="stale")
            return {"skipped": "stale", "late_seconds": round(late, 1), "stale_after_seconds": stale_after}
        try:
            if job_ctx.job_try >= arq_max_tries(policy):
                raise WorkerDied(
                    f"not run again: {job_ctx.job_try - 1} tries started, and the last ones ended with their "
                    "worker stopping mid-run (a crash, OOM kill or deploy)"
                )
            async with asyncio.timeout(time_limit):
                result = await call(job_ctx)
        except Exception as error:
            duration = time.perf_counter() - started
            decision = policy.decide(error, job_ctx.job_try)
            if decision.retry:
                if metrics:
                    metrics.record(name, Outcome.RETRIED, duration)
                note_try(ctx, name, TryOutcome.RETRIED, started_at=started_at, duration=duration, error=error)
                log.warning(
                    "job will retry",
                    error=f"{type(error).__name__}: {error}",
                    retry_in=decision.defer,
                    reason=decision.reason,
                )
                raise Retry(defer=decision.defer) from error
            if metrics:
                metrics.record(name, Outcome.FAILED, duration)
            note_try(ctx, name, TryOutcome.FAILED, started_at=started_at, duration=duration, error=error)
            log.error("job failed", reason=decision.reason, duration=round(duration, 4), exc_info=error)
            stored = arguments.model_dump(mode="json") if isinstance(arguments, BaseModel) else arguments
            await record_dead_letter(job_ctx, stored, error)
            if on_final_failure is not None:
                await on_final_failure(job_ctx, error)
            raise
        duration = time.perf_counter() - started
        if metrics:
            metrics.record(name, Outcome.SUCCEEDED, duration)
        note_try(ctx, name, TryOutcome.SUCCEEDED, started_at=started_at, duration=duration)
        log.info("job done", duration=round(duration, 4))
        return result.model_dump(mode="json") if isinstance(result, BaseModel) else result


def lateness(ctx: dict[str, Any]) -> float | None:
    """Seconds between this try's due time (arq's score, ms) and now; None when arq did not say."""
    score = ctx.get("score")
    if not isinstance(score, int | float) or score <= 0:
        return None
    return max(time.time() - score / 1000, 0.0)


async def insert_failure(session_factory: async_sessionmaker[AsyncSession], **row: Any) -> int:
    """mluv.jobs.failures.insert_failure, imported by the first dead letter (it loads the ORM models)."""
    from mluv.jobs import failures

    return await failures.insert_failure(session_factory, **row)


async def record_dead_letter(
    job_ctx: JobContext[Any], arguments: dict[str, Any], error: BaseException
) -> None:
    """Store the failed job in job_failures; never let a database problem hide the job's own error."""
    try:
        await insert_failure(
            job_ctx.resources.session_factory,
            job_id=job_ctx.job_id,
            job_name=job_ctx.job_name,
            queue=job_ctx.queue,
            arguments=arguments,
            error=redact(f"{type(error).__name__}: {error}"),
            traceback_text=redact("".join(traceback.format_exception(error))),
            tries=job_ctx.job_try,
        )
    except Exception as db_error:
        log.error("could not record the failed job in job_failures", error=str(db_error))
