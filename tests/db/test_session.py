"""The engine's options by DATABASE_POOLER (mluv.db.session), and the settings that choose them."""

from __future__ import annotations

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
