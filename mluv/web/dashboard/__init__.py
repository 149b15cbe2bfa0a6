"""The operations dashboard under /dashboard: queues, jobs, results, dead letters, cron, metrics, workers,
broadcasts, with Abort / Retry / Discard / Cancel. Server-rendered HTML, a small script re-fetches the
sections every few seconds; no external resources (CSP: 'self' only). Access rules: mluv.web.auth.
"""

from __future__ import annotations

import asyncio
import hashlib
import secrets
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from importlib import resources as package_files
from typing import Any
from urllib.parse import urlencode, urlsplit

from aiohttp import web
from arq.jobs import Job
from pydantic import ValidationError
from sqlalchemy.exc import SQLAlchemyError

from mluv.jobs.failures import FailureNotFoundError, FailureNotOpenError, discard_failure
from mluv.jobs.metrics import JobStats, read_job_stats
from mluv.jobs.operations import retry_failure
from mluv.jobs.queues import Queue
from mluv.jobs.serializer import StoredJobError, deserialize
from mluv.logs import get_logger, redact
from mluv.resources import Resources
from mluv.web import observe
from mluv.web.auth import (
    COOKIE_PATH,
    CSRF_FIELD,
    CSRF_HEADER,
    LOGIN_CSRF_COOKIE,
    SESSION_COOKIE,
    SESSION_SECONDS,
    Access,
    LoginThrottle,
    Session,
    SessionStore,
    check_credentials,
    client_ip,
    dashboard_access,
    is_direct_loopback,
    is_https,
    is_loopback_host,
    same_origin,
    secret_equals,
)
from mluv.web.dashboard import views
from mluv.web.dashboard.html import e
from mluv.web.dashboard.views import View

log = get_logger(__name__)

STATIC_FILES = {"dashboard.css": "text/css", "dashboard.js": "text/javascript"}
CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; "
    "form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
)
SECURITY_HEADERS = {
    "Content-Security-Policy": CSP,
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    # Not no-referrer: under it Chromium sends `Origin: null` with our own form posts.
    "Referrer-Policy": "same-origin",
    "Cross-Origin-Opener-Policy": "same-origin",
}
ABORT_WAIT = 1.0
# A hung PostgreSQL or Redis must not hang the page: its sections show an error instead.
SOURCE_TIMEOUT = 5.0


def _read_static(name: str) -> bytes:
    return (package_files.files("mluv.web.dashboard") / "static" / name).read_bytes()


@dataclass
class DashboardState:
    resources: Resources
    access: Access
    sessions: SessionStore
    throttle: LoginThrottle
    # Open (development) mode has no session: one CSRF token per process protects its forms.
    open_csrf: str = field(default_factory=lambda: secrets.token_urlsafe(32))
    static: dict[str, bytes] = field(default_factory=dict)
    static_version: str = ""


STATE_KEY = web.AppKey("dashboard", DashboardState)


@dataclass(frozen=True)
class Operator:
    """An authenticated (or, in open mode, local) request."""

    csrf: str
    session: Session | None


# --- per-request data, loaded once and shared by the fragments of one response ---------------------------


class Loader:
    def __init__(self, resources: Resources) -> None:
        self.resources = resources
        self._memo: dict[str, Any] = {}

    async def _once(self, key: str, make: Callable[[], Awaitable[Any]]) -> Any:
        if key not in self._memo:
            try:
                async with asyncio.timeout(SOURCE_TIMEOUT):
                    self._memo[key] = await make()
            except Exception as error:
                # A source that failed fails every section of this response at once, not after a wait each.
                self._memo[key] = error
        value = self._memo[key]
        if isinstance(value, Exception):
            raise value
        return value

    async def states(self) -> list[observe.QueueState]:
        result: list[observe.QueueState] = await self._once(
            "states", lambda: observe.queue_states(self.redis)
        )
        return result

    @property
    def redis(self) -> Any:
        return self.resources.pool

    async def workers(self) -> observe.WorkersView:
        result: observe.WorkersView = await self._once("workers", lambda: observe.workers_view(self.redis))
        return result

    async def jobs(self) -> observe.JobsSnapshot:
        async def make() -> observe.JobsSnapshot:
            return await observe.jobs_snapshot(
                self.redis, await self.states(), (await self.workers()).workers
            )

        result: observe.JobsSnapshot = await self._once("jobs", make)
        return result

    async def failures(self, status: str | None, limit: int) -> tuple[list[Any], dict[str, int]]:
        key = f"failures:{status}:{limit}"
        result: tuple[list[Any], dict[str, int]] = await self._once(
            key, lambda: observe.failures(self.resources.session_factory, status=status, limit=limit)
        )
        return result

    async def broadcasts(self) -> list[Any]:
        result: list[Any] = await self._once(
            "broadcasts", lambda: observe.broadcasts(self.resources.session_factory)
        )
        return result

    async def stats(self) -> list[JobStats]:
        result: list[JobStats] = await self._once("stats", lambda: read_job_stats(self.redis))
        return result


async def _summary(loader: Loader, v: View) -> str:
    try:
        _, counts = await loader.failures("open", 1)
        in_flight = sum(1 for b in await loader.broadcasts() if b.status in observe.IN_FLIGHT_BROADCASTS)
    except (SQLAlchemyError, OSError, TimeoutError):
        counts, in_flight = {}, 0
    health = await observe.health_report(loader.redis)
    return views.render_summary(await loader.states(), await loader.workers(), counts, in_flight, health)


async def _queues(loader: Loader, v: View) -> str:
    return views.render_queues(await loader.states())


async def _workers(loader: Loader, v: View) -> str:
    return views.render_workers(await loader.workers())


async def _running(loader: Loader, v: View) -> str:
    return views.render_running((await loader.jobs()).running, v)


async def _waiting(loader: Loader, v: View) -> str:
    return views.render_waiting((await loader.jobs()).waiting, v)


async def _results(loader: Loader, v: View) -> str:
    return views.render_results(await observe.recent_results(loader.redis, v.query.get("q", "")), v)


async def _failures(loader: Loader, v: View) -> str:
    status = v.query.get("status", "open")
    if status not in views.FAILURE_STATUSES:
        status = "open"
    rows, counts = await loader.failures(None if status == "all" else status, 50)
    return views.render_failures(rows, counts, View(v.csrf, {**v.query, "status": status}, v.path))


async def _failures_brief(loader: Loader, v: View) -> str:
    rows, counts = await loader.failures("open", 5)
    return views.render_failures(rows, counts, v, brief=True)


async def _cron(loader: Loader, v: View) -> str:
    crons = await observe.cron_views(loader.resources.session_factory, observe.registered_crons())
    return views.render_cron(crons)


async def _stats(loader: Loader, v: View) -> str:
    return views.render_stats(await loader.stats())


async def _broadcasts(loader: Loader, v: View) -> str:
    return views.render_broadcasts(await loader.broadcasts(), v)


async def _broadcasts_in_flight(loader: Loader, v: View) -> str:
    return views.render_broadcasts(await loader.broadcasts(), v, in_flight_only=True)


FRAGMENTS: dict[str, Callable[[Loader, View], Awaitable[str]]] = {
    "summary": _summary,
    "queues": _queues,
    "workers": _workers,
    "running": _running,
    "waiting": _waiting,
    "results": _results,
    "failures": _failures,
    "failures-brief": _failures_brief,
    "cron": _cron,
    "stats": _stats,
    "broadcasts": _broadcasts,
    "broadcasts-in-flight": _broadcasts_in_flight,
}

PAGES: dict[str, tuple[str, tuple[str, ...]]] = {
    "overview": (
        "Overview",
        ("summary", "queues", "running", "broadcasts-in-flight", "failures-brief", "workers"),
    ),
    "jobs": ("Jobs", ("queues", "running", "waiting", "results")),
    "failures": ("Failed jobs", ("failures",)),
    "cron": ("Cron", ("cron",)),
    "stats": ("Metrics", ("stats",)),
    "broadcasts": ("Broadcasts", ("broadcasts",)),
}


async def render_fragment(name: str, loader: Loader, v: View) -> str:
    """One section; a failing source (PostgreSQL down) shows an error in its section, not a broken page."""
    try:
        return await FRAGMENTS[name](loader, v)
    except Exception as error:
        log.warning("dashboard section failed", section=name, error=f"{type(error).__name__}: {error}")
        return (
            f"<h2>{e(name.replace('-', ' ').capitalize())}</h2>"
            f'<p class="error">Could not load this section: {e(type(error).__name__)}. '
            "It retries on the next update.</p>"
        )


# --- authentication --------------------------------------------------------------------------------------


def _state(request: web.Request) -> DashboardState:
    return request.app[STATE_KEY]


def _redirect(location: str, status: int = 302) -> web.Response:
    # Returned, not raised: the wrappers add the security headers to every response.
    return web.Response(status=status, headers={"Location": location})


def _secure_headers(response: web.StreamResponse, *, cache: bool = False) -> web.StreamResponse:
    for name, value in SECURITY_HEADERS.items():
        response.headers.setdefault(name, value)
    if not cache:
        response.headers["Cache-Control"] = "no-store"
    return response


def _host_name(host: str) -> str:
    if host.startswith("["):
        return host[1 : host.find("]")]
    return host.rsplit(":", 1)[0] if host.count(":") == 1 else host


def _open_mode_allowed(request: web.Request) -> bool:
    # Loopback peer, no proxy, and a loopback Host (a DNS-rebinding page on another name gets nothing).
    return is_direct_loopback(request) and is_loopback_host(_host_name(request.host or ""))


async def _operator(request: web.Request) -> Operator | None:
    state = _state(request)
    if state.access is Access.OPEN:
        return Operator(state.open_csrf, None) if _open_mode_allowed(request) else None
    session = await state.sessions.get(request.cookies.get(SESSION_COOKIE))
    return Operator(session.csrf, session) if session is not None else None


def _safe_next(path: str | None) -> str:
    """Only paths inside the dashboard: a login link must not redirect anywhere else."""
    if not path:
        return "/dashboard"
    parts = urlsplit(path)
    if (
        parts.scheme
        or parts.netloc
        or not parts.path.startswith("/dashboard")
        or "\\" in path
        or "//" in path
    ):
        return "/dashboard"
    return path


Handler = Callable[[web.Request, Operator], Awaitable[web.StreamResponse]]


def page_handler(handler: Handler) -> Callable[[web.Request], Awaitable[web.StreamResponse]]:
    """GET pages: a visitor without a session is sent to the login form."""

    async def wrapped(request: web.Request) -> web.StreamResponse:
        operator = await _operator(request)
        if operator is None:
            if _state(request).access is Access.OPEN:
                return _secure_headers(
                    web.Response(status=403, text="the open dashboard serves loopback only\n")
                )
            target = "/dashboard/login?" + urlencode({"next": request.path_qs})
            return _secure_headers(_redirect(target))
        return _secure_headers(await handler(request, operator))

    return wrapped


def api_handler(handler: Handler) -> Callable[[web.Request], Awaitable[web.StreamResponse]]:
    """Fragments and JSON: 401 without a session (the script then goes to the login form)."""

    async def wrapped(request: web.Request) -> web.StreamResponse:
        operator = await _operator(request)
        if operator is None:
            return _secure_headers(web.json_response({"error": "login required"}, status=401))
        return _secure_headers(await handler(request, operator))

    return wrapped


def action_handler(handler: Handler) -> Callable[[web.Request], Awaitable[web.StreamResponse]]:
    """POST actions: a session, the session's CSRF token (form field or header) and a same-origin request."""

    async def wrapped(request: web.Request) -> web.StreamResponse:
        operator = await _operator(request)
        if operator is None:
            return _secure_headers(web.json_response({"ok": False, "message": "login required"}, status=401))
        form = await request.post()
        given = request.headers.get(CSRF_HEADER) or _field(form, CSRF_FIELD)
        if not same_origin(request) or given is None or not secret_equals(given, operator.csrf):
            log.warning(
                "dashboard action refused: bad CSRF token", path=request.path, client=client_ip(request)
            )
            return _secure_headers(
                web.json_response({"ok": False, "message": "invalid CSRF token"}, status=403)
            )
        return _secure_headers(await handler(request, operator))

    return wrapped


def _field(form: Any, name: str) -> str | None:
    value = form.get(name)
    return value if isinstance(value, str) else None


# --- handlers --------------------------------------------------------------------------------------------


def _view(request: web.Request, operator: Operator) -> View:
    query = {k: v for k, v in request.query.items() if k in {"q", "status"}}
    return View(operator.csrf, query, request.path)


async def _page(request: web.Request, operator: Operator, name: str) -> web.StreamResponse:
    state = _state(request)
    title, names = PAGES[name]
    loader = Loader(state.resources)
    v = _view(request, operator)
    rendered = [(section, await render_fragment(section, loader, v)) for section in names]
    body = views.layout(
        page=name,
        title=title,
        sections=rendered,
        csrf=operator.csrf,
        open_mode=state.access is Access.OPEN,
        notice=request.query.get("notice"),
        static_version=state.static_version,
        logout=operator.session is not None,
    )
    return web.Response(text=body, content_type="text/html")


async def overview(request: web.Request, operator: Operator) -> web.StreamResponse:
    return await _page(request, operator, "overview")


async def named_page(request: web.Request, operator: Operator) -> web.StreamResponse:
    return await _page(request, operator, request.match_info["page"])


async def fragments(request: web.Request, operator: Operator) -> web.StreamResponse:
    names = [n for n in request.query.get("names", "").split(",") if n in FRAGMENTS][:10]
    loader = Loader(_state(request).resources)
    v = _view(request, operator)
    # ?path= names the page the sections sit on (search forms point back at it).
    page_path = _safe_next(request.query.get("path"))
    v = View(v.csrf, v.query, urlsplit(page_path).path)
    rendered = {name: await render_fragment(name, loader, v) for name in names}
    return web.json_response({"fragments": rendered})


async def snapshot(request: web.Request, operator: Operator) -> web.StreamResponse:
    """Everything the pages show, as JSON (for scripts and tests); arguments are redacted as on the pages."""
    resources = _state(request).resources
    loader = Loader(resources)
    states = await loader.states()
    workers = await loader.workers()
    jobs = await loader.jobs()

    def job(j: observe.JobView) -> dict[str, Any]:
        return {
            "job_id": j.job_id,
            "function": j.function,
            "queue": j.queue.label,
            "state": j.state,
            "arguments": j.call,
            "try": j.job_try,
            "started_at": j.started_at.isoformat() if j.started_at else None,
            "worker": j.worker,
            "aborting": j.aborting,
        }

    body: dict[str, Any] = {
        "queues": [
            {
                "queue": s.label,
                "waiting": s.waiting,
                "deferred": s.deferred,
                "running": s.running,
                "oldest_waiting_age": s.oldest_waiting_age,
                "worker_alive": s.heartbeat is not None,
            }
            for s in states
        ],
        "workers": [
            {"id": w.worker_id, "queue": w.queue, "running": len(w.running), "max_jobs": w.max_jobs}
            for w in workers.workers
        ],
        "running": [job(j) for j in jobs.running],
        "waiting": [job(j) for j in jobs.waiting],
        "results": [
            {
                "job_id": r.job_id,
                "function": r.function,
                "success": r.success,
                "tries": r.job_try,
                "duration": r.duration,
                "summary": r.summary,
            }
            for r in await observe.recent_results(loader.redis, request.query.get("q", ""), limit=20)
        ],
        "job_stats": [
            {
                "job": s.name,
                "executed": s.executed,
                "failed": s.failed,
                "retried": s.retried,
                "p50": s.p50,
                "p95": s.p95,
                "last_execution": s.last_execution,
            }
            for s in await loader.stats()
        ],
    }
    try:
        rows, counts = await loader.failures("open", 50)
        body["dead_letters"] = {
            "counts": counts,
            "open": [{"id": r.id, "job_name": r.job_name, "error": redact(r.error)} for r in rows],
        }
        body["crons"] = [
            {
                "name": c.name,
                "schedule": c.schedule,
                "next_run": c.next_run.isoformat(),
                "last_status": c.last_run.status if c.last_run else None,
                "last_success": c.last_success.isoformat() if c.last_success else None,
            }
            for c in await observe.cron_views(resources.session_factory, observe.registered_crons())
        ]
        body["broadcasts"] = [
            {
                "id": b.id,
                "status": b.status,
                "total": b.total,
                "sent": b.sent,
                "blocked": b.blocked,
                "failed": b.failed,
            }
            for b in await loader.broadcasts()
        ]
    except (SQLAlchemyError, OSError, TimeoutError) as error:
        body["database_error"] = type(error).__name__
    return web.json_response(body)


def _wants_json(request: web.Request) -> bool:
    return "application/json" in request.headers.get("Accept", "")


def _action_result(request: web.Request, ok: bool, message: str, status: int = 200) -> web.StreamResponse:
    log.info("dashboard action", path=request.path, ok=ok, result=message, client=client_ip(request))
    if _wants_json(request):
        return web.json_response({"ok": ok, "message": message}, status=status if not ok else 200)
    back = _safe_next(request.headers.get("Referer") and urlsplit(request.headers["Referer"]).path)
    return _redirect(f"{back}?{urlencode({'notice': message})}", 303)


async def abort_action(request: web.Request, operator: Operator) -> web.StreamResponse:
    form = await request.post()
    job_id = _field(form, "job_id") or ""
    try:
        queue = Queue.from_label(_field(form, "queue") or "")
    except ValueError:
        return _action_result(request, False, "unknown queue", 400)
    if not job_id:
        return _action_result(request, False, "no job id", 400)
    job = Job(
        job_id, request.app[STATE_KEY].resources.pool, _queue_name=queue.value, _deserializer=deserialize
    )
    try:
        aborted = await job.abort(timeout=ABORT_WAIT, poll_delay=0.1)
    except StoredJobError as error:
        # Our serializer stores the CancelledError of an aborted job as a StoredJobError.
        aborted = error.type_name == "CancelledError"
    except TimeoutError:
        return _action_result(
            request, True, f"abort of {job_id} requested: a worker cancels it when it sees it"
        )
    if aborted:
        return _action_result(request, True, f"job {job_id} aborted")
    return _action_result(request, True, f"abort of {job_id} requested")


def _int_field(form: Any, name: str) -> int | None:
    value = _field(form, name)
    return int(value) if value is not None and value.isdigit() else None


async def retry_action(request: web.Request, operator: Operator) -> web.StreamResponse:
    form = await request.post()
    failure_id = _int_field(form, "failure_id")
    if failure_id is None:
        return _action_result(request, False, "no failure id", 400)
    resources = request.app[STATE_KEY].resources
    try:
        retried = await retry_failure(resources.session_factory, resources.pool, failure_id)
    except FailureNotFoundError as error:
        return _action_result(request, False, str(error), 404)
    except (FailureNotOpenError, KeyError) as error:
        return _action_result(request, False, str(error).strip("'\""), 409)
    except ValidationError as error:
        # The job's signature changed since it failed: retrying it as stored cannot work.
        message = f"the stored arguments no longer fit {error.title}: {error.error_count()} error(s)"
        return _action_result(request, False, message, 422)
    return _action_result(request, True, f"{retried.job_name} re-enqueued as job {retried.new_job_id}")


async def discard_action(request: web.Request, operator: Operator) -> web.StreamResponse:
    form = await request.post()
    failure_id = _int_field(form, "failure_id")
    if failure_id is None:
        return _action_result(request, False, "no failure id", 400)
    try:
        await discard_failure(request.app[STATE_KEY].resources.session_factory, failure_id)
    except FailureNotFoundError as error:
        return _action_result(request, False, str(error), 404)
    return _action_result(request, True, f"failure #{failure_id} discarded")


async def cancel_broadcast_action(request: web.Request, operator: Operator) -> web.StreamResponse:
    form = await request.post()
    broadcast_id = _int_field(form, "broadcast_id")
    if broadcast_id is None:
        return _action_result(request, False, "no broadcast id", 400)
    if await observe.cancel_broadcast(request.app[STATE_KEY].resources.session_factory, broadcast_id):
        return _action_result(request, True, f"broadcast #{broadcast_id} cancelled")
    return _action_result(request, False, f"broadcast #{broadcast_id} is not in flight", 409)


# --- login -----------------------------------------------------------------------------------------------


def _login_response(
    request: web.Request, *, next_path: str | None, error: str | None = None, status: int = 200
) -> web.StreamResponse:
    state = _state(request)
    token = secrets.token_urlsafe(32)
    body = views.login_page(
        csrf=token, error=error, next_path=_safe_next(next_path), static_version=state.static_version
    )
    response = web.Response(text=body, content_type="text/html", status=status)
    # Double-submit token for the login form itself (there is no session yet to hold one).
    response.set_cookie(
        LOGIN_CSRF_COOKIE,
        token,
        path=COOKIE_PATH,
        httponly=True,
        samesite="Strict",
        secure=is_https(request, state.resources.settings),
        max_age=3600,
    )
    return _secure_headers(response)


async def login_form(request: web.Request) -> web.StreamResponse:
    if _state(request).access is Access.OPEN or await _operator(request) is not None:
        return _secure_headers(_redirect(_safe_next(request.query.get("next"))))
    return _login_response(request, next_path=request.query.get("next"))


async def login_submit(request: web.Request) -> web.StreamResponse:
    state = _state(request)
    if state.access is Access.OPEN:
        return _secure_headers(_redirect("/dashboard", 303))
    ip = client_ip(request)
    form = await request.post()
    next_path = _field(form, "next")
    wait = await state.throttle.retry_after(ip)
    if wait is not None:
        log.warning("dashboard login throttled", client=ip)
        error = f"Too many failed attempts. Try again in {wait // 60 + 1} min."
        response = _login_response(request, next_path=next_path, error=error, status=429)
        response.headers["Retry-After"] = str(wait)
        return response
    cookie_token = request.cookies.get(LOGIN_CSRF_COOKIE)
    form_token = _field(form, CSRF_FIELD)
    if (
        not same_origin(request)
        or not cookie_token
        or not form_token
        or not secret_equals(cookie_token, form_token)
    ):
        return _login_response(
            request, next_path=next_path, error="The form expired. Please try again.", status=403
        )
    given = _field(form, "token") or ""
    if not given or not check_credentials(state.resources.settings, given):
        await state.throttle.failed(ip)
        log.warning("dashboard login failed", client=ip)
        return _login_response(request, next_path=next_path, error="Wrong token or password.", status=401)
    await state.throttle.reset(ip)
    session = await state.sessions.create()
    log.info("dashboard login", client=ip)
    response = _redirect(_safe_next(next_path), 303)
    response.set_cookie(
        SESSION_COOKIE,
        session.session_id,
        path=COOKIE_PATH,
        httponly=True,
        samesite="Strict",
        secure=is_https(request, state.resources.settings),
        max_age=SESSION_SECONDS,
    )
    response.del_cookie(LOGIN_CSRF_COOKIE, path=COOKIE_PATH)
    return _secure_headers(response)


async def logout(request: web.Request, operator: Operator) -> web.StreamResponse:
    if operator.session is not None:
        await _state(request).sessions.delete(operator.session.session_id)
    response = _redirect("/dashboard/login", 303)
    response.del_cookie(SESSION_COOKIE, path=COOKIE_PATH)
    return response


async def static(request: web.Request) -> web.StreamResponse:
    name = request.match_info["name"]
    state = _state(request)
    if name not in STATIC_FILES:
        raise web.HTTPNotFound()
    response = web.Response(body=state.static[name], content_type=STATIC_FILES[name])
    response.headers["Cache-Control"] = "public, max-age=86400"
    return _secure_headers(response, cache=True)


async def dashboard_off(request: web.Request) -> web.StreamResponse:
    text = (
        "The dashboard is off: set DASHBOARD_TOKEN (or DASHBOARD_PASSWORD_HASH) to turn it on.\n"
        "Without them it is open only in development with WEB_HOST on loopback.\n"
    )
    return _secure_headers(web.Response(status=404, text=text))


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
    router = app.router
    router.add_get("/dashboard", page_handler(overview))
    router.add_get("/dashboard/", page_handler(overview))
    router.add_get("/dashboard/{page:jobs|failures|cron|stats|broadcasts}", page_handler(named_page))
    router.add_get("/dashboard/fragments", api_handler(fragments))
    router.add_get("/dashboard/api/snapshot", api_handler(snapshot))
    router.add_get("/dashboard/login", login_form)
    router.add_post("/dashboard/login", login_submit)
    router.add_post("/dashboard/logout", action_handler(logout))
    router.add_post("/dashboard/actions/abort", action_handler(abort_action))
    router.add_post("/dashboard/actions/retry", action_handler(retry_action))
    router.add_post("/dashboard/actions/discard", action_handler(discard_action))
    router.add_post("/dashboard/actions/cancel-broadcast", action_handler(cancel_broadcast_action))
    router.add_get("/dashboard/static/{name}", static)
    if access is Access.OPEN:
        log.warning("dashboard is open without a token (development on loopback only)", path="/dashboard")
    return access
