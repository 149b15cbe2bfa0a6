"""Daily statistics for 100,000 learners and 1,000,000 messages: one set-based statement against a
per-learner job fan-out, in one run.

    .venv/bin/python -m bench.aggregation [--learners 100000 --messages 1000000 --sample 2000]

Database: a database of its own, `mluv_bench_<hex>`, on the server of BENCH_DATABASE_URL (else
TEST_DATABASE_URL), migrated with mluv.db.migrate.upgrade and dropped at the end. Redis (for the arq
variant): BENCH_REDIS_URL (a db the benchmark may use) or an embedded redis-server.

Data, generated in SQL with generate_series (seeded): learners spread over 12 timezones (UTC-8 … UTC+6),
each with 1 … 19 messages (mean messages/learners) at random times of their *local* day D, word counts
0 … 60, 80 % reviewed. The tick is D+2 at 00:05 UTC, so day D is over for every learner.

Measured:
1. set-based: the cron's statement (`upsert_daily_stats_all`) writing every learner's row, then the same
   run again (an idempotent re-run: nothing changes, nothing is written);
2. per-learner fan-out on a random sample of learners (their rows deleted first, so each job writes as on
   the first run), as a job per learner (`per_learner_job` below: the learner's row through
   `upsert_daily_stats_for_user`, what a job per learner would run; the project has no such job):
   a. its worker entry point called one after another (the job's own cost);
   b. the same, 20 at a time (the engine's pool: 10 connections + 10 overflow);
   c. through arq: the framework's enqueue of every job, then an in-process arq worker (max_jobs 50,
      poll_delay 10 ms) draining the queue;
   d. a floor, not a deployable fan-out: (b) with `synchronous_commit=off` on the jobs' sessions. Each job
      commits its own transaction, and a commit waits for the WAL flush (fdatasync: ~3 ms on the machine
      this was written on, ~0.1 ms without the wait); the set-based run commits once. (d) shows how much of
      the gap is that wait and how much is the per-job work itself.
   Each variant is extrapolated linearly to all learners (time × learners / sample): one job is an index
   range scan on messages (user_id, created_at) plus a one-row upsert, whose cost does not grow with the
   number of learners (B-tree depth aside), and the jobs are independent. The headline compares the
   fastest of (a)-(c), the fan-out as it would run; (d) is reported next to it. The sample's rows are
   checked to equal the set-based ones after every variant.
Target: set-based ≥ 50× faster than the fan-out.
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import datetime as dt
import os
import secrets
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from arq.worker import Worker
from arq.worker import func as arq_func
from sqlalchemy import delete, select, text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker, create_async_engine
from sqlalchemy.pool import NullPool

from bench.common import bench_redis_url, write_result
from mluv.db.analytics import set_based_days, upsert_daily_stats_all, upsert_daily_stats_for_user
from mluv.db.migrate import upgrade
from mluv.db.models import DailyStats, User
from mluv.db.session import create_session_factory
from mluv.jobs import Queue
from mluv.jobs.connections import redis_settings
from mluv.jobs.run import CTX_RESOURCES
from mluv.jobs.serializer import deserialize, serialize
from mluv.logs import configure_logging
from mluv.resources import Resources
from mluv.settings import load_settings, normalise_database_url

TICK = dt.datetime(2024, 11, 15, 0, 5, tzinfo=dt.UTC)
DAY = TICK.date() - dt.timedelta(days=2)
ZONES = (
    "Europe/Prague",
    "Europe/Kyiv",
    "Europe/Moscow",
    "Europe/Warsaw",
    "Europe/Berlin",
    "Europe/London",
    "Asia/Almaty",
    "America/New_York",
    "America/Los_Angeles",
    "Asia/Tbilisi",
    "Europe/Vilnius",
    "Europe/Riga",
)
DIRECT_CONCURRENCY = 20
WORKER_MAX_JOBS = 50


def server_url() -> str:
    url = os.environ.get("BENCH_DATABASE_URL") or os.environ.get("TEST_DATABASE_URL")
    if not url:
        raise SystemExit("set BENCH_DATABASE_URL or TEST_DATABASE_URL to a PostgreSQL server")
    return normalise_database_url(url)


def with_database(url: str, name: str) -> str:
    return urlunsplit(urlsplit(url)._replace(path=f"/{name}"))


async def admin(url: str, *statements: str) -> None:
    engine = create_async_engine(url, isolation_level="AUTOCOMMIT", poolclass=NullPool)
    try:
        async with engine.connect() as connection:
            for statement in statements:
                await connection.execute(text(statement))
    finally:
        await engine.dispose()


@asynccontextmanager
async def bench_database() -> AsyncIterator[str]:
    server = server_url()
    name = f"mluv_bench_{secrets.token_hex(6)}"
    await admin(server, f'CREATE DATABASE "{name}"')
    try:
        url = with_database(server, name)
        await upgrade(url)
        yield url
    finally:
        await admin(server, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


async def timed(label: str, work: Awaitable[Any]) -> tuple[float, Any]:
    started = time.perf_counter()
    result = await work
    seconds = time.perf_counter() - started
    print(f"  {label:<58}{seconds:>9.3f} s")
    return seconds, result


async def generate(url: str, learners: int, messages: int) -> dict[str, int]:
    spread = max(
        1, 2 * round(messages / learners) - 1
    )  # per-learner counts 1 … spread, mean ≈ messages/learners
    zones = ", ".join(f"'{zone}'" for zone in ZONES)
    await admin(
        url,
        "SELECT setseed(0.42)",
        f"""INSERT INTO users (id, timezone, language, last_active_at)
            SELECT 1000000 + g, (ARRAY[{zones}])[1 + g % {len(ZONES)}],
                   CASE WHEN g % 3 = 0 THEN 'uk' ELSE 'ru' END,
                   TIMESTAMPTZ '{DAY.isoformat()} 12:00Z'
            FROM generate_series(1, {learners}) AS g""",
        f"""INSERT INTO messages (user_id, text, word_count, correctness, created_at)
            SELECT u.id, 'Ahoj, jak se máš?', (random() * 60)::int,
                   CASE WHEN random() < 0.8 THEN (random() * 100)::int END,
                   (DATE '{DAY.isoformat()}' + random() * INTERVAL '86399.999 seconds')
                       AT TIME ZONE u.timezone
            FROM users AS u
            CROSS JOIN LATERAL generate_series(1, 1 + (u.id * 7919) % {spread}) AS n""",
        "VACUUM ANALYZE users",
        "VACUUM ANALYZE messages",
    )
    engine = create_async_engine(url, poolclass=NullPool)
    try:
        async with engine.connect() as connection:
            row = (
                await connection.execute(
                    text("SELECT (SELECT count(*) FROM users), (SELECT count(*) FROM messages)")
                )
            ).one()
    finally:
        await engine.dispose()
    return {"learners": int(row[0]), "messages": int(row[1])}


async def set_based(session_factory: async_sessionmaker[AsyncSession]) -> Any:
    async with session_factory.begin() as session:
        return await upsert_daily_stats_all(session, TICK)


async def sample_learners(session_factory: async_sessionmaker[AsyncSession], size: int) -> list[int]:
    async with session_factory.begin() as session:
        await session.execute(text("SELECT setseed(0.17)"))
        return list(
            await session.scalars(
                text("SELECT id FROM users ORDER BY random() LIMIT :size").bindparams(size=size)
            )
        )


async def rows_of(
    session_factory: async_sessionmaker[AsyncSession], ids: list[int]
) -> dict[int, tuple[Any, ...]]:
    async with session_factory() as session:
        rows = await session.execute(
            select(DailyStats).where(DailyStats.user_id.in_(ids), DailyStats.date == DAY)
        )
        return {
            s.user_id: (
                s.messages_count,
                s.words_count,
                s.correct_words,
                s.correctness_avg,
                s.challenge_completed,
            )
            for (s,) in rows
        }


async def forget(session_factory: async_sessionmaker[AsyncSession], ids: list[int]) -> None:
    async with session_factory.begin() as session:
        await session.execute(delete(DailyStats).where(DailyStats.user_id.in_(ids)))


def worker_ctx(resources: Resources, user_id: int) -> dict[str, Any]:
    return {
        CTX_RESOURCES: resources,
        "redis": resources.pool,
        "job_id": f"stats:{DAY}:{user_id}",
        "job_try": 1,
    }


PER_LEARNER_JOB = "per_learner_daily_stats"


async def per_learner_job(ctx: dict[str, Any], user_id: int, day: str) -> None:
    """One learner's day as a job of its own: the fan-out the set-based cron replaces."""
    resources: Resources = ctx[CTX_RESOURCES]
    async with resources.session_factory.begin() as session:
        user = await session.get(User, user_id)
        assert user is not None
        await upsert_daily_stats_for_user(session, user_id, dt.date.fromisoformat(day), user.timezone)


async def per_learner_sequential(resources: Resources, ids: list[int]) -> None:
    for user_id in ids:
        await per_learner_job(worker_ctx(resources, user_id), user_id, DAY.isoformat())


async def per_learner_concurrent(resources: Resources, ids: list[int]) -> None:
    gate = asyncio.Semaphore(DIRECT_CONCURRENCY)

    async def one(user_id: int) -> None:
        async with gate:
            await per_learner_job(worker_ctx(resources, user_id), user_id, DAY.isoformat())

    await asyncio.gather(*(one(user_id) for user_id in ids))


async def enqueue_all(resources: Resources, ids: list[int]) -> None:
    for user_id in ids:
        await resources.pool.enqueue_job(
            PER_LEARNER_JOB,
            user_id,
            DAY.isoformat(),
            _job_id=f"stats:{DAY}:{user_id}",
            _queue_name=Queue.FAST.value,
        )


async def drain(resources: Resources, redis_url: str) -> None:
    worker = Worker(
        functions=[
            arq_func(per_learner_job, name=PER_LEARNER_JOB, timeout=resources.settings.fast_job_timeout)
        ],
        queue_name=Queue.FAST.value,
        redis_settings=redis_settings(redis_url),
        ctx={CTX_RESOURCES: resources},
        job_serializer=serialize,
        job_deserializer=deserialize,
        max_jobs=WORKER_MAX_JOBS,
        poll_delay=0.01,
        burst=True,
        handle_signals=False,
        log_results=False,
    )
    try:
        await worker.main()
    finally:
        await worker.close()


async def floor_variant(resources: Resources, ids: list[int], label: str) -> float:
    """Variant (d): the concurrent fan-out with commits that do not wait for the WAL flush."""
    # mluv.db.session.create_engine's options, plus the relaxed commit.
    engine = create_async_engine(
        normalise_database_url(resources.settings.database_url or ""),
        pool_size=DIRECT_CONCURRENCY // 2,
        max_overflow=DIRECT_CONCURRENCY // 2,
        pool_pre_ping=True,
        connect_args={
            "server_settings": {"application_name": "mluv", "timezone": "UTC", "synchronous_commit": "off"}
        },
    )
    try:
        relaxed = dataclasses.replace(resources, session_factory=create_session_factory(engine))
        await forget(resources.session_factory, ids)
        seconds, _ = await timed(f"{label} ({len(ids):,})", per_learner_concurrent(relaxed, ids))
        return seconds
    finally:
        await engine.dispose()


async def main(learners: int, messages: int, sample: int) -> None:
    configure_logging(level="WARNING")
    started = time.perf_counter()
    with bench_redis_url() as redis_url:
        async with bench_database() as url:
            tick = f"{TICK:%Y-%m-%d %H:%M} UTC"
            print(f"daily statistics: set-based against a per-learner fan-out (day {DAY}, tick {tick})")
            seconds, counts = await timed(
                f"generate {learners:,} learners, ~{messages:,} messages", generate(url, learners, messages)
            )
            print(f"  -> {counts['learners']:,} learners, {counts['messages']:,} messages")
            settings = load_settings(
                _env_file=None,
                environment="test",
                database_url=url,
                redis_url=redis_url,
                data_dir=Path(".mluv"),
            )
            resources = await Resources.create(settings)
            try:
                await resources.pool.flushdb()
                figures = await measure(resources, redis_url, counts, sample)
            finally:
                await resources.close()
    figures["setup_seconds"] = round(seconds, 3)
    figures["total_seconds"] = round(time.perf_counter() - started, 3)
    print(f"  total run time {figures['total_seconds']:.1f} s")
    path = write_result("aggregation", figures)
    print(f"wrote {path}")


async def measure(
    resources: Resources, redis_url: str, counts: dict[str, int], sample: int
) -> dict[str, Any]:
    session_factory = resources.session_factory
    learners = counts["learners"]
    first, last = set_based_days(TICK)
    set_seconds, result = await timed(
        "set-based, one statement (writes every row)", set_based(session_factory)
    )
    print(f"  -> {result.to_json()}")
    rerun_seconds, rerun = await timed(
        "set-based re-run (idempotent: nothing to write)", set_based(session_factory)
    )
    assert (rerun.inserted, rerun.updated) == (0, 0), rerun
    assert result.inserted == learners, result

    ids = await sample_learners(session_factory, sample)
    expected = await rows_of(session_factory, ids)
    variants: dict[str, float] = {}
    steps: list[tuple[str, Callable[[], Awaitable[Any]]]] = [
        ("per-learner job, sequential", lambda: per_learner_sequential(resources, ids)),
        (f"per-learner job, {DIRECT_CONCURRENCY} concurrent", lambda: per_learner_concurrent(resources, ids)),
    ]
    for label, step in steps:
        await forget(session_factory, ids)
        variants[label], _ = await timed(f"{label} ({len(ids):,} learners)", step())
        assert await rows_of(session_factory, ids) == expected, label
    await forget(session_factory, ids)
    enqueue_seconds, _ = await timed(f"arq: enqueue {len(ids):,} jobs", enqueue_all(resources, ids))
    drain_seconds, _ = await timed(
        f"arq: worker drains them (max_jobs {WORKER_MAX_JOBS})", drain(resources, redis_url)
    )
    assert await rows_of(session_factory, ids) == expected, "arq"
    variants[f"arq worker, max_jobs {WORKER_MAX_JOBS} (enqueue + drain)"] = enqueue_seconds + drain_seconds

    floor_label = f"floor: {DIRECT_CONCURRENCY} concurrent, synchronous_commit=off"
    floor_seconds = await floor_variant(resources, ids, floor_label)
    assert await rows_of(session_factory, ids) == expected, "floor"

    scale = learners / len(ids)
    extrapolated = {label: seconds * scale for label, seconds in variants.items()}
    best_label = min(extrapolated, key=lambda label: extrapolated[label])
    best = extrapolated[best_label]
    floor = floor_seconds * scale
    print(f"extrapolated to {learners:,} learners (x {scale:.0f}):")
    for label, seconds in [*extrapolated.items(), (floor_label, floor)]:
        print(f"  {label:<58}{seconds:>9.1f} s  ({seconds / set_seconds:,.0f}x the set-based run)")
    ratio = best / set_seconds
    verdict = "meets" if ratio >= 50 else "MISSES"
    print(f"set-based {set_seconds:.3f} s vs fastest fan-out {best:.1f} s: {ratio:,.0f}x faster")
    print(f"  ({verdict} the 50x target; against the floor: {floor / set_seconds:,.0f}x)")
    return {
        "learners": learners,
        "messages": counts["messages"],
        "day": DAY.isoformat(),
        "tick": TICK.isoformat(),
        "days_covered": [first.isoformat(), last.isoformat()],
        "set_based_seconds": round(set_seconds, 3),
        "set_based_rerun_seconds": round(rerun_seconds, 3),
        "set_based_rows": result.to_json(),
        "sample": len(ids),
        "per_learner_sample_seconds": {label: round(seconds, 3) for label, seconds in variants.items()},
        "per_learner_ms_per_job": {label: round(1000 * s / len(ids), 3) for label, s in variants.items()},
        "per_learner_extrapolated_seconds": {label: round(s, 1) for label, s in extrapolated.items()},
        "fastest_fan_out": best_label,
        "speedup": round(ratio, 1),
        "floor": {
            "variant": floor_label,
            "sample_seconds": round(floor_seconds, 3),
            "extrapolated_seconds": round(floor, 1),
            "speedup": round(floor / set_seconds, 1),
        },
        "target_speedup": 50,
    }


if __name__ == "__main__":
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--learners", type=int, default=100_000)
    parser.add_argument("--messages", type=int, default=1_000_000)
    parser.add_argument("--sample", type=int, default=2_000)
    arguments = parser.parse_args()
    asyncio.run(main(arguments.learners, arguments.messages, arguments.sample))
