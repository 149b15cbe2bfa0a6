"""Logging in and out of a protected dashboard: the login form, its check, the session cookie.

The form carries a double-submit CSRF token (there is no session yet to hold one); failed attempts are
throttled per client (mluv.web.auth.LoginThrottle). In open mode there is nothing to log in to.
"""

from __future__ import annotations

import secrets

from aiohttp import web

from mluv.logs import get_logger
from mluv.web.auth import (
    COOKIE_PATH,
    CSRF_FIELD,
    LOGIN_CSRF_COOKIE,
    SESSION_COOKIE,
    SESSION_SECONDS,
    Access,
    check_credentials_off_loop,
    client_ip,
    is_https,
    same_origin,
    secret_equals,
)
from mluv.web.dashboard.guards import form_field, operator_of, redirect, safe_next, secure_headers
from mluv.web.dashboard.state import Operator, dashboard_state
from mluv.web.dashboard.templating import render_page

log = get_logger(__name__)


def _login_response(
    request: web.Request, *, next_path: str | None, error: str | None = None, status: int = 200
) -> web.StreamResponse:
    state = dashboard_state(request)
    token = secrets.token_urlsafe(32)
    context = {
        "csrf": token,
        "error": error,
        "next_path": safe_next(next_path),
        "static_version": state.static_version,
    }
    response = render_page(request, "login.html", context, status=status)
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
    return secure_headers(response)


async def login_form(request: web.Request) -> web.StreamResponse:
    if dashboard_state(request).access is Access.OPEN or await operator_of(request) is not None:
        return secure_headers(redirect(safe_next(request.query.get("next"))))
    return _login_response(request, next_path=request.query.get("next"))


async def login_submit(request: web.Request) -> web.StreamResponse:
    state = dashboard_state(request)
    if state.access is Access.OPEN:
        return secure_headers(redirect("/dashboard", 303))
    ip = client_ip(request)
    form = await request.post()
    next_path = form_field(form, "next")
    cookie_token = request.cookies.get(LOGIN_CSRF_COOKIE)
    form_token = form_field(form, CSRF_FIELD)
    if (
        not same_origin(request)
        or not cookie_token
        or not form_token
        or not secret_equals(cookie_token, form_token)
    ):
        return _login_response(
            request, next_path=next_path, error="The form expired. Please try again.", status=403
        )
    # Counted before the check, atomically: parallel guesses cannot all pass a "not yet over" test.
    wait = await state.throttle.attempt(ip)
    if wait is not None:
        log.warning("dashboard login throttled", client=ip)
        error = f"Too many failed attempts. Try again in {wait // 60 + 1} min."
        response = _login_response(request, next_path=next_path, error=error, status=429)
        response.headers["Retry-After"] = str(wait)
        return response
    given = form_field(form, "token") or ""
    if not given or not await check_credentials_off_loop(state.resources.settings, given):
        log.warning("dashboard login failed", client=ip)
        return _login_response(request, next_path=next_path, error="Wrong token or password.", status=401)
    await state.throttle.succeeded(ip)
    session = await state.sessions.create()
    log.info("dashboard login", client=ip)
    response = redirect(safe_next(next_path), 303)
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
    return secure_headers(response)


async def logout(request: web.Request, operator: Operator) -> web.StreamResponse:
    if operator.session is not None:
        await dashboard_state(request).sessions.delete(operator.session.session_id)
    response = redirect("/dashboard/login", 303)
    response.del_cookie(SESSION_COOKIE, path=COOKIE_PATH)
    return response
