"""`mluv serve` (the web server, the bot and the in-process workers) and `mluv dashboard` (the web alone).

Start order: service URLs (embedded servers in development when unset) → the Bot API sandbox when no
Telegram is configured → migrations → Resources → web server (with the webhook route) → workers → bot.
Stop order is the reverse, so no job or update is cut off while a resource it needs is already closed.
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
from collections.abc import AsyncIterator

from aiohttp import web

import workers  # noqa: F401 - the catalogue: importing it registers every job the in-process workers run
from mluv.bot.dispatcher import create_dispatcher
from mluv.bot.runner import BotRunner
from mluv.db.budget import check_connection_budget
from mluv.db.migrate import upgrade
from mluv.jobs.deployment import claim_deployment
from mluv.logs import get_logger
from mluv.resources import Resources, with_service_urls
from mluv.sentry import init_sentry
from mluv.settings import Settings
from mluv.telegram.sandbox import SANDBOX_KEY, SandboxConfig, create_sandbox_app, run_sandbox
from mluv.web.app import create_app
from mluv.web.prometheus import start_metrics_server
from mluv.worker import InProcessWorkers

log = get_logger(__name__)

# Simulated learners' Telegram ids (far from real ones, so a sandbox database is easy to tell apart).
LEARNER_BASE_ID = 700_000_000


@contextlib.asynccontextmanager
async def development_sandbox(settings: Settings) -> AsyncIterator[Settings]:
    """Run the local Bot API sandbox (with simulated learners) and point the settings at it."""
    app = create_sandbox_app(SandboxConfig(auto_create_chats=True))
    async with run_sandbox(settings.web_host, settings.sandbox_port, app=app) as url:
        simulator = app[SANDBOX_KEY].simulator
        if settings.sandbox_learners and settings.sandbox_rate > 0:
            simulator.start(settings.sandbox_learners, settings.sandbox_rate, None, base_id=LEARNER_BASE_ID)
        elif settings.sandbox_learners:
            simulator.create_learners(settings.sandbox_learners, LEARNER_BASE_ID)
        log.warning(
            "no BOT_TOKEN: the bot talks to the local Telegram sandbox",
            sandbox=f"{url}/_sandbox/",
            learners=settings.sandbox_learners,
            rate_per_second=settings.sandbox_rate,
        )
        yield settings.model_copy(update={"telegram_api_base": url})


async def serve(settings: Settings, *, migrate: bool = True, stop: asyncio.Event | None = None) -> None:
    settings = with_service_urls(settings)
    database_url = settings.database_url
    assert database_url is not None
    stop = stop or _stop_on_signals()
    init_sentry(settings, component="serve")
    async with contextlib.AsyncExitStack() as stack:
        if settings.uses_sandbox:
            settings = await stack.enter_async_context(development_sandbox(settings))
        if migrate:
            await upgrade(database_url)
            log.info("database migrated")
        resources = await Resources.create(settings)
        stack.push_async_callback(resources.close)
        await claim_deployment(resources.pool, settings)  # before the bot or a worker takes anything
        await check_connection_budget(resources.engine, settings)
        runner = BotRunner(create_dispatcher(resources), resources.bot, settings)
        app = create_app(resources)
        runner.register_webhook_route(app)
        await start_web(stack, app, resources)
        log.info(
            "web server listening", url=f"http://{settings.web_host}:{settings.web_port}", health="/healthz"
        )
        if settings.workers_in_process:
            workers = InProcessWorkers(resources)
            await workers.start()
            stack.push_async_callback(workers.stop)
            log.info("in-process workers started", queues=[q.label for q in workers.queues])
        else:
            log.info("no in-process worker: run `mluv worker` and `mluv worker --queue long`")
        await runner.start()
        stack.push_async_callback(runner.stop)
        await stop.wait()
        log.info("shutting down")
    log.info("stopped")


async def serve_dashboard(settings: Settings, *, stop: asyncio.Event | None = None) -> None:
    """`mluv dashboard`: the web app (dashboard, /metrics, health) without the bot and the workers."""
    settings = with_service_urls(settings)
    init_sentry(settings, component="dashboard")
    stop = stop or _stop_on_signals()
    async with contextlib.AsyncExitStack() as stack:
        resources = await Resources.create(settings)
        stack.push_async_callback(resources.close)
        await claim_deployment(resources.pool, settings)
        await start_web(stack, create_app(resources), resources)
        log.info("dashboard listening", url=f"http://{settings.web_host}:{settings.web_port}/dashboard")
        await stop.wait()


async def start_web(stack: contextlib.AsyncExitStack, app: web.Application, resources: Resources) -> None:
    """Serve `app` on WEB_HOST:WEB_PORT, and /metrics on METRICS_PORT when set, until `stack` closes."""
    settings = resources.settings
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    stack.push_async_callback(runner.cleanup)
    await web.TCPSite(runner, settings.web_host, settings.web_port).start()
    metrics_runner = await start_metrics_server(resources)
    if metrics_runner is not None:
        stack.push_async_callback(metrics_runner.cleanup)


def _stop_on_signals() -> asyncio.Event:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError):
            loop.add_signal_handler(sig, stop.set)
    return stop
