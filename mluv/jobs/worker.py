"""arq WorkerSettings per queue, built from the registry and the settings; standalone or embedded.

Standalone: `mluv worker [--queue long]` (deployed; the WakingWorker of mluv.jobs.wake), or plain
`arq workers.WorkerSettings` / `arq workers.LongWorkerSettings` (arq's polling loop, same jobs).
Embedded: `mluv serve` runs `EmbeddedWorkers` in its own event loop, sharing the process's Resources.
All use the safe serializer, explicit UTC for cron, and a completion wait so a SIGTERM (deploy) lets
running jobs finish instead of cancelling them.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import json
from typing import Any

from arq.jobs import JobResult
from arq.worker import get_kwargs

from mluv.jobs.cron import CronJobSpec, catch_up_missed_runs
from mluv.jobs.declare import CTX_METRICS, CTX_RESOURCES, registry
from mluv.jobs.metrics import JobMetrics, Outcome, WorkerPresence
from mluv.jobs.queues import Queue
from mluv.jobs.serializer import deserialize, serialize
from mluv.jobs.wake import WakingWorker
from mluv.logs import configure_logging, get_logger, redact
from mluv.resources import Resources, redis_settings, with_service_urls
from mluv.settings import Settings, get_settings

log = get_logger(__name__)

CTX_OWNS_RESOURCES = "mluv_owns_resources"
CTX_HEALTH_SERVER = "mluv_health_server"
CTX_PRESENCE = "mluv_presence"


def crons_for(queue: Queue) -> list[CronJobSpec]:
    return [spec for spec in registry.crons.values() if spec.queue is queue]


def default_timeout(queue: Queue, settings: Settings) -> float:
    return float(settings.fast_job_timeout if queue is Queue.FAST else settings.long_job_timeout)


async def on_startup(ctx: dict[str, Any]) -> None:
    """arq hook: reuse the embedding process's Resources, or build this worker process's own."""
    if CTX_RESOURCES not in ctx:
        settings = with_service_urls(get_settings())
        configure_logging(level=settings.log_level, json=settings.json_logs, secrets=settings.secret_values())
        if settings.sentry_dsn is not None:  # an embedded worker shares `mluv serve`'s client
            from mluv.web.sentry import init_sentry

            init_sentry(settings, component="worker")
        ctx[CTX_RESOURCES] = await Resources.create(settings)
        ctx[CTX_OWNS_RESOURCES] = True
    resources: Resources = ctx[CTX_RESOURCES]
    metrics = JobMetrics()
    metrics.start(ctx["redis"])
    ctx[CTX_METRICS] = metrics
    queue = Queue(ctx["mluv_queue"])
    settings = resources.settings
    presence = WorkerPresence(
        queue.value, max_jobs=settings.worker_max_jobs, heartbeat_seconds=settings.worker_heartbeat_seconds
    )
    presence.start(ctx["redis"])
    ctx[CTX_PRESENCE] = presence
    if ctx.get(CTX_OWNS_RESOURCES) and settings.worker_health_port:
        from mluv.web.health import start_worker_health_server

        ctx[CTX_HEALTH_SERVER] = await start_worker_health_server(
            ctx["redis"], queue, settings.web_host, settings.worker_health_port
        )
    try:
        await catch_up_missed_runs(ctx["redis"], resources.session_factory, crons_for(queue))
    except Exception as error:  # a database hiccup at start must not keep the worker down
        log.error("cron catch-up failed at startup", error=str(error))
    log.info("worker started", queue=queue.label, jobs=sorted(ctx.get("mluv_functions", [])))


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
    from mluv.jobs.failures import insert_failure

    error = redact(str(result.result))
    log.error(
        "job given up without running",
        job_id=result.job_id,
        job_name=result.function,
        job_try=result.job_try,
        error=error,
    )
    metrics: JobMetrics | None = ctx.get(CTX_METRICS)
    if metrics is not None:
        metrics.record(result.function, Outcome.FAILED, 0.0)
    arguments: dict[str, Any] = dict(result.kwargs)
    if result.args:
        arguments["_args"] = list(result.args)
    resources: Resources = ctx[CTX_RESOURCES]
    await insert_failure(
        resources.session_factory,
        job_id=result.job_id or "",
        job_name=result.function,
        queue=result.queue_name,
        # Stored as JSON: values the msgpack serializer revived (dates, decimals) become strings.
        arguments=json.loads(json.dumps(arguments, default=str)),
        error=error,
        traceback_text=f"arq gave the job up before try {result.job_try} ran: {error}",
        tries=result.job_try,
    )


async def on_shutdown(ctx: dict[str, Any]) -> None:
    metrics: JobMetrics | None = ctx.get(CTX_METRICS)
    if metrics is not None:
        await metrics.stop(ctx["redis"])
    presence: WorkerPresence | None = ctx.get(CTX_PRESENCE)
    if presence is not None:
        await presence.stop(ctx["redis"])
    if CTX_HEALTH_SERVER in ctx:
        await ctx.pop(CTX_HEALTH_SERVER).cleanup()
    if ctx.get(CTX_OWNS_RESOURCES):
        await ctx[CTX_RESOURCES].close()
    log.info("worker stopped", queue=ctx.get("mluv_queue"))


def create_worker(worker_settings: type, **overrides: Any) -> WakingWorker:
    """arq's create_worker, with the worker that sleeps until woken (mluv.jobs.wake)."""
    idle_poll = get_settings().worker_idle_poll
    options = {"idle_poll": idle_poll, "on_given_up": on_given_up}
    return WakingWorker(**{**get_kwargs(worker_settings), **options, **overrides})


def build_worker_settings(queue: Queue, settings: Settings | None = None) -> type:
    """A WorkerSettings class for `queue`, every attribute in its own __dict__ (arq reads only that)."""
    settings = settings or get_settings()
    if not settings.redis_url:
        settings = with_service_urls(settings)
    assert settings.redis_url is not None
    timeout = default_timeout(queue, settings)
    functions = [declared.arq_function(timeout) for declared in registry.for_queue(queue)]
    cron_jobs = [spec.arq_cron(timeout) for spec in crons_for(queue)]
    names = [f.name for f in functions] + [c.name for c in cron_jobs]
    attributes: dict[str, Any] = {
        "functions": functions,
        "cron_jobs": cron_jobs,
        "queue_name": queue.value,
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
        "ctx": {"mluv_queue": queue.value, "mluv_functions": names},
    }
    return type(f"{queue.name.title()}WorkerSettings", (), attributes)


class EmbeddedWorkers:
    """arq workers running inside an existing event loop (mluv serve), sharing its Resources."""

    def __init__(self, resources: Resources, queues: tuple[Queue, ...] = (Queue.FAST, Queue.LONG)) -> None:
        self.resources = resources
        self.workers: list[WakingWorker] = []
        self.tasks: list[asyncio.Task[None]] = []
        self.queues = queues

    async def start(self) -> None:
        import workers

        workers.load_job_modules()
        for queue in self.queues:
            worker_settings = build_worker_settings(queue, self.resources.settings)
            kwargs: dict[str, Any] = dict(get_kwargs(worker_settings))
            kwargs["ctx"] = {**kwargs["ctx"], CTX_RESOURCES: self.resources}
            # The serving process owns the signals; it stops the workers itself (see stop()).
            worker = WakingWorker(
                **kwargs,
                idle_poll=self.resources.settings.worker_idle_poll,
                on_given_up=on_given_up,
                handle_signals=False,
            )
            self.workers.append(worker)
            self.tasks.append(asyncio.create_task(worker.async_run(), name=f"arq-worker-{queue.label}"))

    async def stop(self) -> None:
        """Stop taking jobs, let running ones finish within the completion wait, then close."""
        for worker in self.workers:
            worker.allow_pick_jobs = False
        settings = self.resources.settings
        deadline = asyncio.get_running_loop().time() + settings.worker_completion_wait
        # A poll already past its allow_pick_jobs check may still start jobs: let it, then wait for them.
        await asyncio.sleep(2 * settings.worker_poll_delay)
        while running := [
            task for worker in self.workers for task in worker.tasks.values() if not task.done()
        ]:
            remaining = deadline - asyncio.get_running_loop().time()
            if remaining <= 0:
                break
            await asyncio.wait(running, timeout=remaining)
        for worker in self.workers:
            try:
                await worker.close()
            except asyncio.CancelledError:
                # arq's close() cancels jobs still running after the wait and re-raises their
                # cancellation (they run again elsewhere); only our own cancellation must propagate.
                current = asyncio.current_task()
                if current is not None and current.cancelling():
                    raise
        for task in self.tasks:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self.workers.clear()
        self.tasks.clear()
