"""The analytics page against real PostgreSQL: each aggregation's figures over 7/30/90 days, and the page."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from sqlalchemy import text

from mluv.db.models import DailyStats, Delivery, Message, PlatformMetrics, Streak, User
from mluv.resources import Resources
from mluv.settings import Settings
from mluv.web.app import create_app
from mluv.web.dashboard.pages.analytics import parse_days
from mluv.web.dashboard.pages.analytics_charts import Series, bar_chart
from mluv.web.sources.analytics import QUERIES, Leader, Learners, Window, load_analytics, streak_bucket
from tests.web.conftest import Client, log_in

pytestmark = pytest.mark.integration

NOW = dt.datetime.now(dt.UTC)
TODAY = NOW.date()
HOSTILE = "<b>Bob</b><script>alert(1)</script>"


def at(days_ago: int, hour: int = 12) -> dt.datetime:
    """A moment on the UTC day `days_ago` days before today (days are what the figures group by)."""
    return dt.datetime.combine(TODAY - dt.timedelta(days=days_ago), dt.time(hour), tzinfo=dt.UTC)


def day(days_ago: int) -> dt.date:
    return TODAY - dt.timedelta(days=days_ago)


async def seed(session_factory: Any) -> None:
    hour_ago, three_days_ago = NOW - dt.timedelta(hours=1), NOW - dt.timedelta(days=3)
    async with session_factory.begin() as session:
        session.add_all(
            [
                User(id=1, first_name="Ana", created_at=at(0), last_active_at=hour_ago),
                User(id=2, first_name=HOSTILE, created_at=at(3), last_active_at=three_days_ago),
                User(
                    id=3,
                    first_name="Cyril",
                    created_at=at(10),
                    last_active_at=NOW - dt.timedelta(days=30),
                    is_active=False,
                    is_blocked=True,
                ),
                User(id=4, first_name="Dana", created_at=at(40), last_active_at=NOW - dt.timedelta(days=50)),
                User(id=5, first_name="Emil", created_at=at(100), last_active_at=NOW - dt.timedelta(days=99)),
            ]
        )
        await session.flush()
        for correctness in (100, 90, 50, None):
            session.add(
                Message(user_id=1, text="Ahoj", word_count=10, correctness=correctness, created_at=at(0))
            )
        session.add(Message(user_id=2, text="Ahoj", word_count=50, correctness=100, created_at=at(3)))
        session.add(Message(user_id=1, text="Ahoj", word_count=10, correctness=70, created_at=at(10)))
        for user_id, days_ago, messages, words in (
            (1, 0, 3, 30),
            (2, 0, 1, 5),
            (2, 3, 2, 20),
            (1, 10, 4, 40),
        ):
            session.add(
                DailyStats(user_id=user_id, date=day(days_ago), messages_count=messages, words_count=words)
            )
        for user_id, current in ((1, 0), (2, 1), (3, 5), (4, 8), (5, 150)):
            session.add(Streak(user_id=user_id, current=current, longest=current))
        deliveries = [
            ("reminder", 0, "sent"),
            ("reminder", 0, "sent"),
            ("reminder", 0, "blocked"),
            ("reminder", 3, "failed"),
            ("feedback", 10, "sent"),
            ("feedback", 40, "sent"),
        ]
        for n, (kind, days_ago, status) in enumerate(deliveries):
            session.add(
                Delivery(
                    kind=kind, recipient_id=n, business_key=f"k{n}", status=status, created_at=at(days_ago)
                )
            )
        for captured_at, total in ((at(2), 3), (at(0, 8), 4), (at(0, 20), 5), (at(20), 2)):
            session.add(
                PlatformMetrics(
                    captured_at=captured_at, total_users=total, active_users_1d=1, active_users_7d=2
                )
            )
    async with session_factory.begin() as session:
        await session.execute(text("REFRESH MATERIALIZED VIEW weekly_leaderboard"))


def by_offset(figures: dict[dt.date, Any]) -> dict[int, Any]:
    """Date keys as days before today, so the table below does not depend on the date it runs."""
    return {(TODAY - key).days: value for key, value in figures.items()}


def snapshot_totals(rows: list[Any]) -> list[tuple[int, int]]:
    return [((TODAY - row.captured_at.date()).days, row.total) for row in rows]


def deliveries_by_offset(
    kinds: dict[str, dict[dt.date, dict[str, int]]],
) -> dict[str, dict[int, dict[str, int]]]:
    return {kind: by_offset(days) for kind, days in kinds.items()}


IDENTITY = lambda value: value  # noqa: E731

CASES = [
    ("learners", 7, IDENTITY, Learners(total=5, active_1d=1, active_7d=2, new=2, blocked=1)),
    ("learners", 30, IDENTITY, Learners(total=5, active_1d=1, active_7d=2, new=3, blocked=1)),
    ("learners", 90, IDENTITY, Learners(total=5, active_1d=1, active_7d=2, new=4, blocked=1)),
    ("new_per_day", 7, by_offset, {0: 1, 3: 1}),
    ("new_per_day", 90, by_offset, {0: 1, 3: 1, 10: 1, 40: 1}),
    (
        "activity_per_day",
        7,
        lambda d: {k: (v.learners, v.messages, v.words) for k, v in by_offset(d).items()},
        {0: (2, 4, 35), 3: (1, 2, 20)},
    ),
    (
        "activity_per_day",
        30,
        lambda d: {k: (v.learners, v.messages, v.words) for k, v in by_offset(d).items()},
        {0: (2, 4, 35), 3: (1, 2, 20), 10: (1, 4, 40)},
    ),
    (
        "reviews_per_day",
        7,
        by_offset,
        {0: {"clean": 1, "minor": 1, "major": 1, "pending": 1}, 3: {"clean": 1}},
    ),
    (
        "reviews_per_day",
        30,
        by_offset,
        {0: {"clean": 1, "minor": 1, "major": 1, "pending": 1}, 3: {"clean": 1}, 10: {"major": 1}},
    ),
    # none, 1 day, 2-6, 7-13, 14-29, 30-99, 100+: the window does not apply to current streaks.
    ("streak_distribution", 7, IDENTITY, [1, 1, 1, 1, 0, 0, 1]),
    # The weekly board (active learners, last 7 days), most words first.
    ("leaderboard", 90, IDENTITY, [Leader(1, HOSTILE, 50, 1), Leader(2, "Ana", 40, 4)]),
    (
        "deliveries_per_day",
        7,
        deliveries_by_offset,
        {"reminder": {0: {"sent": 2, "blocked": 1}, 3: {"failed": 1}}},
    ),
    (
        "deliveries_per_day",
        90,
        deliveries_by_offset,
        {
            "reminder": {0: {"sent": 2, "blocked": 1}, 3: {"failed": 1}},
            "feedback": {10: {"sent": 1}, 40: {"sent": 1}},
        },
    ),
    # The day's last snapshot, oldest day first.
    ("snapshots", 7, snapshot_totals, [(2, 3), (0, 5)]),
    ("snapshots", 30, snapshot_totals, [(20, 2), (2, 3), (0, 5)]),
]


@pytest.mark.parametrize(("query", "days", "view", "expected"), CASES, ids=[f"{c[0]}-{c[1]}d" for c in CASES])
async def test_each_aggregation(
    session_factory: Any, clean_tables: None, query: str, days: int, view: Any, expected: Any
) -> None:
    await seed(session_factory)
    async with session_factory() as session:
        figures = await QUERIES[query](session, Window.ending(NOW, days), NOW)
    assert view(figures) == expected


async def test_an_empty_database_gives_zeros_not_errors(session_factory: Any, clean_tables: None) -> None:
    analytics = await load_analytics(session_factory, Window.ending(NOW, 30), NOW)
    assert analytics.learners == Learners(0, 0, 0, 0, 0)
    assert analytics.activity_per_day == {} and analytics.deliveries_per_day == {}
    assert analytics.streak_distribution == [0] * 7 and analytics.leaderboard == []


@pytest.mark.parametrize(
    ("current", "bucket"),
    [(0, 0), (1, 1), (2, 2), (6, 2), (7, 3), (13, 3), (14, 4), (30, 5), (99, 5), (100, 6)],
)
def test_streak_buckets(current: int, bucket: int) -> None:
    assert streak_bucket(current) == bucket


@pytest.mark.parametrize(
    ("raw", "days"),
    [(None, 30), ("7", 7), ("30", 30), ("90", 90), ("365", 30), ("-7", 30), ("x", 30), ("", 30)],
)
def test_window_choice(raw: str | None, days: int) -> None:
    assert parse_days(raw) == days


def test_window_bounds() -> None:
    window = Window(7, dt.date(2025, 3, 10))
    assert window.first == dt.date(2025, 3, 4)
    assert window.start == dt.datetime(2025, 3, 4, tzinfo=dt.UTC)
    assert window.end == dt.datetime(2025, 3, 11, tzinfo=dt.UTC)
    assert len(window.dates()) == 7


def test_stacked_bars_scale_to_the_tallest_and_carry_their_values() -> None:
    series = [Series("a", "sent", "k-green"), Series("b", "failed", "k-red")]
    chart = bar_chart("c", "Chart", ["d1", "d2"], series, [{"a": 3, "b": 1}, {"a": 2}])
    assert chart.peak == 4 and chart.totals == [5, 1]
    assert [(m.colour, m.height, m.title) for m in chart.marks] == [
        ("k-green", 120.0, "d1: 3 sent"),
        ("k-red", 40.0, "d1: 1 failed"),
        ("k-green", 80.0, "d2: 2 sent"),
    ]
    # Stacked: the second series sits on the first.
    assert chart.marks[1].y + chart.marks[1].height == chart.marks[0].y
    assert chart.table == [("d1", [("sent", 3), ("failed", 1)]), ("d2", [("sent", 2), ("failed", 0)])]


async def test_the_page_shows_figures_charts_and_escapes_names(client: Client, session_factory: Any) -> None:
    await seed(session_factory)
    denied = await client.get("/dashboard/analytics?days=7", allow_redirects=False)
    assert denied.status == 302
    assert denied.headers["Location"] == "/dashboard/login?next=%2Fdashboard%2Fanalytics%3Fdays%3D7"
    await log_in(client)
    response = await client.get("/dashboard/analytics?days=7")
    body = await response.text()
    assert response.status == 200
    assert response.headers["Content-Security-Policy"].startswith("default-src 'none'")
    assert "<script>alert" not in body and "<b>Bob" not in body
    assert "&lt;b&gt;Bob&lt;/b&gt;&lt;script&gt;" in body
    assert 'href="/dashboard/analytics?days=7" aria-current="true"' in body
    assert 'data-tile="learners">5<' in body and 'data-tile="new">2<' in body
    assert 'data-tile="messages">6<' in body and 'data-tile="reviewed">80%<' in body
    for chart in ("active-learners", "messages", "words", "reviews", "streaks", "deliveries-reminder"):
        assert f'data-chart="{chart}"' in body, chart
    assert "deliveries-feedback" not in body  # its rows are older than 7 days
    assert f"<title>{day(0).isoformat()}: 2 sent</title>" in body
    assert " style=" not in body and "<script>" not in body.split("</head>")[1]
    wide = await (await client.get("/dashboard/analytics?days=90")).text()
    assert 'data-chart="deliveries-feedback"' in wide and 'data-tile="new">4<' in wide
    overview = await (await client.get("/dashboard")).text()
    assert 'href="/dashboard/analytics"' in overview


async def test_a_database_outage_shows_an_error_not_a_broken_page(web_settings: Settings, redis: Any) -> None:
    from aiohttp.test_utils import TestClient, TestServer

    broken = web_settings.model_copy(update={"database_url": "postgresql+asyncpg://nobody@127.0.0.1:9/none"})
    resources = await Resources.create(broken)
    try:
        async with TestClient(TestServer(create_app(resources))) as client:
            await log_in(client)
            response = await client.get("/dashboard/analytics")
            assert response.status == 200
            assert "Could not read the analytics" in await response.text()
    finally:
        await resources.close()


def test_the_deliveries_query_counts_every_status_the_ledger_allows() -> None:
    from mluv.db.models import DELIVERY_STATUSES
    from mluv.web.sources.analytics import _DELIVERIES_PER_DAY

    for status in DELIVERY_STATUSES:
        assert f"WHERE status = '{status}') AS {status}" in _DELIVERIES_PER_DAY.text, status
