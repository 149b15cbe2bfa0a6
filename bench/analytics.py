"""The analytics page's queries on 100,000 learners and 1,000,000 messages: each one timed, per window.

    .venv/bin/python -m bench.analytics [--learners 100000 --messages 1000000 --deliveries 1000000]

Database: a database of its own, `mluv_bench_<hex>`, on the server of BENCH_DATABASE_URL (else
TEST_DATABASE_URL), migrated and dropped at the end (bench.aggregation.bench_database).

Data, generated in SQL with generate_series (seeded), relative to the time of the run (the weekly
leaderboard view reads now()):
- learners registered over the last 365 days, last active within 30 days, 12 timezones, 5 % blocked;
- messages spread evenly over the last 90 days and over the learners (10 each on average), word counts
  0 … 60, correctness: 10 % not reviewed, 30 % 100, the rest 0 … 99;
- daily_stats: what the nightly job writes for those messages, one row per learner and day with messages
  (grouped by UTC day here: the query reads the table, not how its dates were computed);
- streaks: one row per learner, current lengths skewed towards short ones;
- deliveries: as many as messages by default, seven kinds, mostly sent, some blocked / failed / unknown;
- platform_metrics: a snapshot every 30 minutes over the 90 days; the leaderboard view refreshed.

Measured: every query of mluv.web.sources.analytics (QUERIES) for the 7-, 30- and 90-day windows, each
the median of 3 runs on a warm cache, each in a session of its own; then the whole page's read
(load_analytics: every query in one read-only transaction) and the page's view building in Python.
Target: each query well under a second.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import functools
import os
import statistics
import time
from collections.abc import Awaitable, Callable
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker, create_async_engine

from bench.aggregation import ZONES, admin, bench_database
from bench.common import write_result
from mluv.db.session import create_session_factory
from mluv.logs import configure_logging
from mluv.web.dashboard.pages.analytics import analytics_context
from mluv.web.sources.analytics import QUERIES, WINDOWS, Window, load_analytics

RUNS = 3
TARGET_SECONDS = 1.0
KINDS = ("feedback", "reminder", "challenge", "milestone", "weekly_report", "broadcast", "message")


async def generate(url: str, learners: int, messages: int, deliveries: int) -> dict[str, int]:
    zones = ", ".join(f"'{zone}'" for zone in ZONES)
    kinds = ", ".join(f"'{kind}'" for kind in KINDS)
    await admin(
        url,
        "SELECT setseed(0.42)",
        f"""INSERT INTO users (id, first_name, timezone, language, created_at, last_active_at, is_active,
                               is_blocked)
            SELECT 1000000 + g, 'Learner ' || g, (ARRAY[{zones}])[1 + g % {len(ZONES)}],
                   CASE WHEN g % 3 = 0 THEN 'uk' ELSE 'ru' END,
                   now() - random() * INTERVAL '365 days', now() - random() * INTERVAL '30 days',
                   g % 20 <> 0, g % 20 = 0
            FROM generate_series(1, {learners}) AS g""",
        f"""INSERT INTO messages (user_id, text, word_count, correctness, created_at)
            SELECT 1000001 + g % {learners}, 'Ahoj, jak se máš?', (random() * 60)::int,
                   CASE WHEN r < 0.1 THEN NULL WHEN r < 0.4 THEN 100 ELSE (random() * 99)::int END,
                   now() - random() * INTERVAL '90 days'
            FROM generate_series(1, {messages}) AS g, LATERAL (SELECT random() + g * 0 AS r) AS x""",
        """INSERT INTO daily_stats (user_id, date, messages_count, words_count)
            SELECT user_id, (created_at AT TIME ZONE 'UTC')::date, count(*), sum(word_count)
            FROM messages GROUP BY 1, 2""",
        """INSERT INTO streaks (user_id, current, longest)
            SELECT id, c, c + (random() * 10)::int
            FROM users, LATERAL (SELECT (power(random(), 3) * 150)::int + id * 0 AS c) AS x""",
        f"""INSERT INTO deliveries (kind, recipient_id, business_key, status, attempts, created_at)
            SELECT (ARRAY[{kinds}])[1 + (power(random(), 2) * {len(KINDS)})::int % {len(KINDS)}],
                   1000001 + g % {learners}, 'bench:' || g,
                   CASE WHEN r < 0.9 THEN 'sent' WHEN r < 0.95 THEN 'blocked' WHEN r < 0.98 THEN 'failed'
                        WHEN r < 0.99 THEN 'unknown' ELSE 'cancelled' END,
                   1, now() - random() * INTERVAL '90 days'
            FROM generate_series(1, {deliveries}) AS g, LATERAL (SELECT random() + g * 0 AS r) AS x""",
        f"""INSERT INTO platform_metrics (captured_at, total_users, active_users_1d, active_users_7d)
            SELECT now() - n * INTERVAL '30 minutes', {learners} - n * 5, 8000 + n % 500, 40000 + n % 900
            FROM generate_series(0, 90 * 48) AS n""",
        "REFRESH MATERIALIZED VIEW weekly_leaderboard",
        "VACUUM ANALYZE",
    )
    engine = create_async_engine(url)
    try:
        async with engine.connect() as connection:
            counts = (
                await connection.execute(
                    text(
                        "SELECT (SELECT count(*) FROM users), (SELECT count(*) FROM messages),"
                        " (SELECT count(*) FROM daily_stats), (SELECT count(*) FROM deliveries),"
                        " (SELECT count(*) FROM streaks), (SELECT count(*) FROM platform_metrics),"
                        " (SELECT count(*) FROM weekly_leaderboard)"
                    )
                )
            ).one()
    finally:
        await engine.dispose()
    names = (
        "learners",
        "messages",
        "daily_stats",
        "deliveries",
        "streaks",
        "platform_metrics",
        "leaderboard",
    )
    return {name: int(value) for name, value in zip(names, counts, strict=True)}


async def median_of(runs: int, work: Callable[[], Awaitable[Any]]) -> tuple[float, Any]:
    seconds, result = [], None
    for _ in range(runs):
        started = time.perf_counter()
        result = await work()
        seconds.append(time.perf_counter() - started)
    return statistics.median(seconds), result


async def measure(session_factory: async_sessionmaker[AsyncSession]) -> dict[str, Any]:
    now = dt.datetime.now(dt.UTC)
    queries: dict[str, dict[str, float]] = {}
    print(f"  {'query':<24}" + "".join(f"{f'{days} days':>12}" for days in WINDOWS))
    for name, query in QUERIES.items():

        async def one(window: Window, query: Any = query) -> Any:
            async with session_factory() as session:
                return await query(session, window, now)

        row = {}
        for days in WINDOWS:
            window = Window.ending(now, days)
            await one(window)  # warm the cache: the figures are for a page read again and again
            seconds, _ = await median_of(RUNS, functools.partial(one, window))
            row[f"{days}d"] = round(seconds * 1000, 1)
        queries[name] = row
        print(f"  {name:<24}" + "".join(f"{row[f'{days}d']:>9.1f} ms" for days in WINDOWS))
    page: dict[str, float] = {}
    views: dict[str, float] = {}
    for days in WINDOWS:
        window = Window.ending(now, days)
        read = functools.partial(load_analytics, session_factory, window, now)
        seconds, analytics = await median_of(RUNS, read)
        page[f"{days}d"] = round(seconds * 1000, 1)
        started = time.perf_counter()
        analytics_context(analytics)
        views[f"{days}d"] = round((time.perf_counter() - started) * 1000, 1)
    print(f"  {'whole page (one txn)':<24}" + "".join(f"{page[f'{d}d']:>9.1f} ms" for d in WINDOWS))
    print(f"  {'view building (Python)':<24}" + "".join(f"{views[f'{d}d']:>9.1f} ms" for d in WINDOWS))
    slowest = max((ms, f"{name} {key}") for name, row in queries.items() for key, ms in row.items())
    verdict = "meets" if slowest[0] < TARGET_SECONDS * 1000 else "MISSES"
    print(f"slowest query: {slowest[1]} {slowest[0]:.1f} ms ({verdict} the {TARGET_SECONDS:.0f} s target)")
    return {
        "query_ms_median_of_3": queries,
        "page_read_ms": page,
        "view_build_ms": views,
        "slowest_query": {"query": slowest[1], "ms": slowest[0]},
        "target_seconds_per_query": TARGET_SECONDS,
    }


async def main(learners: int, messages: int, deliveries: int) -> None:
    configure_logging(level="WARNING")
    started = time.perf_counter()
    async with bench_database() as url:
        print(f"analytics queries on {learners:,} learners, {messages:,} messages, {deliveries:,} deliveries")
        setup_started = time.perf_counter()
        counts = await generate(url, learners, messages, deliveries)
        setup = time.perf_counter() - setup_started
        print(f"  generated in {setup:.1f} s: " + ", ".join(f"{k} {v:,}" for k, v in counts.items()))
        engine = create_async_engine(url, connect_args={"server_settings": {"timezone": "UTC"}})
        try:
            figures = await measure(create_session_factory(engine))
        finally:
            await engine.dispose()
    # Other work on the machine slows every query: the load says how quiet the run was.
    load = [round(value, 2) for value in os.getloadavg()]
    print(f"  load average (1, 5, 15 min) at the end: {load}, {os.cpu_count()} CPUs")
    figures = {"rows": counts, **figures, "setup_seconds": round(setup, 1), "load_average": load}
    figures["total_seconds"] = round(time.perf_counter() - started, 1)
    print(f"  total run time {figures['total_seconds']:.1f} s")
    print(f"wrote {write_result('analytics', figures)}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--learners", type=int, default=100_000)
    parser.add_argument("--messages", type=int, default=1_000_000)
    parser.add_argument("--deliveries", type=int, default=1_000_000)
    arguments = parser.parse_args()
    asyncio.run(main(arguments.learners, arguments.messages, arguments.deliveries))
