"""Who may use the dashboard, checked on every request, and the headers every response carries.

Pages send a visitor without a session to the login form; fragments and JSON answer 401; POST actions also
need the session's CSRF token and a same-origin request. Open (development) mode serves loopback only, with
a loopback Host header (a DNS-rebinding page on another name gets nothing). Access rules: mluv.web.auth.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any
from urllib.parse import urlencode, urlsplit

from aiohttp import web

from mluv.logs import get_logger
from mluv.web.auth import (
    CSRF_FIELD,
    CSRF_HEADER,
    SESSION_COOKIE,
    Access,
    client_ip,
    open_mode_allowed,
    same_origin,
    secret_equals,
)
from mluv.web.dashboard.state import Operator, dashboard_state

log = get_logger(__name__)

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

Handler = Callable[[web.Request, Operator], Awaitable[web.StreamResponse]]


def redirect(location: str, status: int = 302) -> web.Response:
    # Returned, not raised: the wrappers add the security headers to every response.
    return web.Response(status=status, headers={"Location": location})


def secure_headers(response: web.StreamResponse, *, cache: bool = False) -> web.StreamResponse:
    for name, value in SECURITY_HEADERS.items():
        response.headers.setdefault(name, value)
    if not cache:
        response.headers["Cache-Control"] = "no-store"
    return response


async def operator_of(request: web.Request) -> Operator | None:
    state = dashboard_state(request)
    if state.access is Access.OPEN:
        return Operator(state.open_csrf, None) if open_mode_allowed(request) else None
    session = await state.sessions.get(request.cookies.get(SESSION_COOKIE))
    return Operator(session.csrf, session) if session is not None else None


def safe_next(path: str | None) -> str:
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


def form_field(form: Any, name: str) -> str | None:
    value = form.get(name)
    return value if isinstance(value, str) else None


def page_handler(handler: Handler) -> Callable[[web.Request], Awaitable[web.StreamResponse]]:
    """GET pages: a visitor without a session is sent to the login form."""

    async def wrapped(request: web.Request) -> web.StreamResponse:
        operator = await operator_of(request)
        if operator is None:
            if dashboard_state(request).access is Access.OPEN:
                return secure_headers(
                    web.Response(status=403, text="the open dashboard serves loopback only\n")
                )
            target = "/dashboard/login?" + urlencode({"next": request.path_qs})
            return secure_headers(redirect(target))
        return secure_headers(await handler(request, operator))

    return wrapped


def api_handler(handler: Handler) -> Callable[[web.Request], Awaitable[web.StreamResponse]]:
    """Fragments and JSON: 401 without a session (the script then goes to the login form)."""

    async def wrapped(request: web.Request) -> web.StreamResponse:
        operator = await operator_of(request)
        if operator is None:
            return secure_headers(web.json_response({"error": "login required"}, status=401))
        return secure_headers(await handler(request, operator))

    return wrapped


def action_handler(handler: Handler) -> Callable[[web.Request], Awaitable[web.StreamResponse]]:
    """POST actions: a session, the session's CSRF token (form field or header) and a same-origin request."""

    async def wrapped(request: web.Request) -> web.StreamResponse:
        operator = await operator_of(request)
        if operator is None:
            return secure_headers(web.json_response({"ok": False, "message": "login required"}, status=401))
        form = await request.post()
        given = request.headers.get(CSRF_HEADER) or form_field(form, CSRF_FIELD)
        if not same_origin(request) or given is None or not secret_equals(given, operator.csrf):
            log.warning(
                "dashboard action refused: bad CSRF token", path=request.path, client=client_ip(request)
            )
            return secure_headers(
                web.json_response({"ok": False, "message": "invalid CSRF token"}, status=403)
            )
        return secure_headers(await handler(request, operator))

    return wrapped
