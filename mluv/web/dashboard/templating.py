"""The dashboard's Jinja2 environment (aiohttp-jinja2), with autoescaping for every .html template.

Templates live in templates/: base.html (the page around everything), page.html, login.html, macros.html
(badges, tables, action forms with the CSRF field, relative times, bars) and sections/*.html. Views pass
plain data; the filters below turn values into text, which the templates then escape.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

import aiohttp_jinja2
import jinja2
from aiohttp import web
from markupsafe import Markup

from mluv.web.auth import CSRF_FIELD

TEMPLATES_KEY = web.AppKey("dashboard_templates", jinja2.Environment)

STATUS_KIND = {
    "succeeded": "ok",
    "completed": "ok",
    "success": "ok",
    "sent": "ok",
    "running": "info",
    "confirmed": "info",
    "queued": "info",
    "deferred": "muted",
    "failed": "bad",
    "failure": "bad",
    "open": "bad",
    "cancelled": "muted",
    "discarded": "muted",
    "retried": "info",
    "draft": "muted",
}


def now_utc() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def fmt_duration(seconds: float | None) -> str:
    if seconds is None:
        return "—"
    seconds = max(seconds, 0.0)
    if seconds < 0.001:
        return f"{seconds * 1_000_000:.0f} µs"
    if seconds < 1:
        return f"{seconds * 1000:.0f} ms"
    if seconds < 60:
        return f"{seconds:.1f} s"
    if seconds < 3600:
        minutes, rest = divmod(int(seconds), 60)
        return f"{minutes} min {rest} s" if rest else f"{minutes} min"
    if seconds < 86400 * 2:
        hours, rest = divmod(int(seconds), 3600)
        return f"{hours} h {rest // 60} min" if rest // 60 else f"{hours} h"
    return f"{seconds / 86400:.0f} d"


def fmt_relative(moment: dt.datetime, now: dt.datetime | None = None) -> str:
    """ "12 s ago", "in 3 min", "just now"."""
    delta = ((now or now_utc()) - moment).total_seconds()
    if abs(delta) < 1:
        return "just now"
    return f"{fmt_duration(delta)} ago" if delta > 0 else f"in {fmt_duration(-delta)}"


def fmt_utc(moment: dt.datetime) -> str:
    return moment.astimezone(dt.UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def from_unix(ts: float | None) -> dt.datetime | None:
    return dt.datetime.fromtimestamp(ts, dt.UTC) if ts else None


def shorten(text: object, limit: int = 0) -> str:
    value = "" if text is None else str(text)
    return value if not limit or len(value) <= limit else value[: limit - 1] + "…"


FILTERS: dict[str, Callable[..., Any]] = {
    "duration": fmt_duration,
    "relative": fmt_relative,
    "utc": fmt_utc,
    "from_unix": from_unix,
    "shorten": shorten,
    "status_kind": lambda status: STATUS_KIND.get(str(status), "muted"),
}


def setup_templates(app: web.Application) -> jinja2.Environment:
    env = aiohttp_jinja2.setup(
        app,
        app_key=TEMPLATES_KEY,
        loader=jinja2.PackageLoader("mluv.web.dashboard", "templates"),
        # Every .html template escapes what it prints; nothing in the dashboard marks job data safe.
        autoescape=jinja2.select_autoescape(["html"], default_for_string=True, default=True),
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        default_helpers=False,
    )
    env.filters.update(FILTERS)
    env.globals["csrf_field"] = CSRF_FIELD
    return env


def render(request: web.Request, template: str, context: dict[str, Any]) -> Markup:
    """A template's HTML, marked safe for the page around it (it was escaped when it was rendered)."""
    return Markup(aiohttp_jinja2.render_string(template, request, context, app_key=TEMPLATES_KEY))  # noqa: S704


def render_page(
    request: web.Request, template: str, context: dict[str, Any], *, status: int = 200
) -> web.Response:
    return aiohttp_jinja2.render_template(template, request, context, status=status, app_key=TEMPLATES_KEY)
