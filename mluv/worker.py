"""The worker process, wired: its Resources, Sentry, health port, and the workers embedded in `mluv serve`.

The composition root of every worker (mluv.jobs.worker is the jobs framework's part):
- `mluv worker [--queue long]` (deployed): `create_worker`, arq's Worker woken by enqueues (mluv.jobs.wake);
- `arq workers.WorkerSettings` / `arq workers.LongWorkerSettings`: the same settings under arq's own
  polling loop (workers/__init__.py asks `worker_settings` here);
- `mluv serve`: `InProcessWorkers` in the serving process's event loop, sharing its Resources.
A standalone worker builds its own Resources in on_startup and closes them in on_shutdown.

Start-up is kept to what picking a job needs (docs/benchmarks.md, "Worker start-up"): Resources build
the engine and the Bot on first use, the connection budget is logged when a job first uses the database,
the health server starts in the background, and the reviewer's lexicon loads with the first review.
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib
from collections.abc import Awaitable, Callable
from typing import Any

from arq.worker import get_kwargs

from mluv.jobs.deployment import claim_deployment, settings_namespace
from mluv.jobs.queues import Queue
from mluv.jobs.run import CTX_RESOURCES
from mluv.jobs.wake import WakingWorker, as_waking
from mluv.jobs.worker import (
    CTX_QUEUE,
    build_worker_settings,
    on_given_up,
    start_bookkeeping,
    stop_bookkeeping,
)
from mluv.jobs.worker import create_worker as create_waking_worker
from mluv.logs import configure_logging, get_logger
from mluv.resources import Resources, with_service_urls
from mluv.settings import Settings, get_settings

log = get_logger(__name__)

CTX_OWNS_RESOURCES = "mluv_owns_resources"
CTX_HEALTH_SERVER = "mluv_health_server"


def load_extra_job_modules() -> None:
    """Register the jobs of the modules named in EXTRA_JOB_MODULES (the catalogue, `workers`, registers
    its own when imported: whoever starts workers imports it, as serve, cli and workers/__init__ do)."""
    for module in get_settings().extra_job_modules:
        importlib.import_module(module)


async def on_startup(ctx: dict[str, Any]) -> None:
    """arq hook: reuse the embedding process's Resources, or build this worker process's own."""
    if CTX_RESOURCES not in ctx:
        settings = with_service_urls(get_settings())
        configure_logging(level=settings.log_level, json=settings.json_logs, secrets=settings.secret_values())
        if settings.sentry_dsn is not None:  # an in-process worker shares `mluv serve`'s client
            from mluv.sentry import init_sentry  # imported only when used: sentry_sdk costs start-up time

            init_sentry(settings, component="worker")
        resources = await Resources.create(settings)
        resources.check_budget_on_first_use = True
        ctx[CTX_RESOURCES] = resources
        ctx[CTX_OWNS_RESOURCES] = True
        # Before any job runs: a worker of another deployment on this Redis would take its jobs.
        await claim_deployment(resources.pool, settings)
        if settings.worker_health_port:
            ctx[CTX_HEALTH_SERVER] = asyncio.create_task(
                start_health_server(ctx, settings.worker_health_port), name="worker-health-server"
            )
    # The worker's own pool (arq's or ours): its cron ticks and bookkeeping keys take the namespace.
    as_waking(ctx["redis"], settings_namespace(ctx[CTX_RESOURCES].settings))
    await start_bookkeeping(ctx)


async def start_health_server(ctx: dict[str, Any], port: int) -> Any:
    """The /healthz server (mluv.web.health), its aiohttp and SQLAlchemy imported in a thread (~0.3 s):
    jobs are picked meanwhile, and fly's check allows far longer than that."""
    settings = ctx[CTX_RESOURCES].settings
    try:
        start = await asyncio.to_thread(_health_server_starter)
        return await start(ctx["redis"], Queue(ctx[CTX_QUEUE]), settings.web_host, port)
    except Exception as error:  # fly's check then fails and restarts the machine
        log.error("worker health server did not start", port=port, error=repr(error))
        raise


def _health_server_starter() -> Callable[..., Awaitable[Any]]:
    from mluv.web.health import start_worker_health_server

    return start_worker_health_server


async def on_shutdown(ctx: dict[str, Any]) -> None:
    await stop_bookkeeping(ctx)
    if CTX_HEALTH_SERVER in ctx:
        starting: asyncio.Task[Any] = ctx.pop(CTX_HEALTH_SERVER)
        if not starting.done():
            starting.cancel()
        await asyncio.wait([starting])
        if not starting.cancelled() and starting.exception() is None:
            await starting.result().cleanup()
    if ctx.get(CTX_OWNS_RESOURCES):
        await ctx[CTX_RESOURCES].close()
    log.info("worker stopped", queue=ctx.get(CTX_QUEUE))


def worker_settings(queue: Queue, settings: Settings | None = None) -> type:
    """The WorkerSettings class of `queue`: every job registered so far, and those of EXTRA_JOB_MODULES."""
    load_extra_job_modules()
    settings = settings or get_settings()
    if not settings.redis_url:
        settings = with_service_urls(settings)
    return build_worker_settings(queue, settings, on_startup=on_startup, on_shutdown=on_shutdown)


def create_worker(settings_class: type, **overrides: Any) -> WakingWorker:
    """The deployed worker (`mluv worker`): arq's Worker that sleeps until an enqueue wakes it."""
    return create_waking_worker(settings_class, idle_poll=get_settings().worker_idle_poll, **overrides)


async def _close_pool_left_open(worker: WakingWorker) -> None:
    """Finish what arq's Worker.close() skips when a cancelled job's task re-raises from its gather: the
    shutdown hook (it stops the counters' and presence's flush loops) and the pool. Left running, a flush
    loop opens a new connection on the closed pool, which outlives the event loop (a ResourceWarning)."""
    pool = worker._pool
    if pool is None:
        return
    worker._pool = None
    if worker.on_shutdown is not None:
        with contextlib.suppress(Exception):
            await worker.on_shutdown(worker.ctx)
    with contextlib.suppress(Exception):
        await pool.aclose(close_connection_pool=True)


class InProcessWorkers:
    """arq workers running inside an existing event loop (mluv serve), sharing its Resources."""

    def __init__(self, resources: Resources, queues: tuple[Queue, ...] = (Queue.FAST, Queue.LONG)) -> None:
        self.resources = resources
        self.workers: list[WakingWorker] = []
        self.tasks: list[asyncio.Task[None]] = []
        self.queues = queues

    async def start(self) -> None:
        for queue in self.queues:
            kwargs: dict[str, Any] = dict(get_kwargs(worker_settings(queue, self.resources.settings)))
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
            finally:
                await _close_pool_left_open(worker)
        for task in self.tasks:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self.workers.clear()
        self.tasks.clear()
