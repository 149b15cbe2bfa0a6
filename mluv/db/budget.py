"""The connection budget: every process's pool together must fit in what the database server accepts.

Checked once at start by `mluv serve` and `mluv worker`: DATABASE_PROCESSES × (2 × DATABASE_POOL_SIZE) must
not exceed the server's `max_connections − superuser_reserved_connections`, or at peak some process gets
"sorry, too many clients already" instead of a connection. Behind PgBouncer (DATABASE_POOLER) the server
only sees PgBouncer's own pool (`default_pool_size` per database and user), so the limit that matters
is PgBouncer's `max_client_conn`, which a client cannot read: the check then only reports the figures.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from mluv.db.session import max_connections_per_process
from mluv.logs import get_logger
from mluv.settings import DatabasePooler, Settings

log = get_logger(__name__)


@dataclass(frozen=True)
class ConnectionBudget:
    processes: int
    pool_size: int
    max_connections: int
    reserved: int
    pooler: DatabasePooler = DatabasePooler.NONE

    @property
    def per_process(self) -> int:
        return max_connections_per_process(self.pool_size)

    @property
    def needed(self) -> int:
        """Connections all processes open at peak (every pool full, every overflow used)."""
        return self.processes * self.per_process

    @property
    def available(self) -> int:
        """Connections the server grants to non-superusers."""
        return max(self.max_connections - self.reserved, 0)

    @property
    def exceeded(self) -> bool:
        # Behind PgBouncer the client-side figure is bounded by max_client_conn, not by the server.
        return self.pooler is DatabasePooler.NONE and self.needed > self.available

    def warning(self) -> str | None:
        """The start-up warning, or None when the budget fits (or PgBouncer sits in between)."""
        if not self.exceeded:
            return None
        return (
            f"database connection budget exceeded: {self.processes} processes × {self.per_process} "
            f"connections (DATABASE_POOL_SIZE {self.pool_size} + as many overflow) = {self.needed} > "
            f"max_connections {self.max_connections} − superuser_reserved_connections {self.reserved} = "
            f"{self.available}; at peak some process will get 'too many clients'. Lower DATABASE_POOL_SIZE, "
            "run fewer processes, raise max_connections, or put PgBouncer in transaction mode in front "
            "(DATABASE_POOLER=pgbouncer-transaction), where the server's budget is PgBouncer's "
            "default_pool_size instead"
        )


async def read_budget(engine: AsyncEngine, settings: Settings) -> ConnectionBudget:
    """The budget of this deployment, with the server's limits read through `engine`."""
    async with engine.connect() as connection:
        max_connections = int(await connection.scalar(text("SHOW max_connections")) or 0)
        reserved = int(await connection.scalar(text("SHOW superuser_reserved_connections")) or 0)
    return ConnectionBudget(
        processes=settings.database_processes,
        pool_size=settings.database_pool_size,
        max_connections=max_connections,
        reserved=reserved,
        pooler=settings.database_pooler,
    )


async def check_connection_budget(engine: AsyncEngine, settings: Settings) -> ConnectionBudget | None:
    """Log the budget at start: a warning when it does not fit. Never stops the process (None if unread)."""
    try:
        budget = await read_budget(engine, settings)
    except Exception as error:  # a check that fails must not keep the process from starting
        log.warning("could not read the database's connection limits", error=repr(error))
        return None
    figures = {
        "processes": budget.processes,
        "per_process": budget.per_process,
        "needed": budget.needed,
        "max_connections": budget.max_connections,
        "reserved": budget.reserved,
    }
    if (message := budget.warning()) is not None:
        log.warning(message, **figures)
    elif budget.pooler is not DatabasePooler.NONE:
        log.info(
            "database connection budget: through PgBouncer, whose max_client_conn must be at least "
            "`needed`; the server's own budget is PgBouncer's default_pool_size",
            pooler=budget.pooler.value,
            **figures,
        )
    else:
        log.info("database connection budget fits", available=budget.available, **figures)
    return budget
