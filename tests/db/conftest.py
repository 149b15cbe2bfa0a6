"""Throwaway PostgreSQL databases for the db tests, on the session's test server (`postgres_server_url`:
TEST_DATABASE_URL, or the embedded server).

Every database made here is called `mluv_test_db_<random>` and dropped afterwards; no other database is
touched. The schema is migrated once into a template database per session and each test gets a copy
(CREATE DATABASE ... TEMPLATE is a file copy, much faster than running the migrations again).
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar
from urllib.parse import urlsplit, urlunsplit

import pytest
from sqlalchemy import NullPool, text
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker, create_async_engine

from mluv.db.migrate import upgrade
from mluv.db.session import create_engine, create_session_factory
from mluv.settings import normalise_database_url

T = TypeVar("T")

DATABASE_PREFIX = "mluv_test_db_"
# The server's own database (set once per session from the shared `postgres_server_url` fixture).
_admin_url: str | None = None


def admin_url() -> str:
    """The server's maintenance database, used only to create and drop the test databases."""
    assert _admin_url is not None, "the db_server fixture sets the server first"
    return _admin_url


def database_url(name: str) -> str:
    """The SQLAlchemy (asyncpg) URL of database `name` on the test server."""
    parts = urlsplit(admin_url())
    return urlunsplit((parts.scheme, parts.netloc, f"/{name}", parts.query, ""))


@pytest.fixture(scope="session", autouse=True)
def db_server(postgres_server_url: str) -> str:
    global _admin_url
    _admin_url = normalise_database_url(postgres_server_url)
    return _admin_url


def new_database_name() -> str:
    return f"{DATABASE_PREFIX}{uuid.uuid4().hex[:12]}"


async def execute_as_admin(statement: str) -> None:
    # CREATE/DROP DATABASE cannot run inside a transaction.
    engine = create_async_engine(admin_url(), poolclass=NullPool, isolation_level="AUTOCOMMIT")
    try:
        async with engine.connect() as connection:
            await connection.execute(text(statement))
    finally:
        await engine.dispose()


async def create_database(name: str, *, template: str = "template0") -> None:
    await execute_as_admin(f'CREATE DATABASE "{name}" TEMPLATE "{template}"')


async def drop_database(name: str) -> None:
    assert name.startswith(DATABASE_PREFIX), name
    await execute_as_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def run_in_thread(function: Callable[[], Awaitable[T]]) -> T:
    """Run a coroutine to completion on a private loop, leaving pytest-asyncio's loops alone."""

    async def main() -> T:
        return await function()

    with ThreadPoolExecutor(max_workers=1) as executor:
        return executor.submit(lambda: asyncio.run(main())).result()


@pytest.fixture(scope="session")
def migrated_template_database() -> Iterator[str]:
    """The name of a database migrated to head, used only as a template for per-test copies."""
    name = f"{new_database_name()}_template"

    async def create() -> None:
        await create_database(name)
        await upgrade(database_url(name))

    run_in_thread(create)
    try:
        yield name
    finally:
        run_in_thread(lambda: drop_database(name))


@pytest.fixture
async def fresh_database_url() -> AsyncIterator[str]:
    """The URL of a new, empty database (no schema, no alembic_version)."""
    name = new_database_name()
    await create_database(name)
    try:
        yield database_url(name)
    finally:
        await drop_database(name)


@pytest.fixture
async def migrated_database_url(migrated_template_database: str) -> AsyncIterator[str]:
    """The URL of a new database already migrated to head."""
    name = new_database_name()
    await create_database(name, template=migrated_template_database)
    try:
        yield database_url(name)
    finally:
        await drop_database(name)


@pytest.fixture
async def migrated_engine(migrated_database_url: str) -> AsyncIterator[AsyncEngine]:
    engine = create_engine(migrated_database_url, pool_size=2)
    try:
        yield engine
    finally:
        await engine.dispose()


@pytest.fixture
def migrated_sessions(migrated_engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return create_session_factory(migrated_engine)
