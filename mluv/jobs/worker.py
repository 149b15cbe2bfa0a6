"""arq WorkerSettings for a queue, built from the registry, and the hooks every worker runs.

The jobs framework's part of a worker: the function and cron tables (mluv.jobs.declare's registry), the
safe serializer, explicit UTC for cron, a completion wait so a SIGTERM (deploy) lets running jobs finish,
per-job metrics and presence, cron catch-up, and dead letters for jobs arq gives up. What a process
needs around it (its Resources, Sentry, a health port, embedding in `mluv serve`) is wired by the
composition root, mluv.worker, which passes its own on_startup/on_shutdown in.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Awaitable, Callable
from typing import Any

from arq.jobs import JobResult
from arq.worker import get_kwargs

from mluv.jobs.connections import redis_settings
from mluv.jobs.counters import JobCounters, Outcome
from mluv.jobs.cron import CronJobSpec, catch_up_missed_runs
from mluv.jobs.declare import registry
from mluv.jobs.deployment import settings_namespace
from mluv.jobs.history import CTX_HISTORY, JobHistory, TryOutcome
from mluv.jobs.presence import WorkerPresence
from mluv.jobs.queues import Queue
from mluv.jobs.run import CTX_COUNTERS, insert_failure, resources_of
from mluv.jobs.serializer import deserialize, serialize
from mluv.jobs.wake import WakingWorker
from mluv.logs import get_logger, redact
from mluv.settings import Settings

log = get_logger("mluv.jobs.worker")

CTX_PRESENCE = "mluv_presence"
CTX_QUEUE = "mluv_queue"
CTX_FUNCTIONS = "mluv_functions"

Hook = Callable[[dict[str, Any]], Awaitable[None]]


def crons_for(queue: Queue) -> list[CronJobSpec]:
    return [spec for spec in registry.crons.values() if spec.queue is queue]


async def start_bookkeeping(ctx: dict[str, Any]) -> None:
    """After the process's resources are in ctx: metrics, presence, and the crons missed while down."""
    resources = resources_of(ctx)
    metrics = JobCounters()
    metrics.start(ctx["redis"])
    ctx[CTX_COUNTERS] = metrics
    queue = Queue(ctx[CTX_QUEUE])
    settings = resources.settings
    presence = WorkerPresence(
        queue.value, max_jobs=settings.worker_max_jobs, heartbeat_seconds=settings.worker_heartbeat_seconds
    )
    presence.start(ctx["redis"])
    ctx[CTX_PRESENCE] = presence
    history = JobHistory(presence.worker_id)
    history.start(ctx["redis"])
    ctx[CTX_HISTORY] = history
    # Only catch-up crons read the database: a queue without any starts without loading SQLAlchemy.
    if catch_up := [spec for spec in crons_for(queue) if spec.catch_up]:
        try:
            await catch_up_missed_runs(ctx["redis"], resources.session_factory, catch_up)
        except Exception as error:  # a database hiccup at start must not keep the worker down
            log.error("cron catch-up failed at startup", error=str(error))
    log.info("worker started", queue=queue.label, jobs=sorted(ctx.get(CTX_FUNCTIONS, [])))


async def stop_bookkeeping(ctx: dict[str, Any]) -> None:
    metrics: JobCounters | None = ctx.get(CTX_COUNTERS)
    if metrics is not None:
        await metrics.stop(ctx["redis"])
    presence: WorkerPresence | None = ctx.get(CTX_PRESENCE)
    if presence is not None:
        await presence.stop(ctx["redis"])
    history: JobHistory | None = ctx.get(CTX_HISTORY)
    if history is not None:
        await history.stop(ctx["redis"])


async def on_job_start(ctx: dict[str, Any]) -> None:
    """arq hook: in-process bookkeeping only (no Redis round trip per job); presence flushes it."""
    presence: WorkerPresence | None = ctx.get(CTX_PRESENCE)
    if presence is not None:
        presence.job_started(str(ctx["job_id"]), int(ctx["job_try"]))


async def after_job_end(ctx: dict[str, Any]) -> None:
    # After arq stored the result, so the id in the recent-jobs index always finds it.
    presence: WorkerPresence | None = ctx.get(CTX_PRESENCE)
    if presence is not None:
        presence.job_ended(str(ctx["job_id"]))


async def on_given_up(ctx: dict[str, Any], result: JobResult) -> None:
    """WakingWorker hook: a job arq gave up without running it becomes a dead letter and a failure."""
    error = redact(str(result.result))
    log.error(
        "job given up without running",
        job_id=result.job_id,
        job_name=result.function,
        job_try=result.job_try,
        error=error,
    )
    metrics: JobCounters | None = ctx.get(CTX_COUNTERS)
    if metrics is not None:
        metrics.record(result.function, Outcome.FAILED, 0.0)
    history: JobHistory | None = ctx.get(CTX_HISTORY)
    if history is not None:
        history.record(
            result.job_id or "",
            result.function,
            result.job_try,
            TryOutcome.GIVEN_UP,
            started_at=result.start_time.timestamp(),
            duration=0.0,
            error=error,
        )
    arguments: dict[str, Any] = dict(result.kwargs)
    if result.args:
        arguments["_args"] = list(result.args)
    await insert_failure(
        resources_of(ctx).session_factory,
        job_id=result.job_id or "",
        job_name=result.function,
        queue=result.queue_name,
        # Stored as JSON: values the msgpack serializer revived (dates, decimals) become strings.
        arguments=json.loads(json.dumps(arguments, default=str)),
        error=error,
        traceback_text=f"arq gave the job up before try {result.job_try} ran: {error}",
        tries=result.job_try,
    )


def create_worker(worker_settings: type, *, idle_poll: float, **overrides: Any) -> WakingWorker:
    """arq's create_worker, with the worker that sleeps until woken (mluv.jobs.wake)."""
    options = {"idle_poll": idle_poll, "on_given_up": on_given_up}
    return WakingWorker(**{**get_kwargs(worker_settings), **options, **overrides})


def build_worker_settings(queue: Queue, settings: Settings, *, on_startup: Hook, on_shutdown: Hook) -> type:
    """A WorkerSettings class for `queue`, every attribute in its own __dict__ (arq reads only that).

    `on_startup` must put the process's resources in ctx and then call start_bookkeeping; `on_shutdown`
    calls stop_bookkeeping before closing them.
    """
    assert settings.redis_url is not None
    timeout = queue.default_timeout(settings)
    functions = [declared.arq_function(timeout) for declared in registry.for_queue(queue)]
    cron_jobs = [spec.arq_cron(timeout) for spec in crons_for(queue)]
    names = [f.name for f in functions] + [c.name for c in cron_jobs]
    attributes: dict[str, Any] = {
        "functions": functions,
        "cron_jobs": cron_jobs,
        "queue_name": settings_namespace(settings).queue_name(queue.value),
        "redis_settings": redis_settings(settings.redis_url),
        "on_startup": on_startup,
        "on_shutdown": on_shutdown,
        "on_job_start": on_job_start,
        "after_job_end": after_job_end,
        "job_serializer": serialize,
        "job_deserializer": deserialize,
        # arq's cron timezone defaults to the server's local offset; schedules here are UTC.
        "timezone": dt.UTC,
        "job_timeout": timeout,
        "max_jobs": settings.worker_max_jobs,
        "poll_delay": settings.worker_poll_delay,
        "job_completion_wait": settings.worker_completion_wait,
        "keep_result": settings.job_keep_result,
        "health_check_interval": settings.worker_heartbeat_seconds,
        "allow_abort_jobs": True,
        # Per-job INFO lines are written by the jobs framework, with job context.
        "log_results": False,
        "ctx": {CTX_QUEUE: queue.value, CTX_FUNCTIONS: names},
    }
    return type(f"{queue.name.title()}WorkerSettings", (), attributes)
