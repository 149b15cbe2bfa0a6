"""The dashboard's sections by name, the pages that group them, and the GET handlers that render them.

A page renders its sections in one response; `/dashboard/fragments?names=...` re-renders some of them for
the page's script, from the same templates. A section whose source fails (PostgreSQL down) shows an error
in place of its content.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from urllib.parse import urlsplit

from aiohttp import web
from markupsafe import Markup

from mluv.logs import get_logger
from mluv.web.auth import Access
from mluv.web.dashboard.guards import safe_next
from mluv.web.dashboard.loader import Loader, Section, View
from mluv.web.dashboard.pages import broadcasts, cron, failures, jobs, overview, stats
from mluv.web.dashboard.state import Operator, dashboard_state
from mluv.web.dashboard.templating import render, render_page

log = get_logger(__name__)

FRAGMENTS: dict[str, Callable[[Loader, View], Awaitable[Section]]] = {
    "summary": overview.summary,
    "queues": overview.queues,
    "workers": overview.workers,
    "running": jobs.running,
    "waiting": jobs.waiting,
    "results": jobs.results,
    "failures": failures.failures,
    "failures-brief": failures.failures_brief,
    "cron": cron.cron,
    "stats": stats.stats,
    "broadcasts": broadcasts.broadcasts,
    "broadcasts-in-flight": broadcasts.broadcasts_in_flight,
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

NAV = (
    ("overview", "/dashboard", "Overview"),
    ("jobs", "/dashboard/jobs", "Jobs"),
    ("failures", "/dashboard/failures", "Dead letters"),
    ("cron", "/dashboard/cron", "Cron"),
    ("stats", "/dashboard/stats", "Metrics"),
    ("workers", "/dashboard/workers", "Workers"),
    ("broadcasts", "/dashboard/broadcasts", "Broadcasts"),
    ("compose", "/dashboard/compose", "Compose"),
    ("analytics", "/dashboard/analytics", "Analytics"),
)


async def render_fragment(request: web.Request, name: str, loader: Loader, v: View) -> Markup:
    """One section; a failing source (PostgreSQL down) shows an error in its section, not a broken page."""
    try:
        section = await FRAGMENTS[name](loader, v)
    except Exception as error:
        log.warning("dashboard section failed", section=name, error=f"{type(error).__name__}: {error}")
        context = {"title": name.replace("-", " ").capitalize(), "error": type(error).__name__}
        return render(request, "sections/error.html", context)
    return render(request, section.template, section.context)


def _view(request: web.Request, operator: Operator) -> View:
    query = {k: v for k, v in request.query.items() if k in {"q", "status"}}
    return View(operator.csrf, query, request.path)


async def _page(request: web.Request, operator: Operator, name: str) -> web.StreamResponse:
    state = dashboard_state(request)
    title, names = PAGES[name]
    loader = Loader(state.resources)
    v = _view(request, operator)
    rendered = [(section, await render_fragment(request, section, loader, v)) for section in names]
    context = {
        "page": name,
        "title": title,
        "nav": NAV,
        "sections": rendered,
        "csrf": operator.csrf,
        "open_mode": state.access is Access.OPEN,
        "notice": request.query.get("notice"),
        "static_version": state.static_version,
        "logout": operator.session is not None,
    }
    return render_page(request, "page.html", context)


async def overview_page(request: web.Request, operator: Operator) -> web.StreamResponse:
    return await _page(request, operator, "overview")


async def named_page(request: web.Request, operator: Operator) -> web.StreamResponse:
    return await _page(request, operator, request.match_info["page"])


async def fragments(request: web.Request, operator: Operator) -> web.StreamResponse:
    names = [n for n in request.query.get("names", "").split(",") if n in FRAGMENTS][:10]
    loader = Loader(dashboard_state(request).resources)
    v = _view(request, operator)
    # ?path= names the page the sections sit on (search forms point back at it).
    page_path = safe_next(request.query.get("path"))
    v = View(v.csrf, v.query, urlsplit(page_path).path)
    rendered = {name: str(await render_fragment(request, name, loader, v)) for name in names}
    return web.json_response({"fragments": rendered})
