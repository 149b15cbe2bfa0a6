"""The aiohttp application served by `mluv serve` (and, without the bot and workers, `mluv dashboard`)."""

from __future__ import annotations

import asyncio
import contextlib

from aiohttp import web

from mluv.logs import get_logger
from mluv.resources import Resources
from mluv.settings import Settings
from mluv.web.dashboard.routes import add_dashboard_routes
from mluv.web.health import RESOURCES_KEY, add_health_routes
from mluv.web.prometheus import add_metrics_routes

log = get_logger(__name__)


def create_app(resources: Resources) -> web.Application:
    app = web.Application()
    app[RESOURCES_KEY] = resources
    add_health_routes(app)
    add_dashboard_routes(app, resources)
    add_metrics_routes(app, resources)
    return app


async def run_dashboard(settings: Settings, *, stop: asyncio.Event | None = None) -> None:
    """`mluv dashboard`: the web app (dashboard, /metrics, health) without the bot and the workers."""
    from mluv.resources import with_service_urls
    from mluv.sentry import init_sentry
    from mluv.web.prometheus import start_metrics_server

    settings = with_service_urls(settings)
    init_sentry(settings, component="dashboard")
    stop = stop or _stop_on_signals()
    async with contextlib.AsyncExitStack() as stack:
        resources = await Resources.create(settings)
        stack.push_async_callback(resources.close)
        runner = web.AppRunner(create_app(resources), access_log=None)
        await runner.setup()
        stack.push_async_callback(runner.cleanup)
        await web.TCPSite(runner, settings.web_host, settings.web_port).start()
        metrics_runner = await start_metrics_server(resources)
        if metrics_runner is not None:
            stack.push_async_callback(metrics_runner.cleanup)
        log.info("dashboard listening", url=f"http://{settings.web_host}:{settings.web_port}/dashboard")
        await stop.wait()


def _stop_on_signals() -> asyncio.Event:
    import signal

    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError):
            loop.add_signal_handler(sig, stop.set)
    return stop
