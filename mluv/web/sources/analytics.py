"""The analytics page's figures over a window of days, each from one server-side query (GROUP BY in SQL).

Sources, all filled by the bot and the jobs: `users` (learners, new ones by created_at), `daily_stats`
(the nightly per-learner rows: active learners, messages and words per *local* day), `messages` (reviews
by outcome per UTC day), `streaks` (current runs), `weekly_leaderboard` (the hourly view /top reads),
`deliveries` (the ledger: kind and status per UTC day of created_at) and `platform_metrics` (the 30-minute
snapshots: the last of each UTC day). bench/analytics.py times every query on 100,000 learners.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from mluv.db.leaderboard import weekly_board
from mluv.db.models import DELIVERY_STATUSES

WINDOWS = (7, 30, 90)
DEFAULT_WINDOW = 30
LEADERBOARD_SIZE = 10

# A review's outcome from its correctness (0-100): 100 means no word was corrected (mluv.domain.review).
REVIEW_OUTCOMES = ("clean", "minor", "major", "pending")
REVIEW_LABELS = {
    "clean": "no corrections",
    "minor": "corrected, 80–99 % right",
    "major": "corrected, under 80 % right",
    "pending": "not reviewed",
}
# Current streak lengths in days: (lowest, highest or None, label).
STREAK_BUCKETS: tuple[tuple[int, int | None, str], ...] = (
    (0, 0, "none"),
    (1, 1, "1 day"),
    (2, 6, "2–6"),
    (7, 13, "7–13"),
    (14, 29, "14–29"),
    (30, 99, "30–99"),
    (100, None, "100+"),
)


@dataclass(frozen=True)
class Window:
    """The last `days` UTC days up to and including `today`."""

    days: int
    today: dt.date

    @classmethod
    def ending(cls, now: dt.datetime, days: int) -> Window:
        return cls(days, now.astimezone(dt.UTC).date())

    @property
    def first(self) -> dt.date:
        return self.today - dt.timedelta(days=self.days - 1)

    @property
    def start(self) -> dt.datetime:
        return dt.datetime.combine(self.first, dt.time.min, tzinfo=dt.UTC)

    @property
    def end(self) -> dt.datetime:
        return dt.datetime.combine(self.today + dt.timedelta(days=1), dt.time.min, tzinfo=dt.UTC)

    def dates(self) -> list[dt.date]:
        return [self.first + dt.timedelta(days=n) for n in range(self.days)]

    def bounds(self) -> dict[str, Any]:
        return {"first": self.first, "last": self.today, "start": self.start, "end": self.end}


@dataclass(frozen=True)
class Learners:
    """Definitions as platform_metrics' (mluv.db.analytics.collect_platform_metrics)."""

    total: int
    active_1d: int  # reachable learners whose last practice is within 24 h
    active_7d: int
    new: int  # registered within the window
    blocked: int


@dataclass(frozen=True)
class DayActivity:
    learners: int  # learners with a daily_stats row that day (at least one message)
    messages: int
    words: int


@dataclass(frozen=True)
class Leader:
    rank: int
    first_name: str | None
    words: int
    messages: int


@dataclass(frozen=True)
class Snapshot:
    captured_at: dt.datetime
    total: int
    active_1d: int
    active_7d: int


_LEARNERS = text("""
SELECT count(*) AS total,
       count(*) FILTER (WHERE is_active AND last_active_at >= :day_ago) AS active_1d,
       count(*) FILTER (WHERE is_active AND last_active_at >= :week_ago) AS active_7d,
       count(*) FILTER (WHERE created_at >= :start AND created_at < :end) AS new,
       count(*) FILTER (WHERE is_blocked) AS blocked
FROM users
""")

_NEW_PER_DAY = text("""
SELECT (created_at AT TIME ZONE 'UTC')::date AS day, count(*) AS learners
FROM users WHERE created_at >= :start AND created_at < :end
GROUP BY day
""")

_ACTIVITY_PER_DAY = text("""
SELECT date, count(*) AS learners, sum(messages_count) AS messages, sum(words_count) AS words
FROM daily_stats WHERE date BETWEEN :first AND :last
GROUP BY date
""")

# One group per day with a count per outcome: about twice as fast as grouping by (day, outcome) too.
_REVIEWS_PER_DAY = text("""
SELECT (created_at AT TIME ZONE 'UTC')::date AS day,
       count(*) FILTER (WHERE correctness = 100) AS clean,
       count(*) FILTER (WHERE correctness >= 80 AND correctness < 100) AS minor,
       count(*) FILTER (WHERE correctness < 80) AS major,
       count(*) FILTER (WHERE correctness IS NULL) AS pending
FROM messages WHERE created_at >= :start AND created_at < :end
GROUP BY day
""")

# A count per status (the CHECK constraint's list, DELIVERY_STATUSES) in one group per (day, kind).
_DELIVERIES_PER_DAY = text("""
SELECT (created_at AT TIME ZONE 'UTC')::date AS day, kind,
       count(*) FILTER (WHERE status = 'pending') AS pending,
       count(*) FILTER (WHERE status = 'sending') AS sending,
       count(*) FILTER (WHERE status = 'sent') AS sent,
       count(*) FILTER (WHERE status = 'blocked') AS blocked,
       count(*) FILTER (WHERE status = 'failed') AS failed,
       count(*) FILTER (WHERE status = 'unknown') AS unknown,
       count(*) FILTER (WHERE status = 'cancelled') AS cancelled
FROM deliveries WHERE created_at >= :start AND created_at < :end
GROUP BY day, kind
""")

_SNAPSHOTS = text("""
SELECT DISTINCT ON ((captured_at AT TIME ZONE 'UTC')::date)
       captured_at, total_users, active_users_1d, active_users_7d
FROM platform_metrics WHERE captured_at >= :start AND captured_at < :end
ORDER BY (captured_at AT TIME ZONE 'UTC')::date, captured_at DESC, id DESC
""")


_STREAKS = text("SELECT current, count(*) AS learners FROM streaks GROUP BY current")


def streak_bucket(current: int) -> int:
    """The index in STREAK_BUCKETS of a streak of `current` days."""
    for index, (low, high, _) in enumerate(STREAK_BUCKETS):
        if current >= low and (high is None or current <= high):
            return index
    return 0


async def learners(session: AsyncSession, window: Window, now: dt.datetime) -> Learners:
    params = {"day_ago": now - dt.timedelta(days=1), "week_ago": now - dt.timedelta(days=7)}
    row = (await session.execute(_LEARNERS, {**window.bounds(), **params})).one()
    return Learners(int(row.total), int(row.active_1d), int(row.active_7d), int(row.new), int(row.blocked))


async def new_per_day(session: AsyncSession, window: Window, now: dt.datetime) -> dict[dt.date, int]:
    rows = await session.execute(_NEW_PER_DAY, window.bounds())
    return {row.day: int(row.learners) for row in rows}


async def activity_per_day(
    session: AsyncSession, window: Window, now: dt.datetime
) -> dict[dt.date, DayActivity]:
    rows = await session.execute(_ACTIVITY_PER_DAY, window.bounds())
    return {row.date: DayActivity(int(row.learners), int(row.messages), int(row.words)) for row in rows}


async def reviews_per_day(
    session: AsyncSession, window: Window, now: dt.datetime
) -> dict[dt.date, dict[str, int]]:
    rows = (await session.execute(_REVIEWS_PER_DAY, window.bounds())).mappings()
    return {row["day"]: {k: int(row[k]) for k in REVIEW_OUTCOMES if row[k]} for row in rows}


async def streak_distribution(session: AsyncSession, window: Window, now: dt.datetime) -> list[int]:
    """Learners per STREAK_BUCKETS entry (a learner without a streaks row has never practised)."""
    counts = [0] * len(STREAK_BUCKETS)
    # Grouped by length in SQL (a few hundred distinct lengths at most), bucketed here.
    for row in await session.execute(_STREAKS):
        counts[streak_bucket(int(row.current))] += int(row.learners)
    return counts


async def leaderboard(session: AsyncSession, window: Window, now: dt.datetime) -> list[Leader]:
    """The first places of the weekly board, as /top shows them (always the last 7 days)."""
    board = await weekly_board(session, 0, size=LEADERBOARD_SIZE)
    return [Leader(p.rank, p.first_name, p.words, p.messages) for p in board.top]


async def deliveries_per_day(
    session: AsyncSession, window: Window, now: dt.datetime
) -> dict[str, dict[dt.date, dict[str, int]]]:
    """Per kind, per UTC day of creation, deliveries by status."""
    kinds: dict[str, dict[dt.date, dict[str, int]]] = {}
    for row in (await session.execute(_DELIVERIES_PER_DAY, window.bounds())).mappings():
        counts = {str(status): int(row[status]) for status in DELIVERY_STATUSES if row[status]}
        kinds.setdefault(row["kind"], {})[row["day"]] = counts
    return kinds


async def snapshots(session: AsyncSession, window: Window, now: dt.datetime) -> list[Snapshot]:
    """The last platform_metrics snapshot of each UTC day in the window."""
    rows = await session.execute(_SNAPSHOTS, window.bounds())
    return [
        Snapshot(r.captured_at, int(r.total_users), int(r.active_users_1d), int(r.active_users_7d))
        for r in rows
    ]


Query = Callable[[AsyncSession, Window, dt.datetime], Awaitable[Any]]

# Every query the page runs, by name (the benchmark times each).
QUERIES: dict[str, Query] = {
    "learners": learners,
    "new_per_day": new_per_day,
    "activity_per_day": activity_per_day,
    "reviews_per_day": reviews_per_day,
    "streak_distribution": streak_distribution,
    "leaderboard": leaderboard,
    "deliveries_per_day": deliveries_per_day,
    "snapshots": snapshots,
}


@dataclass(frozen=True)
class Analytics:
    window: Window
    learners: Learners
    new_per_day: dict[dt.date, int]
    activity_per_day: dict[dt.date, DayActivity]
    reviews_per_day: dict[dt.date, dict[str, int]]
    streak_distribution: list[int]
    leaderboard: list[Leader]
    deliveries_per_day: dict[str, dict[dt.date, dict[str, int]]]
    snapshots: list[Snapshot]


async def load_analytics(
    session_factory: async_sessionmaker[AsyncSession], window: Window, now: dt.datetime
) -> Analytics:
    """Every figure of the page, read in one read-only transaction (one consistent view)."""
    async with session_factory() as session, session.begin():
        await session.execute(text("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ READ ONLY"))
        figures = {name: await query(session, window, now) for name, query in QUERIES.items()}
    return Analytics(window=window, **figures)
