"""The dashboard's state in the aiohttp application, and the operator a request comes from."""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field

from aiohttp import web

from mluv.resources import Resources
from mluv.web.auth import Access, LoginThrottle, Session, SessionStore


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


def dashboard_state(request: web.Request) -> DashboardState:
    return request.app[STATE_KEY]


@dataclass(frozen=True)
class Operator:
    """An authenticated (or, in open mode, local) request."""

    csrf: str
    session: Session | None
