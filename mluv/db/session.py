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

A connection is pinged at checkout only when it sat in the pool for PING_AFTER_IDLE_SECONDS or longer
(SQLAlchemy's "custom pessimistic ping" recipe: a failed ping raises DisconnectionError and the pool
replaces the connection). SQLAlchemy's pool_pre_ping pings at every checkout, and its ping is three round
trips (BEGIN, `;`, ROLLBACK: a transaction of its own, as transaction pooling needs, sqlalchemy#10226):
a third of a paid broadcast's database work per message. A connection back from use moments ago is
alive; one that dies in that window fails its statement, and SQLAlchemy then invalidates the whole pool
(every connection older than the failure is replaced at its next checkout), as without pinging.
"""

from __future__ import annotations

import contextlib
import time
import uuid
from typing import Any

import asyncpg
from sqlalchemy import Connection, event
from sqlalchemy.exc import DisconnectionError
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker, create_async_engine
from sqlalchemy.pool import ConnectionPoolEntry
from sqlalchemy.util import await_only

from mluv.settings import DatabasePooler, normalise_database_url

# Below the idle timeouts of managed Postgres and proxies, so the pool never hands out a dead connection.
POOL_RECYCLE_SECONDS = 1800
# A connection idle in the pool this long is pinged before it is handed out (module docstring).
PING_AFTER_IDLE_SECONDS = 1.0
_RETURNED_AT = "mluv_returned_at"  # the connection record's info: when it came back to the pool
_clock = time.monotonic  # tests move it on
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
        # No pool_pre_ping: _ping_if_idle pings only connections that sat idle (module docstring).
        pool_recycle=POOL_RECYCLE_SECONDS,
        connect_args=connect_args(pooler),
    )
    event.listen(engine.sync_engine.pool, "checkout", _ping_if_idle)
    event.listen(engine.sync_engine.pool, "checkin", _note_return)
    if pooler is DatabasePooler.PGBOUNCER_TRANSACTION:
        event.listen(engine.sync_engine, "commit", _deallocate_before_commit)
    return engine


def _ping_if_idle(dbapi_connection: Any, record: ConnectionPoolEntry, proxy: Any) -> None:
    returned = record.info.get(_RETURNED_AT)
    # A new connection has no return time (the record's info lives as long as its DBAPI connection).
    if returned is None or _clock() - returned < PING_AFTER_IDLE_SECONDS:
        return
    try:
        # The dialect's own ping: inside a transaction of its own, as transaction pooling needs.
        dbapi_connection.ping()
    except Exception as error:
        raise DisconnectionError(f"idle connection failed its ping: {type(error).__name__}") from error


def _note_return(dbapi_connection: Any, record: ConnectionPoolEntry) -> None:
    record.info[_RETURNED_AT] = _clock()


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
