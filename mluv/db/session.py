"""The async engine and session factory, built once per process and shared by the bot and the workers.

Behind PgBouncer in transaction mode (DATABASE_POOLER=pgbouncer-transaction) consecutive transactions of
one client connection may run on different server connections, so nothing may outlive a transaction:
- asyncpg's statement cache and SQLAlchemy's prepared-statement cache are off (a cached statement would be
  looked up on a server that never prepared it: "prepared statement ... does not exist");
- SQLAlchemy's dialect still prepares every statement by name, so names are unique (uuid) instead of
  asyncpg's per-connection counter, which collides with other clients' statements left on the same server
  ("prepared statement __asyncpg_stmt_1__ already exists");
- those prepared statements are deallocated just before each COMMIT, while the transaction still pins its
  server: asyncpg closes a statement lazily, at the next query, which would reach another server.
The startup parameters (application_name, timezone) are safe: PgBouncer tracks both per client and
re-applies them when it assigns a server connection.
"""

from __future__ import annotations

import contextlib
import uuid
from typing import Any

import asyncpg
from sqlalchemy import Connection, event
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker, create_async_engine
from sqlalchemy.util import await_only

from mluv.settings import DatabasePooler, normalise_database_url

# Below the idle timeouts of managed Postgres and proxies, so the pool never hands out a dead connection.
POOL_RECYCLE_SECONDS = 1800
# application_name shows up in pg_stat_activity; UTC makes `::date` casts mean UTC days.
SERVER_SETTINGS = {"application_name": "mluv", "timezone": "UTC"}


def unique_statement_name() -> str:
    """A prepared statement name no other client of a shared server connection can have used."""
    return f"__mluv_{uuid.uuid4().hex}__"


def connect_args(pooler: DatabasePooler = DatabasePooler.NONE) -> dict[str, Any]:
    """asyncpg's connect arguments (through SQLAlchemy's dialect) for a database behind `pooler`."""
    args: dict[str, Any] = {"server_settings": dict(SERVER_SETTINGS)}
    if pooler is DatabasePooler.PGBOUNCER_TRANSACTION:
        args.update(no_statement_reuse())
    return args


def no_statement_reuse() -> dict[str, Any]:
    """Connect arguments under which no prepared statement is used outside the transaction that made it."""
    return {
        "statement_cache_size": 0,  # asyncpg's own cache
        "prepared_statement_cache_size": 0,  # SQLAlchemy's cache of asyncpg statements
        "prepared_statement_name_func": unique_statement_name,
    }


def max_connections_per_process(pool_size: int) -> int:
    """The most connections one engine opens: the pool plus its overflow (create_engine sets them equal)."""
    return 2 * pool_size


def create_engine(
    url: str,
    *,
    echo: bool = False,
    pool_size: int = 10,
    pooler: DatabasePooler = DatabasePooler.NONE,
) -> AsyncEngine:
    """An asyncpg engine; `url` may be any PostgreSQL URL (it is normalised for asyncpg)."""
    engine = create_async_engine(
        normalise_database_url(url),
        echo=echo,
        pool_size=pool_size,
        max_overflow=max_connections_per_process(pool_size) - pool_size,
        # SQLAlchemy pings inside a transaction of its own, as transaction pooling needs (sqlalchemy#10226).
        pool_pre_ping=True,
        pool_recycle=POOL_RECYCLE_SECONDS,
        connect_args=connect_args(pooler),
    )
    if pooler is DatabasePooler.PGBOUNCER_TRANSACTION:
        event.listen(engine.sync_engine, "commit", _deallocate_before_commit)
    return engine


def _deallocate_before_commit(connection: Connection) -> None:
    driver = connection.connection.driver_connection
    # Outside a transaction PgBouncer would send it to any server; asyncpg rejects it in a failed one.
    if isinstance(driver, asyncpg.Connection) and driver.is_in_transaction():
        # The COMMIT that follows reports whatever went wrong with this transaction.
        with contextlib.suppress(asyncpg.PostgresError):
            await_only(driver.execute("DEALLOCATE ALL"))


def create_session_factory(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    """Sessions whose objects stay readable after commit (no lazy refresh, which async cannot do)."""
    return async_sessionmaker(engine, expire_on_commit=False)
