"""Alembic environment: async engine (asyncpg) driven through `run_sync`, models as the target metadata.

The database URL comes from, in order: `config.attributes["url"]` (set by `mluv.db.migrate`),
`-x url=...` on the command line, then `DATABASE_URL` through `mluv.settings`.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from alembic import context
from sqlalchemy import Connection, pool
from sqlalchemy.ext.asyncio import create_async_engine

from mluv.db.maintenance import MATERIALIZED_VIEWS
from mluv.db.models import Base
from mluv.db.session import no_statement_reuse
from mluv.settings import get_settings, normalise_database_url

config = context.config
target_metadata = Base.metadata


def database_url() -> str:
    url = config.attributes.get("url") or context.get_x_argument(as_dictionary=True).get("url")
    if not url:
        url = get_settings().database_url
    if not url:
        raise RuntimeError(
            "No database URL for migrations: set DATABASE_URL, pass `-x url=postgresql://...`, "
            'or set config.attributes["url"]'
        )
    return normalise_database_url(str(url))


def include_object(obj: Any, name: str | None, type_: str, reflected: bool, compare_to: Any) -> bool:
    """Leave migration-made materialized views (and their indexes) out of autogenerate's comparison."""
    if type_ == "table" and reflected and compare_to is None and name in MATERIALIZED_VIEWS:
        return False
    table = getattr(obj, "table", None)
    return not (type_ == "index" and reflected and getattr(table, "name", None) in MATERIALIZED_VIEWS)


def configure_cli_logging() -> None:
    # Only for the `alembic` command: code that calls mluv.db.migrate keeps its own logging setup.
    if config.cmd_opts is not None and not logging.getLogger().handlers:
        logging.basicConfig(level=logging.WARNING, format="%(levelname)-5.5s [%(name)s] %(message)s")
        logging.getLogger("alembic").setLevel(logging.INFO)


def run_migrations_offline() -> None:
    context.configure(
        url=database_url(),
        target_metadata=target_metadata,
        literal_binds=True,
        dialect_opts={"paramstyle": "named"},
        compare_type=True,
        include_object=include_object,
    )
    with context.begin_transaction():
        context.run_migrations()


def do_run_migrations(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        compare_type=True,
        include_object=include_object,
    )
    with context.begin_transaction():
        context.run_migrations()


async def run_async_migrations() -> None:
    engine = create_async_engine(
        database_url(),
        poolclass=pool.NullPool,
        # Without statement reuse migrations also run through transaction-mode PgBouncer (one-off: no cost).
        connect_args={"server_settings": {"application_name": "mluv-migrations"}, **no_statement_reuse()},
    )
    try:
        async with engine.connect() as connection:
            await connection.run_sync(do_run_migrations)
    finally:
        await engine.dispose()


configure_cli_logging()
if context.is_offline_mode():
    run_migrations_offline()
else:
    asyncio.run(run_async_migrations())
