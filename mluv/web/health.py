"""Health endpoints for fly.io checks.

/healthz: the process answers (liveness); fly's check for the web machine, green with no worker running,
so a worker crash or a worker-only deploy leaves the webhook and the dashboard in fly's routing.
/readyz: PostgreSQL and Redis answer and a worker heartbeat is fresh (arq refreshes `<queue>:health-check`
every WORKER_HEARTBEAT_SECONDS; it expires when workers die), for people and external monitors. Worker
machines answer their own /healthz on WORKER_HEALTH_PORT (start_worker_health_server).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web
from sqlalchemy import text

from mluv.jobs.arq_state import heartbeat_alive
from mluv.jobs.queues import Queue
from mluv.resources import Resources

RESOURCES_KEY = web.AppKey("resources", Resources)
CHECK_TIMEOUT = 2.0


async def healthz(_: web.Request) -> web.Response:
    return web.json_response({"status": "ok"})


async def _check(probe: Callable[[], Awaitable[Any]]) -> dict[str, Any]:
    started = time.perf_counter()
    try:
        async with asyncio.timeout(CHECK_TIMEOUT):
            detail = await probe()
    except Exception as error:
        return {"ok": False, "error": type(error).__name__}
    result: dict[str, Any] = {"ok": True, "ms": round((time.perf_counter() - started) * 1000, 2)}
    if isinstance(detail, dict):
        result.update(detail)
    return result


async def readiness(resources: Resources) -> dict[str, Any]:
    async def database() -> None:
        async with resources.session_factory() as session:
            await session.execute(text("SELECT 1"))

    async def redis() -> None:
        await resources.pool.ping()

    async def workers() -> dict[str, Any]:
        alive = {queue.label: await heartbeat_alive(resources.pool, queue) for queue in Queue}
        if not any(alive.values()):
            raise RuntimeError("no worker heartbeat")
        return {"queues": alive}

    checks = {
        "database": await _check(database),
        "redis": await _check(redis),
        "workers": await _check(workers),
    }
    return {"status": "ok" if all(c["ok"] for c in checks.values()) else "unhealthy", "checks": checks}


async def readyz(request: web.Request) -> web.Response:
    report = await readiness(request.app[RESOURCES_KEY])
    return web.json_response(report, status=200 if report["status"] == "ok" else 503)


def add_health_routes(app: web.Application) -> None:
    app.router.add_get("/healthz", healthz)
    app.router.add_get("/readyz", readyz)


async def start_worker_health_server(redis: Any, queue: Queue, host: str, port: int) -> web.AppRunner:
    """A standalone worker's /healthz: 200 while its heartbeat key is fresh and Redis answers."""

    async def worker_healthz(_: web.Request) -> web.Response:
        try:
            async with asyncio.timeout(CHECK_TIMEOUT):
                alive = await heartbeat_alive(redis, queue)
        except Exception as error:
            return web.json_response({"status": "unhealthy", "error": type(error).__name__}, status=503)
        body = {"status": "ok" if alive else "unhealthy", "queue": queue.label}
        return web.json_response(body, status=200 if alive else 503)

    app = web.Application()
    app.router.add_get("/healthz", worker_healthz)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, host, port).start()
    return runner
