"""The engine's options by DATABASE_POOLER (mluv.db.session), and the settings that choose them."""

from __future__ import annotations

import time

import pytest

from mluv.db.session import SERVER_SETTINGS, connect_args, create_engine, unique_statement_name
from mluv.settings import DatabasePooler, SettingsError, load_settings


@pytest.mark.parametrize(
    ("pooler", "expected"),
    [
        (DatabasePooler.NONE, {"server_settings"}),
        (
            DatabasePooler.PGBOUNCER_TRANSACTION,
            {
                "server_settings",
                "statement_cache_size",
                "prepared_statement_cache_size",
                "prepared_statement_name_func",
            },
        ),
    ],
)
def test_connect_args(pooler: DatabasePooler, expected: set[str]) -> None:
    args = connect_args(pooler)

    assert set(args) == expected
    # PgBouncer tracks both startup parameters per client, so they stay in either mode.
    assert args["server_settings"] == SERVER_SETTINGS
    if pooler is DatabasePooler.PGBOUNCER_TRANSACTION:
        assert args["statement_cache_size"] == args["prepared_statement_cache_size"] == 0
        assert args["prepared_statement_name_func"] is unique_statement_name


def test_statement_names_are_unique() -> None:
    names = {unique_statement_name() for _ in range(1000)}

    assert len(names) == 1000


@pytest.mark.parametrize(("pool_size", "overflow"), [(1, 1), (10, 10), (25, 25)])
async def test_the_pool_overflows_by_its_size(pool_size: int, overflow: int) -> None:
    engine = create_engine("postgresql://u@127.0.0.1/db", pool_size=pool_size)
    try:
        assert engine.pool.size() == pool_size  # type: ignore[attr-defined]
        assert engine.pool._max_overflow == overflow  # type: ignore[attr-defined]
    finally:
        await engine.dispose()


@pytest.mark.parametrize(
    ("environment", "expected"),
    [
        ({}, (DatabasePooler.NONE, 10, 3)),
        ({"database_pooler": "pgbouncer-transaction"}, (DatabasePooler.PGBOUNCER_TRANSACTION, 10, 3)),
        (
            {"database_pooler": "none", "database_pool_size": "4", "database_processes": "7"},
            (DatabasePooler.NONE, 4, 7),
        ),
    ],
)
def test_settings(environment: dict[str, str], expected: tuple[DatabasePooler, int, int]) -> None:
    settings = load_settings(**environment)

    assert (settings.database_pooler, settings.database_pool_size, settings.database_processes) == expected


@pytest.mark.parametrize(
    ("environment", "variable"),
    [
        ({"database_pooler": "pgbouncer"}, "DATABASE_POOLER"),
        ({"database_pooler": "pgbouncer-session"}, "DATABASE_POOLER"),
        ({"database_pool_size": "0"}, "DATABASE_POOL_SIZE"),
        ({"database_processes": "0"}, "DATABASE_PROCESSES"),
    ],
)
def test_invalid_settings_name_the_variable(environment: dict[str, str], variable: str) -> None:
    with pytest.raises(SettingsError, match=variable):
        load_settings(**environment)


@pytest.mark.parametrize(
    ("idle_seconds", "pinged"),
    [
        (0.0, False),  # back moments ago: presumed alive, handed out without a round trip
        (5.0, True),  # idle past PING_AFTER_IDLE_SECONDS: pinged first
    ],
)
async def test_a_connection_is_pinged_only_after_sitting_idle(
    database_url: str, monkeypatch: pytest.MonkeyPatch, idle_seconds: float, pinged: bool
) -> None:
    from sqlalchemy import text
    from sqlalchemy.dialects.postgresql.asyncpg import AsyncAdapt_asyncpg_connection

    from mluv.db import session as db_session

    pings: list[object] = []
    original_ping = AsyncAdapt_asyncpg_connection.ping

    def counted_ping(self: AsyncAdapt_asyncpg_connection) -> None:
        pings.append(self)
        original_ping(self)  # type: ignore[no-untyped-call]

    monkeypatch.setattr(AsyncAdapt_asyncpg_connection, "ping", counted_ping)
    engine = create_engine(database_url, pool_size=1)
    try:
        async with engine.connect() as connection:
            await connection.execute(text("SELECT 1"))
        now = time.monotonic()
        monkeypatch.setattr(db_session, "_clock", lambda: now + idle_seconds)
        async with engine.connect() as connection:
            await connection.execute(text("SELECT 1"))
    finally:
        await engine.dispose()

    assert bool(pings) is pinged


async def test_an_idle_connection_that_died_is_replaced_before_it_is_handed_out(
    database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    import asyncpg
    from sqlalchemy import text

    from mluv.db import session as db_session

    engine = create_engine(database_url, pool_size=1)
    try:
        async with engine.connect() as connection:
            first = await connection.scalar(text("SELECT pg_backend_pid()"))
        killer = await asyncpg.connect(
            database_url.replace("+asyncpg", "")
        )  # outside the pool, which would hand out the first
        try:
            await killer.execute("SELECT pg_terminate_backend($1)", first)
        finally:
            await killer.close()
        now = time.monotonic()
        monkeypatch.setattr(db_session, "_clock", lambda: now + 5.0)
        async with engine.connect() as connection:
            second = await connection.scalar(text("SELECT pg_backend_pid()"))
    finally:
        await engine.dispose()

    assert second != first
