"""Analytics jobs on real PostgreSQL and Redis: daily statistics (set-based = per learner = a Python
recomputation, on random data across timezones), idempotent re-runs, platform metrics and their 10/min
limiter, the weekly report delivered as a photo to a sandbox learner, once, from its cache, and the report
of the last 7 days (/report) with today's messages, sent once per day and message count, never stored."""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import random
import time
from collections import defaultdict
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from arq.worker import Worker
from arq.worker import func as arq_func
from redis.asyncio import Redis
from sqlalchemy import delete, func, insert, select, update
from sqlalchemy.exc import OperationalError, ProgrammingError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from mluv.db.analytics import (
    collect_platform_metrics,
    set_based_days,
    upsert_daily_stats_all,
    upsert_daily_stats_for_user,
)
from mluv.db.models import CronRun as CronRunRow
from mluv.db.models import DailyStats, Delivery, Message, PlatformMetrics, Streak, User, WeeklyReport
from mluv.domain.progress import (
    DAILY_CHALLENGE_MESSAGES,
    day_bounds,
    local_date,
    previous_week_start,
    week_start_of,
    zone,
)
from mluv.domain.report_figures import WeeklyReport as Report
from mluv.domain.reports import recent_period_start, render_caption, weekly_chart_png
from mluv.domain.review import Correction, Review
from mluv.i18n import t
from mluv.jobs import InvalidJobArguments, JobContext, Queue, registry
from mluv.jobs.connections import redis_settings
from mluv.jobs.cron import CronJobSpec
from mluv.jobs.run import CTX_RESOURCES
from mluv.jobs.serializer import deserialize, serialize
from mluv.resources import Resources
from mluv.settings import Settings
from mluv.telegram.sandbox import SandboxClient, SandboxConfig, run_sandbox
from tests.domain.test_chart import read_png
from workers import analytics
from workers.analytics import (
    FixedWindowLimiter,
    aggregate_platform_metrics,
    calculate_all_users_daily_stats,
    generate_weekly_report,
    recent_report_key,
    send_recent_report,
)

pytestmark = pytest.mark.integration

UTC = dt.UTC
Row = tuple[int, int, int, float | None, bool]  # messages, words, correct words, correctness, challenge

# Zones around the world, with DST changes in the tested windows, half- and quarter-hour offsets, the
# extremes (UTC-12, UTC+14), a zone whose offset crosses UTC (Azores), and names that are no zone at all
# (counted as Europe/Prague by both paths).
ZONES = [
    "Europe/Prague",
    "Europe/Kyiv",
    "Europe/Moscow",
    "Europe/London",
    "Atlantic/Azores",
    "America/New_York",
    "America/Los_Angeles",
    "America/St_Johns",
    "America/Santiago",
    "Asia/Almaty",
    "Asia/Kathmandu",
    "Australia/Lord_Howe",
    "Pacific/Chatham",
    "Pacific/Kiritimati",
    "Pacific/Pago_Pago",
    "Etc/GMT+12",
    "UTC",
    "Mars/Olympus",
    "",
]


@pytest.fixture
async def resources(settings: Settings, clean_tables: None, redis: Redis) -> AsyncIterator[Resources]:
    created = await Resources.create(settings)
    try:
        yield created
    finally:
        await created.close()


def job_context(
    resources: Resources, name: str, job_id: str = "test", queue: Queue = Queue.FAST
) -> JobContext[Resources]:
    return JobContext(
        resources=resources,
        job_id=job_id,
        job_name=name,
        job_try=1,
        queue=queue,
        enqueue_time=dt.datetime.now(UTC),
        raw={"redis": resources.pool},
    )


def arq_ctx(resources: Resources, job_id: str) -> dict[str, Any]:
    return {CTX_RESOURCES: resources, "redis": resources.pool, "job_id": job_id, "job_try": 1}


def analytics_worker(resources: Resources, queue: Queue, *, burst: bool) -> Worker:
    """An in-process arq worker of `queue` carrying only the analytics jobs (cron bodies as plain
    functions, so nothing is scheduled): other modules' crons and their catch-up at start stay out."""
    settings = resources.settings
    timeout = float(settings.fast_job_timeout if queue is Queue.FAST else settings.long_job_timeout)
    jobs = (generate_weekly_report, send_recent_report)
    crons = (calculate_all_users_daily_stats, aggregate_platform_metrics)
    functions = [declared.arq_function(timeout) for declared in jobs if declared.queue is queue]
    functions += [arq_func(spec.run, name=spec.name) for spec in crons if spec.queue is queue]
    assert settings.redis_url is not None
    return Worker(
        functions=functions,
        queue_name=queue.value,
        redis_settings=redis_settings(settings.redis_url),
        ctx={CTX_RESOURCES: resources},
        job_serializer=serialize,
        job_deserializer=deserialize,
        keep_result=settings.job_keep_result,
        poll_delay=0.01,
        burst=burst,
        handle_signals=False,
        log_results=False,
    )


async def run_worker_until_idle(resources: Resources, queue: Queue) -> None:
    """Run the analytics worker of `queue` in burst mode: it stops when the queue is empty."""
    worker = analytics_worker(resources, queue, burst=True)
    try:
        await worker.main()
    finally:
        await worker.close()


# --- random data --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Seeded:
    zones: dict[int, str]  # user id → users.timezone
    messages: list[dict[str, Any]]


async def seed_random(
    session_factory: async_sessionmaker[AsyncSession],
    tick: dt.datetime,
    *,
    seed: int,
    users: int = 300,
    messages: int = 4000,
) -> Seeded:
    rng = random.Random(seed)
    zones = {10_000 + i: ZONES[i % len(ZONES)] for i in range(users)}
    ids = list(zones)
    # A few heavy writers (so some days complete the challenge), many light ones, some silent.
    weights = [rng.choice([0, 1, 1, 2, 3, 20]) for _ in ids]
    rows: list[dict[str, Any]] = []
    window_start = tick - dt.timedelta(days=3, hours=14)
    for _ in range(messages):
        user_id = rng.choices(ids, weights)[0]
        created = window_start + dt.timedelta(seconds=rng.uniform(0, 4.1 * 86_400))
        rows.append(_message(rng, user_id, created))
    # Exact edges: the first microsecond of a local day, the last one of the day before, and the tick.
    _, last_day = set_based_days(tick)
    for user_id in ids[: 2 * len(ZONES)]:
        start, _ = day_bounds(last_day, zones[user_id])
        rows.append(_message(rng, user_id, start))
        rows.append(_message(rng, user_id, start - dt.timedelta(microseconds=1)))
        rows.append(_message(rng, user_id, tick))
    async with session_factory.begin() as session:
        await session.execute(
            insert(User), [{"id": user_id, "timezone": zones[user_id], "language": "ru"} for user_id in ids]
        )
        await session.execute(insert(Message), rows)
    return Seeded(zones, rows)


def _message(rng: random.Random, user_id: int, created: dt.datetime) -> dict[str, Any]:
    words = rng.choice([0, rng.randint(1, 8), rng.randint(1, 60)])
    correctness = None if rng.random() < 0.25 else rng.choice([100, rng.randint(0, 100)])
    return {
        "user_id": user_id,
        "text": "x",
        "word_count": words,
        "correctness": correctness,
        "created_at": created,
    }


def recompute_in_python(seeded: Seeded, tick: dt.datetime) -> dict[tuple[int, dt.date], Row]:
    """The definitions of mluv.db.analytics, in plain Python, for the days a run at `tick` covers."""
    first_day, last_day = set_based_days(tick)
    groups: dict[tuple[int, dt.date], list[dict[str, Any]]] = defaultdict(list)
    for message in seeded.messages:
        timezone = seeded.zones[message["user_id"]]
        day = local_date(message["created_at"], timezone)
        if message["created_at"] < tick and first_day <= day <= last_day and day < local_date(tick, timezone):
            groups[(message["user_id"], day)].append(message)
    expected: dict[tuple[int, dt.date], Row] = {}
    for key, messages in groups.items():
        reviewed = [m for m in messages if m["correctness"] is not None]
        points = sum(m["word_count"] * m["correctness"] for m in reviewed)
        reviewed_words = sum(m["word_count"] for m in reviewed)
        expected[key] = (
            len(messages),
            sum(m["word_count"] for m in messages),
            (2 * points + 100) // 200,  # round(points / 100), halves away from zero
            points / reviewed_words if reviewed_words else None,
            len(messages) >= DAILY_CHALLENGE_MESSAGES,
        )
    return expected


async def daily_rows(session_factory: async_sessionmaker[AsyncSession]) -> dict[tuple[int, dt.date], Row]:
    async with session_factory() as session:
        rows = await session.execute(select(DailyStats))
        return {
            (s.user_id, s.date): (
                s.messages_count,
                s.words_count,
                s.correct_words,
                s.correctness_avg,
                s.challenge_completed,
            )
            for (s,) in rows
        }


async def full_rows(session_factory: async_sessionmaker[AsyncSession]) -> list[tuple[Any, ...]]:
    async with session_factory() as session:
        rows = await session.execute(select(DailyStats).order_by(DailyStats.user_id, DailyStats.date))
        return [
            (
                s.id,
                s.user_id,
                s.date,
                s.messages_count,
                s.words_count,
                s.correct_words,
                s.correctness_avg,
                s.challenge_completed,
                s.computed_at,
            )
            for (s,) in rows
        ]


# --- daily statistics ---------------------------------------------------------------------------------

# 2024-10-28: Europe left summer time on the 27th (a 25-hour Sunday). 2024-11-04: the Americas on the 3rd.
TICKS = [dt.datetime(2024, 10, 28, 0, 5, tzinfo=UTC), dt.datetime(2024, 11, 4, 0, 5, tzinfo=UTC)]


@pytest.mark.parametrize("tick", TICKS, ids=["eu-dst-end", "us-dst-end"])
async def test_set_based_statistics_equal_a_per_learner_recomputation(
    resources: Resources, session_factory: async_sessionmaker[AsyncSession], tick: dt.datetime
) -> None:
    seeded = await seed_random(session_factory, tick, seed=tick.day)
    expected = recompute_in_python(seeded, tick)

    # One statement for everyone, as the cron runs it.
    started = time.perf_counter()
    result = await calculate_all_users_daily_stats.fn(
        job_context(resources, "calculate_all_users_daily_stats", queue=Queue.LONG),
        _cron_run(tick),
    )
    set_based_seconds = time.perf_counter() - started
    set_based = await daily_rows(session_factory)
    assert result["computed"] == result["inserted"] == len(set_based) == len(expected)

    # One learner and one day at a time (the per-learner query), for every learner's finished days.
    async with session_factory.begin() as session:
        await session.execute(delete(DailyStats))
    started = time.perf_counter()
    for user_id, timezone in seeded.zones.items():
        for day in set_based_days(tick):
            if day < local_date(tick, timezone):
                async with session_factory.begin() as session:
                    await upsert_daily_stats_for_user(session, user_id, day, timezone)
    per_learner_seconds = time.perf_counter() - started
    per_learner = await daily_rows(session_factory)

    assert set_based == per_learner == expected
    # The data exercises what it should.
    assert len(expected) > 250
    assert any(row[4] for row in expected.values()) and not all(row[4] for row in expected.values())
    assert any(row[3] is None for row in expected.values())
    assert {seeded.zones[user_id] for user_id, _ in expected} >= {"Pacific/Kiritimati", "Etc/GMT+12", ""}
    timings = f"set-based {set_based_seconds:.3f} s, per learner {per_learner_seconds:.3f} s"
    print(f"\n{len(expected)} rows: {timings}")


def _cron_run(tick: dt.datetime) -> Any:
    from mluv.jobs.cron import CronRun

    return CronRun(tick=tick, business_key=tick.date().isoformat(), business_date=tick.date(), attempt=1)


async def test_set_based_run_is_idempotent_per_date(
    resources: Resources, session_factory: async_sessionmaker[AsyncSession]
) -> None:
    tick = TICKS[1]
    seeded = await seed_random(session_factory, tick, seed=7, users=120, messages=1500)
    spec: CronJobSpec = calculate_all_users_daily_stats
    job_id = spec.job_id_for(tick)

    first = await spec.run(arq_ctx(resources, job_id))
    rows = await full_rows(session_factory)
    assert first["inserted"] == len(rows) == len(recompute_in_python(seeded, tick)) > 0
    assert (first["first_day"], first["last_day"]) == ("2024-11-02", "2024-11-03")

    # The same tick again (a second worker, a late scheduler): the cron claim refuses it.
    assert await spec.run(arq_ctx(resources, job_id)) == {"skipped": "2024-11-04"}
    # The statement itself run again: nothing inserted or rewritten, the very same rows.
    async with session_factory.begin() as session:
        again = await upsert_daily_stats_all(session, tick)
    assert (again.computed, again.inserted, again.updated) == (len(rows), 0, 0)
    assert await full_rows(session_factory) == rows
    async with session_factory() as session:
        run = (await session.scalars(select(CronRunRow).where(CronRunRow.cron_name == spec.name))).one()
    assert (run.status, run.business_key, run.result) == ("succeeded", "2024-11-04", first)

    # A message that arrived late into a finished day changes exactly that row.
    user_id, day = next(iter(recompute_in_python(seeded, tick)))
    start, _ = day_bounds(day, seeded.zones[user_id])
    async with session_factory.begin() as session:
        await session.execute(
            insert(Message).values(
                user_id=user_id, text="x", word_count=3, correctness=None, created_at=start
            )
        )
        changed = await upsert_daily_stats_all(session, tick)
    assert (changed.inserted, changed.updated) == (0, 1)
    after = {(r[1], r[2]): r for r in await full_rows(session_factory)}
    before = {(r[1], r[2]): r for r in rows}
    assert [key for key in before if before[key] != after[key]] == [(user_id, day)]
    assert after[(user_id, day)][3] == before[(user_id, day)][3] + 1


async def test_cron_declarations() -> None:
    daily = registry.crons["calculate_all_users_daily_stats"]
    assert daily is calculate_all_users_daily_stats
    assert (daily.queue, daily.hour, daily.minute, daily.catch_up) == (Queue.LONG, 0, 5, True)
    assert daily.retry.max_tries == 3
    assert daily.next_tick(dt.datetime(2024, 5, 1, 13, 0, tzinfo=UTC)) == dt.datetime(
        2024, 5, 2, 0, 5, tzinfo=UTC
    )
    platform = registry.crons["aggregate_platform_metrics"]
    assert platform.queue is Queue.LONG and platform.retry.max_tries == 3
    assert platform.next_tick(dt.datetime(2024, 5, 1, 13, 1, tzinfo=UTC)) == dt.datetime(
        2024, 5, 1, 13, 30, tzinfo=UTC
    )
    assert registry.jobs["generate_weekly_report"] is generate_weekly_report
    assert registry.jobs["send_recent_report"] is send_recent_report


def test_job_ids_and_retry_policies() -> None:
    policy = generate_weekly_report.retry
    assert policy.max_tries == 3
    assert policy.decide(OperationalError("SELECT 1", {}, Exception("connection lost")), 1).retry
    assert policy.decide(ConnectionResetError(), 2).retry
    assert not policy.decide(ConnectionResetError(), 3).retry  # the third try was the last
    assert not policy.decide(ProgrammingError("SELECT", {}, Exception("syntax")), 1).retry

    monday = dt.date(2024, 11, 18)
    report = generate_weekly_report.validate(user_id=42, week_start=monday)
    assert generate_weekly_report.job_id_for(report) == "report:42:2024-11-18"
    with pytest.raises(InvalidJobArguments, match="Monday"):
        generate_weekly_report.validate(user_id=42, week_start=dt.date(2024, 11, 19))
    with pytest.raises(InvalidJobArguments):  # a week is always named: /report sends the last 7 days
        generate_weekly_report.validate(user_id=42)
    assert generate_weekly_report.retry.max_tries == 3
    recent = send_recent_report.validate(user_id=42, today=dt.date(2024, 11, 20), messages=5)
    assert send_recent_report.job_id_for(recent) == "recent-report:42:2024-11-20:5"
    assert recent_report_key(dt.date(2024, 11, 20), 5) == "report:recent:2024-11-20:5"
    assert (send_recent_report.queue, send_recent_report.retry.max_tries) == (Queue.FAST, 3)


# --- platform metrics ---------------------------------------------------------------------------------

NOW = dt.datetime(2024, 6, 1, 12, 0, tzinfo=UTC)


async def seed_platform(session_factory: async_sessionmaker[AsyncSession], now: dt.datetime) -> None:
    def hours(n: float) -> dt.datetime:
        return now - dt.timedelta(hours=n)

    users = [
        {"id": 1, "last_active_at": hours(1), "created_at": hours(500)},  # active today
        {"id": 2, "last_active_at": hours(23.9), "created_at": hours(2)},  # active today, new
        {"id": 3, "last_active_at": hours(24.1), "created_at": hours(500)},  # this week only
        {"id": 4, "last_active_at": hours(24 * 7 - 0.1), "created_at": hours(500)},  # this week only
        {"id": 5, "last_active_at": hours(24 * 7 + 0.1), "created_at": hours(500)},  # older
        {
            "id": 6,
            "last_active_at": hours(1),
            "created_at": hours(500),
            "is_active": False,
            "is_blocked": True,
        },
    ]
    messages = [hours(0.5), hours(23.99), hours(24.01), hours(100), now, now + dt.timedelta(minutes=1)]
    async with session_factory.begin() as session:
        await session.execute(insert(User), users)
        await session.execute(
            insert(Message), [{"user_id": 1, "text": "x", "created_at": at} for at in messages]
        )


async def test_platform_metrics_values(
    resources: Resources, session_factory: async_sessionmaker[AsyncSession]
) -> None:
    await seed_platform(session_factory, NOW)
    async with session_factory() as session:
        figures = await collect_platform_metrics(session, NOW)
    assert (
        figures.total_users,
        figures.active_users_1d,
        figures.active_users_7d,
        figures.messages_1d,
        figures.messages_total,
    ) == (6, 2, 4, 2, 6)
    assert figures.extra == {"reachable_users": 5, "blocked_users": 1, "new_users_1d": 1}


async def test_platform_metrics_cron_stores_a_snapshot(
    resources: Resources, session_factory: async_sessionmaker[AsyncSession]
) -> None:
    await seed_platform(session_factory, dt.datetime.now(UTC))
    spec: CronJobSpec = aggregate_platform_metrics
    tick = dt.datetime(2024, 6, 1, 12, 30, tzinfo=UTC)
    result = await spec.run(arq_ctx(resources, spec.job_id_for(tick)))
    async with session_factory() as session:
        snapshot = (await session.scalars(select(PlatformMetrics))).one()
    assert result["id"] == snapshot.id
    assert (snapshot.total_users, snapshot.active_users_1d, snapshot.active_users_7d) == (6, 2, 4)
    # The run comes a moment after the seeding: the message stamped "now" is within its last 24 h too.
    assert (snapshot.messages_1d, snapshot.messages_total) == (3, 6)
    assert snapshot.extra["blocked_users"] == 1


async def test_fixed_window_limiter(redis: Redis) -> None:
    now = [60 * 16_667 + 20.5]  # 20.5 s into a minute
    limiter = FixedWindowLimiter(redis, "t", limit=10, window=60, clock=lambda: now[0])
    decisions = [await limiter.acquire() for _ in range(12)]
    assert [d.allowed for d in decisions] == [True] * 10 + [False] * 2
    assert [d.count for d in decisions] == list(range(1, 13))
    assert decisions[-1].retry_in == pytest.approx(39.5)
    assert 60 < await redis.ttl(limiter.key(now[0])) <= 120
    now[0] += 39.5  # the next minute
    assert (await limiter.acquire()).allowed


async def test_limiter_is_shared_by_concurrent_workers(redis_url: str, redis: Redis) -> None:
    clients = [Redis.from_url(redis_url) for _ in range(5)]
    try:
        fixed = time.time() // 60 * 60 + 30
        limiters = [
            FixedWindowLimiter(c, "shared", limit=10, window=60, clock=lambda: fixed) for c in clients
        ]
        decisions = await asyncio.gather(*(limiter.acquire() for limiter in limiters for _ in range(8)))
    finally:
        for client in clients:
            await client.aclose()
    assert sum(d.allowed for d in decisions) == 10
    assert sorted(d.count for d in decisions) == list(range(1, 41))


async def test_platform_metrics_runs_at_most_ten_times_a_minute(
    resources: Resources, session_factory: async_sessionmaker[AsyncSession], monkeypatch: pytest.MonkeyPatch
) -> None:
    fixed = time.time() // 60 * 60 + 1  # one window for the whole test, wherever the clock is
    monkeypatch.setattr(
        analytics,
        "platform_metrics_limiter",
        lambda redis: FixedWindowLimiter(
            redis, "aggregate_platform_metrics", limit=10, window=60, clock=lambda: fixed
        ),
    )
    spec: CronJobSpec = aggregate_platform_metrics
    # Twelve manual runs at once, as if from several workers and a dashboard button.
    results = await asyncio.gather(
        *(spec.run(arq_ctx(resources, f"aggregate_platform_metrics:manual:{i}")) for i in range(12))
    )
    skipped = [r for r in results if r.get("skipped") == "rate limited"]
    assert len(skipped) == 2 and all(r["retry_in"] > 0 for r in skipped)
    async with session_factory() as session:
        assert await session.scalar(select(func.count(PlatformMetrics.id))) == 10


async def test_a_manual_run_of_platform_metrics_takes_a_snapshot(resources: Resources) -> None:
    job = await aggregate_platform_metrics.enqueue_now(resources.pool)
    assert job is not None
    assert aggregate_platform_metrics.parse_tick(job.job_id) is None  # a manual run, not a tick
    await run_worker_until_idle(resources, Queue.LONG)
    async with resources.session_factory() as session:
        assert await session.scalar(select(func.count(PlatformMetrics.id))) == 1


# --- the weekly report ----------------------------------------------------------------------------------

LEARNER = 555_100_001
KYIV = "Europe/Kyiv"


Mistaken = tuple[str, str | None, str]  # original, suggestion, kind


def _review(words: int, correctness: int, corrections: list[Mistaken]) -> dict[str, Any]:
    return Review(
        word_count=words,
        correctness=correctness,
        corrections=[
            Correction.model_validate({"original": o, "suggestion": s, "kind": k}) for o, s, k in corrections
        ],
        corrected_text="x",
        reviewer="offline",
    ).to_json()


async def seed_learner_week(session_factory: async_sessionmaker[AsyncSession], today: dt.date) -> dt.date:
    """A Ukrainian-speaking learner in Kyiv with a week of practice before this one; returns its Monday."""
    week = previous_week_start(today)

    def at(day: dt.date, hour: int = 12) -> dt.datetime:
        return dt.datetime.combine(day, dt.time(hour), tzinfo=ZoneInfo(KYIV)).astimezone(UTC)

    dekuji: Mistaken = ("dekuji", "děkuji", "diacritics")
    messages: list[tuple[dt.datetime, int, int | None, list[Mistaken]]] = [
        (at(week), 10, 80, [dekuji, ("Prosim", "Prosím", "diacritics")]),
        (at(week, 23), 6, 100, []),
        (at(week + dt.timedelta(days=2)), 12, 75, [dekuji, ("xqzvbn", None, "unknown")]),
        (at(week + dt.timedelta(days=4), 8), 20, 90, [("Dekuji", "Děkuji", "diacritics")]),
        (at(week + dt.timedelta(days=4), 9), 4, 100, []),
        (at(week + dt.timedelta(days=4), 10), 8, None, []),  # not reviewed yet
        (at(week + dt.timedelta(days=7)), 99, 10, [("a", "b", "grammar")]),  # this week: not in the report
        (at(week - dt.timedelta(days=3)), 50, 90, []),  # the week before: the trend
    ]
    async with session_factory.begin() as session:
        await session.execute(
            insert(User).values(id=LEARNER, first_name="Olga", language="uk", timezone=KYIV)
        )
        await session.execute(
            insert(Message),
            [
                {
                    "user_id": LEARNER,
                    "text": "x",
                    "word_count": words,
                    "correctness": correctness,
                    "review": _review(words, correctness, corrections) if correctness is not None else None,
                    "created_at": created,
                }
                for created, words, correctness, corrections in messages
            ],
        )
        await session.execute(
            insert(Streak).values(
                user_id=LEARNER, current=3, longest=7, last_active_date=today - dt.timedelta(days=1)
            )
        )
    return week


@dataclass
class Stack:
    sandbox: SandboxClient
    resources: Resources


@pytest.fixture
async def stack(settings: Settings, clean_tables: None, redis: Redis) -> AsyncIterator[Stack]:
    """The sandbox, Resources pointed at it, and a running fast-queue worker with the analytics jobs."""
    async with (
        run_sandbox(port=0, config=SandboxConfig(auto_create_chats=False)) as url,
        SandboxClient(url) as sandbox,
    ):
        resources = await Resources.create(settings.model_copy(update={"telegram_api_base": url}))
        worker = analytics_worker(resources, Queue.FAST, burst=False)
        running = asyncio.create_task(worker.async_run())
        await sandbox.create_user(LEARNER, "Olga", language_code="uk")
        try:
            yield Stack(sandbox, resources)
        finally:
            worker.allow_pick_jobs = False
            jobs = [task for task in worker.tasks.values() if not task.done()]
            if jobs:
                await asyncio.wait(jobs, timeout=10)
            await worker.close()
            running.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await running
            await resources.close()


async def eventually(check: Callable[[], Awaitable[Any]], within: float = 15.0, what: str = "") -> Any:
    deadline = time.monotonic() + within
    while True:
        value = await check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what or check}")
        await asyncio.sleep(0.05)


async def test_weekly_report_is_delivered_once_as_a_photo_and_then_reused(
    stack: Stack, monkeypatch: pytest.MonkeyPatch
) -> None:
    resources, sandbox = stack.resources, stack.sandbox
    today = local_date(dt.datetime.now(UTC), KYIV)
    week = await seed_learner_week(resources.session_factory, today)
    computed: list[dt.date] = []
    compute = analytics._compute_report

    async def counting(session: AsyncSession, user: User, week: dt.date, today: dt.date) -> Report:
        computed.append(week)
        return await compute(session, user, week, today)

    monkeypatch.setattr(analytics, "_compute_report", counting)

    # What the Monday cron does for last week.
    await generate_weekly_report.enqueue(resources.pool, user_id=LEARNER, week_start=week)
    (photo,) = await sandbox.messages(LEARNER, wait_for=1, within=20)
    assert photo["method"] == "sendPhoto" and photo["photo_file_id"]

    async with resources.session_factory() as session:
        stored = (await session.scalars(select(WeeklyReport))).one()
    report = Report.from_json(stored.data)
    assert (stored.user_id, stored.week_start, report.week_start) == (LEARNER, week, week)
    assert (report.messages, report.words, report.active_days) == (6, 60, 3)
    # (10*80 + 6*100 + 12*75 + 20*90 + 4*100) / 52 = 4500 / 52 = 86.5 → 87
    assert report.correctness == 87
    assert (report.streak, report.longest, report.previous_words) == (3, 7, 50)
    assert [(m.original, m.suggestion, m.count) for m in report.mistakes[:2]] == [
        ("dekuji", "děkuji", 3),
        ("prosim", "prosím", 1),
    ]
    assert dict(report.mistake_counts) == {"diacritics": 4, "unknown": 1}
    assert [tip.key for tip in report.tips] == [
        "report-tip-regularity",
        "report-tip-diacritics",
        "report-tip-challenge",
    ]

    caption = render_caption(report, "uk")
    assert photo["caption"] == caption and len(caption) <= 1024
    assert caption.startswith(
        t("uk", "report-title", time=f"{week:%d.%m}–{week + dt.timedelta(days=6):%d.%m}")
    )
    # The photo is the stored chart.
    file = await resources.bot.get_file(photo["photo_file_id"])
    assert file.file_path is not None
    downloaded = await resources.bot.download_file(file.file_path)
    assert downloaded is not None
    image = downloaded.read()
    assert image == stored.chart_png
    png = read_png(image)
    assert (png.width, png.height) == (800, 480)
    assert image == weekly_chart_png(report, "uk")  # drawn in the learner's language

    async def ledger() -> list[Any]:
        # The sandbox records a message before the job writes the ledger's final state: wait for it.
        async with resources.session_factory() as session:
            rows = (
                await session.execute(select(Delivery.kind, Delivery.business_key, Delivery.status))
            ).all()
        return list(rows) if rows and all(status == "sent" for _, _, status in rows) else []

    assert await eventually(ledger, what="the delivery sent") == [("weekly_report", f"report:{week}", "sent")]

    # The same week again (a retry, a caught-up tick, an operator): the stored report, already delivered,
    # so nothing more is sent and nothing is recomputed.
    result = await generate_weekly_report.fn(
        job_context(resources, "generate_weekly_report"), user_id=LEARNER, week_start=week
    )
    assert (result["cached"], result["delivery"], result["duplicate"]) == (True, "sent", True)
    assert computed == [week]
    assert len(await sandbox.messages(LEARNER)) == 1
    async with resources.session_factory() as session:
        again = (await session.scalars(select(WeeklyReport))).one()
    assert (again.id, again.created_at, again.data) == (stored.id, stored.created_at, stored.data)


async def test_weekly_report_refusals(resources: Resources) -> None:
    ctx = job_context(resources, "generate_weekly_report")
    last_week = previous_week_start(local_date(dt.datetime.now(UTC), "Pacific/Kiritimati"))
    assert await generate_weekly_report.fn(ctx, user_id=LEARNER, week_start=last_week) == {
        "user_id": LEARNER,
        "skipped": "user not found",
    }
    async with resources.session_factory.begin() as session:
        await session.execute(insert(User).values(id=LEARNER, timezone="Pacific/Kiritimati"))
    this_week = week_start_of(local_date(dt.datetime.now(UTC), "Pacific/Kiritimati"))
    result = await generate_weekly_report.fn(ctx, user_id=LEARNER, week_start=this_week)
    assert result["skipped"] == "the week is not over yet"
    async with resources.session_factory.begin() as session:
        await session.execute(update(User).where(User.id == LEARNER).values(is_blocked=True, is_active=False))
    result = await generate_weekly_report.fn(ctx, user_id=LEARNER, week_start=last_week)
    assert result["skipped"] == "the learner blocked the bot"
    recent = job_context(resources, "send_recent_report")
    today = local_date(dt.datetime.now(UTC), "Pacific/Kiritimati")
    result = await send_recent_report.fn(recent, user_id=LEARNER, today=today, messages=0)
    assert result["skipped"] == "the learner blocked the bot"
    assert (await send_recent_report.fn(recent, user_id=1, today=today, messages=0))["skipped"] == (
        "user not found"
    )
    async with resources.session_factory() as session:
        assert await session.scalar(select(func.count(WeeklyReport.id))) == 0


async def test_the_last_7_days_include_today_and_are_sent_once_per_message_count(stack: Stack) -> None:
    resources, sandbox = stack.resources, stack.sandbox
    now = dt.datetime.now(UTC)
    today = local_date(now, KYIV)
    first_day = recent_period_start(today)
    start_of_today, _ = day_bounds(today, KYIV)

    def noon(day: dt.date) -> dt.datetime:
        return dt.datetime.combine(day, dt.time(12), tzinfo=ZoneInfo(KYIV)).astimezone(UTC)

    # Five messages today, up to now (the case reported: "no messages this week" right after writing),
    # one three days ago, and one in the 7 days before the period (the comparison).
    written = [(start_of_today + (now - start_of_today) * i / 5, 4, 100) for i in range(5)]
    written += [
        (noon(today - dt.timedelta(days=3)), 10, 50),
        (noon(first_day - dt.timedelta(days=3)), 30, 90),
    ]
    async with resources.session_factory.begin() as session:
        await session.execute(
            insert(User).values(id=LEARNER, first_name="Olga", language="uk", timezone=KYIV)
        )
        await session.execute(
            insert(Message),
            [
                {"user_id": LEARNER, "text": "x", "word_count": w, "correctness": c, "created_at": at}
                for at, w, c in written
            ],
        )
        await session.execute(
            insert(Streak).values(user_id=LEARNER, current=2, longest=5, last_active_date=today)
        )

    ctx = job_context(resources, "send_recent_report")
    result = await send_recent_report.fn(ctx, user_id=LEARNER, today=today, messages=6)
    assert (result["messages"], result["delivery"], result["duplicate"]) == (6, "sent", False)
    (photo,) = await sandbox.messages(LEARNER, wait_for=1, within=20)
    assert photo["method"] == "sendPhoto" and photo["photo_file_id"]
    caption = (photo["caption"] or "").split("\n")
    # 5 × 4 words at 100 % and 10 words at 50 %: (2000 + 500) / 30 = 83.3 → 83.
    assert caption[:6] == [
        t("uk", "report-recent-title", time=f"{first_day:%d.%m}–{today:%d.%m}"),
        t("uk", "report-totals", messages=6, words=30),
        t("uk", "report-active-days", days=2),
        t("uk", "report-correctness", correctness=83),
        t("uk", "report-streak", streak=2, longest=5),
        t("uk", "report-recent-previous", words=30),
    ]
    async with resources.session_factory() as session:
        user = await session.get(User, LEARNER)
        assert user is not None
        report = await analytics._compute_report(session, user, first_day, today)
    assert (report.days[-1].day, report.days[-1].messages, report.days[-1].words) == (today, 5, 20)
    assert photo["caption"] == render_caption(report, "uk", recent=True)
    file = await resources.bot.get_file(photo["photo_file_id"])
    assert file.file_path is not None
    downloaded = await resources.bot.download_file(file.file_path)
    assert downloaded is not None and downloaded.read() == weekly_chart_png(report, "uk", recent=True)

    # The same figures again (a retry, a second job): already delivered under the same key, not resent.
    again = await send_recent_report.fn(ctx, user_id=LEARNER, today=today, messages=6)
    assert (again["delivery"], again["duplicate"]) == ("sent", True)
    # A new message: a new key, a fresh report.
    async with resources.session_factory.begin() as session:
        await session.execute(insert(Message).values(user_id=LEARNER, text="x", word_count=6, created_at=now))
    fresh = await send_recent_report.fn(ctx, user_id=LEARNER, today=today, messages=7)
    assert (fresh["messages"], fresh["duplicate"]) == (7, False)
    records = await sandbox.messages(LEARNER, wait_for=2, within=20)
    assert [r["method"] for r in records] == ["sendPhoto", "sendPhoto"]
    assert t("uk", "report-totals", messages=7, words=36) in (records[1]["caption"] or "")
    async with resources.session_factory() as session:
        keys = (await session.scalars(select(Delivery.business_key).order_by(Delivery.id))).all()
        assert await session.scalar(select(func.count(WeeklyReport.id))) == 0  # never stored
    assert keys == [recent_report_key(today, 6), recent_report_key(today, 7)]


def test_unknown_zone_names_fall_back_like_everywhere_else() -> None:
    assert zone("Mars/Olympus").key == zone("").key == "Europe/Prague"
