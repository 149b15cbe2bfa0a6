"""The aiohttp application served by `mluv serve` (and, without the bot and workers, `mluv dashboard`):
health, the dashboard and /metrics; the composition roots in mluv.serve start it."""

from __future__ import annotations

from aiohttp import web

from mluv.logs import get_logger
from mluv.resources import Resources
from mluv.web.dashboard.routes import add_dashboard_routes
from mluv.web.health import RESOURCES_KEY, add_health_routes
from mluv.web.prometheus import add_metrics_routes

log = get_logger(__name__)


async def root(request: web.Request) -> web.StreamResponse:
    # Nothing is served at `/`: an operator typing the bare address means the dashboard.
    return web.Response(status=302, headers={"Location": "/dashboard"})


def create_app(resources: Resources) -> web.Application:
    app = web.Application()
    app[RESOURCES_KEY] = resources
    app.router.add_get("/", root)
    add_health_routes(app)
    add_dashboard_routes(app, resources)
    add_metrics_routes(app, resources)
    return app
