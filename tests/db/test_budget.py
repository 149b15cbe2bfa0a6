"""The connection budget checked at start (mluv.db.budget): a table of deployments → warning or not, and the
check against a real server's max_connections."""

from __future__ import annotations

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine
from structlog.testing import capture_logs

from mluv.db.budget import ConnectionBudget, check_connection_budget
from mluv.settings import DatabasePooler, load_settings

NONE, PGBOUNCER = DatabasePooler.NONE, DatabasePooler.PGBOUNCER_TRANSACTION


@pytest.mark.parametrize(
    ("processes", "pool_size", "max_connections", "reserved", "pooler", "needed", "warns"),
    [
        # The defaults (3 processes × (10 + 10)) against PostgreSQL's default 100 − 3.
        (3, 10, 100, 3, NONE, 60, False),
        # Exactly the limit fits; one connection more does not.
        (4, 12, 100, 4, NONE, 96, False),
        (4, 12, 99, 4, NONE, 96, True),
        # Scaled out: 6 processes × 20 > 97.
        (6, 10, 100, 3, NONE, 120, True),
        # A small managed server (max_connections 25): even one process at the default pool is too many.
        (1, 10, 25, 3, NONE, 20, False),
        (2, 10, 25, 3, NONE, 40, True),
        # Behind PgBouncer the server only sees PgBouncer's pool: no warning against max_connections.
        (6, 10, 100, 3, PGBOUNCER, 120, False),
        # Reserved above max_connections (misconfigured server): nothing is available.
        (1, 1, 3, 5, NONE, 2, True),
    ],
)
def test_budget(
    processes: int,
    pool_size: int,
    max_connections: int,
    reserved: int,
    pooler: DatabasePooler,
    needed: int,
    warns: bool,
) -> None:
    budget = ConnectionBudget(processes, pool_size, max_connections, reserved, pooler)

    assert budget.needed == needed
    assert budget.exceeded is warns
    assert (budget.warning() is not None) is warns


def test_the_warning_names_the_figures_and_the_ways_out() -> None:
    warning = ConnectionBudget(6, 10, 100, 3).warning()

    assert warning is not None
    for part in (
        "6 processes × 20 connections",
        "= 120 > max_connections 100 − superuser_reserved_connections 3 = 97",
        "DATABASE_POOL_SIZE",
        "DATABASE_POOLER=pgbouncer-transaction",
        "default_pool_size",
    ):
        assert part in warning


@pytest.mark.integration
@pytest.mark.parametrize(
    ("processes", "level", "event_start"),
    [
        (1, "info", "database connection budget fits"),
        (1000, "warning", "database connection budget exceeded: 1000 processes × 4 connections"),
    ],
)
async def test_the_check_reads_the_servers_limits_and_logs(
    migrated_engine: AsyncEngine, processes: int, level: str, event_start: str
) -> None:
    settings = load_settings(database_processes=processes, database_pool_size=2)

    with capture_logs() as logs:
        budget = await check_connection_budget(migrated_engine, settings)

    assert budget is not None
    assert budget.max_connections > budget.reserved >= 0
    (record,) = [r for r in logs if "connection budget" in r["event"]]
    assert record["log_level"] == level
    assert record["event"].startswith(event_start)
    assert record["needed"] == processes * 4


@pytest.mark.integration
async def test_a_check_that_cannot_read_the_limits_does_not_stop_the_start() -> None:
    from mluv.db.session import create_engine

    # Nothing listens on port 1: the check logs and returns, the process goes on (and fails later, if ever).
    engine = create_engine("postgresql://postgres@127.0.0.1:1/none")
    try:
        with capture_logs() as logs:
            assert await check_connection_budget(engine, load_settings()) is None
    finally:
        await engine.dispose()

    assert [r["event"] for r in logs] == ["could not read the database's connection limits"]
