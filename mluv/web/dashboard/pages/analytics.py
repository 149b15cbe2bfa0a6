"""The analytics page (`/dashboard/analytics?days=7|30|90`): learners, messages and words, reviews by
outcome, streaks, the leaderboard and deliveries, as figures and charts over the chosen window.

The figures come from mluv.web.sources.analytics (one SQL query each); this module turns them into plain
data for templates/analytics.html. The page is read-only and not live: a reload reads the tables again.
"""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from aiohttp import web
from sqlalchemy.exc import SQLAlchemyError

from mluv.logs import get_logger
from mluv.web.auth import Access
from mluv.web.dashboard.guards import Handler
from mluv.web.dashboard.loader import SOURCE_TIMEOUT
from mluv.web.dashboard.pages.analytics_charts import Chart, Series, bar_chart, line_chart
from mluv.web.dashboard.state import Operator, dashboard_state
from mluv.web.dashboard.templating import render_page
from mluv.web.sources.analytics import (
    DEFAULT_WINDOW,
    REVIEW_LABELS,
    REVIEW_OUTCOMES,
    STREAK_BUCKETS,
    WINDOWS,
    Analytics,
    Window,
    load_analytics,
)

log = get_logger(__name__)

NavItem = tuple[str, str, str]

REVIEW_COLOURS = {"clean": "k-green", "minor": "k-amber", "major": "k-red", "pending": "k-grey"}
# Ledger statuses (mluv.db.models.DeliveryStatus), drawn bottom-up in this order.
DELIVERY_SERIES = (
    Series("sent", "sent", "k-green"),
    Series("blocked", "blocked", "k-amber"),
    Series("failed", "failed", "k-red"),
    Series("unknown", "unknown", "k-purple"),
    Series("cancelled", "cancelled", "k-grey"),
    Series("pending", "pending", "k-blue"),
    Series("sending", "sending", "k-accent"),
)


@dataclass(frozen=True)
class Tile:
    label: str
    value: str
    note: str


@dataclass(frozen=True)
class KindTotals:
    kind: str
    chart: Chart
    total: int


def parse_days(raw: str | None) -> int:
    """?days= among WINDOWS; anything else is the default window."""
    return int(raw) if raw is not None and raw.isdigit() and int(raw) in WINDOWS else DEFAULT_WINDOW


def _percent(part: int, whole: int) -> str:
    return f"{100 * part / whole:.0f}%" if whole else "—"


def tiles(a: Analytics) -> list[Tile]:
    learners = a.learners
    messages = sum(day.messages for day in a.activity_per_day.values())
    words = sum(day.words for day in a.activity_per_day.values())
    reviewed = sum(
        n for outcomes in a.reviews_per_day.values() for k, n in outcomes.items() if k != "pending"
    )
    written = sum(n for outcomes in a.reviews_per_day.values() for n in outcomes.values())
    days = f"last {a.window.days} days"
    return [
        Tile("Learners", f"{learners.total:,}", f"{learners.blocked:,} blocked the bot"),
        Tile("Active today", f"{learners.active_1d:,}", "wrote in the last 24 h"),
        Tile("Active 7 days", f"{learners.active_7d:,}", "wrote in the last 7 × 24 h"),
        Tile("New", f"{learners.new:,}", days),
        Tile("Messages", f"{messages:,}", days),
        Tile("Words", f"{words:,}", days),
        Tile("Reviewed", _percent(reviewed, written), f"of {written:,} messages"),
    ]


def _day_labels(dates: Sequence[dt.date]) -> list[str]:
    return [day.isoformat() for day in dates]


def learner_charts(a: Analytics) -> list[Chart]:
    dates = a.window.dates()
    labels = _day_labels(dates)
    active = bar_chart(
        "active-learners",
        "Active learners per day",
        labels,
        [Series("learners", "learners who wrote", "k-accent")],
        [{"learners": a.activity_per_day[d].learners} if d in a.activity_per_day else {} for d in dates],
    )
    new = bar_chart(
        "new-learners",
        "New learners per day",
        labels,
        [Series("new", "new learners", "k-blue")],
        [{"new": a.new_per_day.get(d, 0)} for d in dates],
    )
    snapshot_series = [
        Series("total", "learners", "k-accent"),
        Series("active_7d", "active 7 days", "k-green"),
        Series("active_1d", "active today", "k-amber"),
    ]
    over_time = line_chart(
        "learners-over-time",
        "Learners over time (the day's last platform snapshot)",
        [s.captured_at.date().isoformat() for s in a.snapshots],
        snapshot_series,
        [{"total": s.total, "active_7d": s.active_7d, "active_1d": s.active_1d} for s in a.snapshots],
    )
    return [active, new, over_time]


def writing_charts(a: Analytics) -> list[Chart]:
    dates = a.window.dates()
    labels = _day_labels(dates)
    days = [a.activity_per_day.get(d) for d in dates]
    messages = bar_chart(
        "messages",
        "Messages per day",
        labels,
        [Series("messages", "messages", "k-accent")],
        [{"messages": day.messages} if day else {} for day in days],
    )
    words = bar_chart(
        "words",
        "Words per day",
        labels,
        [Series("words", "words", "k-green")],
        [{"words": day.words} if day else {} for day in days],
    )
    series = [Series(key, REVIEW_LABELS[key], REVIEW_COLOURS[key]) for key in REVIEW_OUTCOMES]
    reviews = bar_chart(
        "reviews",
        "Reviews by outcome per day",
        labels,
        series,
        [a.reviews_per_day.get(d, {}) for d in dates],
    )
    return [messages, words, reviews]


def streak_chart(a: Analytics) -> Chart:
    labels = [label for _, _, label in STREAK_BUCKETS]
    return bar_chart(
        "streaks",
        "Current streaks (days in a row)",
        labels,
        [Series("learners", "learners", "k-accent")],
        [{"learners": count} for count in a.streak_distribution],
        categorical=True,
    )


def delivery_charts(a: Analytics) -> list[KindTotals]:
    dates = a.window.dates()
    labels = _day_labels(dates)
    known = {s.key for s in DELIVERY_SERIES}
    kinds = []
    for kind in sorted(a.deliveries_per_day):
        per_day = a.deliveries_per_day[kind]
        statuses = {status for day in per_day.values() for status in day}
        extra = [Series(s, s, "k-grey") for s in sorted(statuses - known)]
        series = [s for s in DELIVERY_SERIES if s.key in statuses] + extra
        chart = bar_chart(f"deliveries-{kind}", kind, labels, series, [per_day.get(d, {}) for d in dates])
        kinds.append(KindTotals(kind, chart, sum(chart.totals)))
    return kinds


def analytics_context(a: Analytics) -> dict[str, Any]:
    return {
        "window": a.window,
        "tiles": tiles(a),
        "learner_charts": learner_charts(a),
        "writing_charts": writing_charts(a),
        "streaks": streak_chart(a),
        "leaders": a.leaderboard,
        "deliveries": delivery_charts(a),
    }


def analytics_page(nav: Sequence[NavItem]) -> Handler:
    """The page's handler; `nav` is the dashboard's navigation (mluv.web.dashboard.sections.NAV)."""

    async def handler(request: web.Request, operator: Operator) -> web.StreamResponse:
        state = dashboard_state(request)
        now = dt.datetime.now(dt.UTC)
        window = Window.ending(now, parse_days(request.query.get("days")))
        context: dict[str, Any] = {"error": None}
        try:
            async with asyncio.timeout(SOURCE_TIMEOUT):
                context.update(
                    analytics_context(await load_analytics(state.resources.session_factory, window, now))
                )
        except (SQLAlchemyError, OSError, TimeoutError) as error:
            log.warning("analytics failed", error=f"{type(error).__name__}: {error}")
            context["error"] = type(error).__name__
        context.update(
            page="analytics",
            title="Analytics",
            nav=nav,
            windows=WINDOWS,
            days=window.days,
            first=window.first,
            today=window.today,
            csrf=operator.csrf,
            open_mode=state.access is Access.OPEN,
            static_version=state.static_version,
            logout=operator.session is not None,
        )
        return render_page(request, "analytics.html", context)

    return handler
