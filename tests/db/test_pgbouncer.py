"""Through a real PgBouncer in transaction mode (Debian's package): migrations, the repository paths the jobs
use most, and many concurrent transactions over a small server pool, with DATABASE_POOLER set; without
it, the same load fails with asyncpg's prepared-statement errors (so these tests can fail).

pgbouncer is started per test on a free loopback port (bench/chaos_pgbouncer.py run_pgbouncer), in front
of the session's test server; a missing binary skips locally and fails in CI.
"""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select, text
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from bench.chaos_pgbouncer import PREPARED_STATEMENT_ERRORS, PgBouncer, pgbouncer_binary, run_pgbouncer
from mluv.db.analytics import upsert_daily_stats_all
from mluv.db.learners import record_practice
from mluv.db.migrate import current, head, upgrade
from mluv.db.models import DailyStats, Delivery, DeliveryStatus, Message, User
from mluv.db.session import connect_args, create_engine, create_session_factory
from mluv.settings import DatabasePooler
from mluv.telegram import ledger
from tests.conftest import unavailable

pytestmark = pytest.mark.integration

POOLER = DatabasePooler.PGBOUNCER_TRANSACTION
SERVER_POOL = 5  # PgBouncer's default_pool_size: server connections per database
CONCURRENT = 50
ROUNDS = 4
LEARNER = 4242
NOW = dt.datetime(2026, 11, 21, 10, 5, tzinfo=dt.UTC)


@pytest.fixture
def bouncer(postgres_server_url: str, tmp_path: Path) -> Iterator[PgBouncer]:
    if pgbouncer_binary() is None:
        unavailable("pgbouncer (Debian package pgbouncer) not installed")
    with run_pgbouncer(postgres_server_url, tmp_path / "pgbouncer.log", pool_size=SERVER_POOL) as running:
        yield running


@pytest.fixture
async def pooled_engine(bouncer: PgBouncer, migrated_database_url: str) -> AsyncIterator[AsyncEngine]:
    # More client connections (2 × 25) than server connections (5): transactions must share servers.
    engine = create_engine(bouncer.url(migrated_database_url), pool_size=25, pooler=POOLER)
    try:
        yield engine
    finally:
        await engine.dispose()


async def small_transactions(engine: AsyncEngine) -> tuple[list[str], set[int], set[str]]:
    """ROUNDS × CONCURRENT transactions of a few statements: (errors, server pids seen, time zones seen)."""
    errors: list[str] = []
    pids: set[int] = set()
    zones: set[str] = set()

    async def one(n: int) -> None:
        try:
            async with engine.begin() as connection:
                await connection.execute(text("SELECT CAST(:n AS integer) + 1"), {"n": n})
                pids.add(int(await connection.scalar(text("SELECT pg_backend_pid()")) or 0))
                zones.add(str(await connection.scalar(text("SHOW timezone"))))
                await connection.scalar(select(func.count()).select_from(User))
        except Exception as error:  # every failure is a finding: the assertion lists them
            errors.append(f"{type(error).__name__}: {error}")

    for _ in range(ROUNDS):
        await asyncio.gather(*(one(n) for n in range(CONCURRENT)))
    return errors, pids, zones


def prepared_statement_errors(errors: list[str]) -> list[str]:
    return [error for error in errors if any(marker in error for marker in PREPARED_STATEMENT_ERRORS)]


async def test_concurrent_transactions_share_a_small_server_pool_without_prepared_statement_errors(
    pooled_engine: AsyncEngine,
) -> None:
    errors, pids, zones = await small_transactions(pooled_engine)

    assert errors == []
    # Multiplexed: 50 concurrent clients ran on at most SERVER_POOL server connections, more than one.
    assert 1 < len(pids) <= SERVER_POOL
    assert zones == {"UTC"}


async def test_without_the_setting_the_same_load_fails_with_prepared_statement_errors(
    bouncer: PgBouncer, migrated_database_url: str
) -> None:
    engine = create_engine(bouncer.url(migrated_database_url), pool_size=25)  # DATABASE_POOLER=none
    try:
        errors, _, _ = await small_transactions(engine)
    finally:
        await engine.dispose()

    assert prepared_statement_errors(errors), errors[:3]


async def test_each_clients_time_zone_survives_shared_server_connections(
    bouncer: PgBouncer, migrated_database_url: str, pooled_engine: AsyncEngine
) -> None:
    # Another client of the same servers with another zone: PgBouncer re-applies each client's own.
    args = {**connect_args(POOLER), "server_settings": {"timezone": "Europe/Prague"}}
    other = create_async_engine(
        bouncer.url(migrated_database_url).replace("postgresql://", "postgresql+asyncpg://"),
        pool_size=10,
        connect_args=args,
    )
    try:
        (ours, _, our_zones), (theirs, _, their_zones) = await asyncio.gather(
            small_transactions(pooled_engine), small_transactions(other)
        )
    finally:
        await other.dispose()

    assert ours == theirs == []
    assert our_zones == {"UTC"}
    assert their_zones == {"Europe/Prague"}


async def test_no_prepared_statement_is_left_on_the_server_connections(pooled_engine: AsyncEngine) -> None:
    errors, _, _ = await small_transactions(pooled_engine)
    left: list[int] = []
    for _ in range(3 * SERVER_POOL):
        async with pooled_engine.begin() as connection:
            # The counting statement itself is the one prepared statement of its transaction.
            count = await connection.scalar(text("SELECT count(*) FROM pg_prepared_statements"))
            left.append(int(count or 0))

    assert errors == []
    assert set(left) == {1}


async def test_migrations_run_through_pgbouncer(bouncer: PgBouncer, fresh_database_url: str) -> None:
    url = bouncer.url(fresh_database_url)

    await upgrade(url)

    assert await asyncio.to_thread(current, url) == head()


async def test_the_job_paths_work_through_pgbouncer(pooled_engine: AsyncEngine) -> None:
    sessions = create_session_factory(pooled_engine)
    async with sessions.begin() as session:
        session.add(User(id=LEARNER, created_at=NOW - dt.timedelta(days=3)))

    async def practise(n: int) -> int:
        async with sessions.begin() as session:
            user = await session.get(User, LEARNER)
            assert user is not None
            practice = await record_practice(
                session,
                user,
                text=f"Dnes je hezky {n}.",
                word_count=3,
                telegram_message_id=n,
                now=NOW - dt.timedelta(days=1, minutes=n),
            )
            return practice.message.id

    async def deliver(n: int) -> dict[str, Any]:
        row = await ledger.prepare(
            sessions,
            kind="feedback",
            recipient_id=LEARNER,
            business_key=f"message:{n}",
            payload={"text": "Výborně!"},
            job_id=f"review:{n}",
        )
        claimed = row.id in await ledger.claim_many(sessions, [(row.id, f"review:{n}")])
        await ledger.finish(sessions, ledger.Final(row.id, DeliveryStatus.SENT, telegram_message_id=n))
        return {"claimed": claimed}

    message_ids = await asyncio.gather(*(practise(n) for n in range(1, 21)))
    delivered = await asyncio.gather(*(deliver(n) for n in range(1, 21)))
    async with sessions.begin() as session:
        run = await upsert_daily_stats_all(session, NOW)

    async with sessions() as session:
        messages = await session.scalar(select(func.count()).select_from(Message))
        sent = await session.scalar(
            select(func.count()).select_from(Delivery).where(Delivery.status == DeliveryStatus.SENT)
        )
        stats = (await session.scalars(select(DailyStats).where(DailyStats.user_id == LEARNER))).all()
    assert len(set(message_ids)) == messages == 20
    assert delivered == [{"claimed": True}] * 20
    assert sent == 20
    assert run is not None
    assert [(row.date, row.messages_count) for row in stats] == [(NOW.date() - dt.timedelta(days=1), 20)]
