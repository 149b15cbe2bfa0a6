"""`/dashboard`'s routes: which handler serves which URL under which access check, and the static files.

The dashboard is mounted according to the settings (mluv.web.auth.dashboard_access): off (a 404 that says
how to turn it on), open (development on loopback) or protected (token or password, sessions, CSRF).
"""

from __future__ import annotations

import hashlib
from importlib import resources as package_files

from aiohttp import web

from mluv.logs import get_logger
from mluv.resources import Resources
from mluv.web.auth import Access, LoginThrottle, SessionStore, dashboard_access
from mluv.web.dashboard.actions import abort_action, cancel_broadcast_action, discard_action, retry_action
from mluv.web.dashboard.compose_actions import (
    add_channel_action,
    cancel_post_action,
    compose_page,
    compose_submit,
    remove_channel_action,
)
from mluv.web.dashboard.guards import action_handler, api_handler, page_handler, secure_headers
from mluv.web.dashboard.job_actions import (
    bulk_failures_action,
    enqueue_action,
    job_name_page,
    job_run_page,
    run_cron_action,
    workers_page,
)
from mluv.web.dashboard.login import login_form, login_submit, logout
from mluv.web.dashboard.pages.analytics import analytics_page
from mluv.web.dashboard.sections import NAV, fragments, named_page, overview_page
from mluv.web.dashboard.snapshot import snapshot
from mluv.web.dashboard.state import STATE_KEY, DashboardState, dashboard_state
from mluv.web.dashboard.templating import setup_templates

log = get_logger(__name__)

STATIC_FILES = {"dashboard.css": "text/css", "dashboard.js": "text/javascript"}


def _read_static(name: str) -> bytes:
    return (package_files.files("mluv.web.dashboard") / "static" / name).read_bytes()


async def static(request: web.Request) -> web.StreamResponse:
    name = request.match_info["name"]
    state = dashboard_state(request)
    if name not in STATIC_FILES:
        raise web.HTTPNotFound()
    response = web.Response(body=state.static[name], content_type=STATIC_FILES[name])
    response.headers["Cache-Control"] = "public, max-age=86400"
    return secure_headers(response, cache=True)


async def dashboard_off(request: web.Request) -> web.StreamResponse:
    text = (
        "The dashboard is off: set DASHBOARD_TOKEN (or DASHBOARD_PASSWORD_HASH) to turn it on.\n"
        "Without them it is open only in development with WEB_HOST on loopback.\n"
    )
    return secure_headers(web.Response(status=404, text=text))


def add_dashboard_routes(app: web.Application, resources: Resources) -> Access:
    """Mount /dashboard according to the settings; returns the access mode (off, open, protected)."""
    settings = resources.settings
    access = dashboard_access(settings)
    if access is Access.OFF:
        app.router.add_route("*", "/dashboard{tail:(/.*)?}", dashboard_off)
        log.info("dashboard is off: DASHBOARD_TOKEN is not set")
        return access
    static_files = {name: _read_static(name) for name in STATIC_FILES}
    version = hashlib.sha256(b"".join(static_files.values())).hexdigest()[:10]
    app[STATE_KEY] = DashboardState(
        resources=resources,
        access=access,
        sessions=SessionStore(resources.pool, settings),
        throttle=LoginThrottle(resources.pool),
        static=static_files,
        static_version=version,
    )
    setup_templates(app)
    router = app.router
    router.add_get("/dashboard", page_handler(overview_page))
    router.add_get("/dashboard/", page_handler(overview_page))
    router.add_get("/dashboard/{page:jobs|failures|cron|stats|broadcasts}", page_handler(named_page))
    router.add_get("/dashboard/analytics", page_handler(analytics_page(NAV)))
    router.add_get("/dashboard/fragments", api_handler(fragments))
    router.add_get("/dashboard/api/snapshot", api_handler(snapshot))
    router.add_get("/dashboard/login", login_form)
    router.add_post("/dashboard/login", login_submit)
    router.add_post("/dashboard/logout", action_handler(logout))
    router.add_post("/dashboard/actions/abort", action_handler(abort_action))
    router.add_post("/dashboard/actions/retry", action_handler(retry_action))
    router.add_post("/dashboard/actions/discard", action_handler(discard_action))
    router.add_post("/dashboard/actions/cancel-broadcast", action_handler(cancel_broadcast_action))
    # Jobs past Flower (job_actions.py): a run, a job, the workers; Run now, enqueue by hand, bulk.
    router.add_get("/dashboard/jobs/{job_id:.+}", page_handler(job_run_page))
    router.add_get("/dashboard/job/{name}", page_handler(job_name_page))
    router.add_get("/dashboard/workers", page_handler(workers_page))
    router.add_post("/dashboard/actions/run-cron", action_handler(run_cron_action))
    router.add_post("/dashboard/actions/enqueue", action_handler(enqueue_action))
    router.add_post("/dashboard/actions/bulk-failures", action_handler(bulk_failures_action))
    # Broadcasts and scheduled posts from the web (compose_actions.py): compose, cancel, channels.
    router.add_get("/dashboard/compose", page_handler(compose_page))
    router.add_post("/dashboard/compose", action_handler(compose_submit))
    router.add_post("/dashboard/actions/cancel-post", action_handler(cancel_post_action))
    router.add_post("/dashboard/actions/add-channel", action_handler(add_channel_action))
    router.add_post("/dashboard/actions/remove-channel", action_handler(remove_channel_action))
    router.add_get("/dashboard/static/{name}", static)
    if access is Access.OPEN:
        log.warning("dashboard is open without a token (development on loopback only)", path="/dashboard")
    return access
