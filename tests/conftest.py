"""Shared fixtures: real PostgreSQL and Redis, isolated per test session.

Servers: TEST_DATABASE_URL / TEST_REDIS_URL when set, otherwise embedded servers (mluv.embedded) in
`.mluv/test-services`, started on first use and shared with concurrent sessions. A server that cannot be
reached skips the tests that need it, or fails them when CI=true.

Isolation, so that sessions may run side by side against the same servers:
- PostgreSQL: each session creates its own database `mluv_test_<hex>`, migrates it to head and drops it
  at the end. Nothing else on the server is touched.
- Redis: each session claims one db number (TEST_REDIS_DB, else a free one of 9-15) and flushes only it,
  never FLUSHALL.

Fixtures:
    postgres_server_url  (session) postgresql+asyncpg:// URL of the server's own database, for admin work
    database_url         (session) postgresql+asyncpg:// URL of the session's migrated database
    redis_url            (session) redis:// URL of the session's Redis db
    redis                redis.asyncio.Redis on redis_url, its db flushed before the test
    db_engine            AsyncEngine on database_url, disposed after the test
    session_factory      async_sessionmaker[AsyncSession] bound to db_engine
    clean_tables         truncates every app table (RESTART IDENTITY CASCADE) before the test
    settings             Settings(environment=test, these URLs, data_dir=tmp_path), ignoring env and .env
pytest-asyncio already provides `unused_tcp_port` and `unused_tcp_port_factory`.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import secrets
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any, NamedTuple, NoReturn, cast
from urllib.parse import urlsplit, urlunsplit

import pytest
from redis import Redis as SyncRedis
from redis.asyncio import Redis
from redis.exceptions import RedisError, ResponseError
from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncConnection, create_async_engine
from sqlalchemy.pool import NullPool

from mluv.settings import mask_url, normalise_database_url

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

    from mluv.embedded import EmbeddedServices
    from mluv.settings import Settings

REPO_ROOT = Path(__file__).resolve().parent.parent
SERVICES_DIR = REPO_ROOT / ".mluv" / "test-services"
TEST_DATABASE_PREFIX = "mluv_test_"
REDIS_TEST_DBS = range(9, 16)
REDIS_CLAIM_NAME = "mluv-test-session"
CONNECT_TIMEOUT = 10.0


def in_ci() -> bool:
    return os.environ.get("CI", "").strip().lower() in {"1", "true", "yes"}


def unavailable(reason: str) -> NoReturn:
    """Skip locally; in CI a missing service is a broken pipeline, not a reason to pass."""
    if in_ci():
        pytest.fail(reason, pytrace=False)
    pytest.skip(reason)


def _start_embedded(*, postgres: bool, redis: bool) -> EmbeddedServices:
    from mluv.embedded import EmbeddedServicesError, start_embedded

    variable = "TEST_DATABASE_URL" if postgres else "TEST_REDIS_URL"
    try:
        return start_embedded(SERVICES_DIR, postgres=postgres, redis=redis, redis_persistent=False)
    except EmbeddedServicesError as error:
        unavailable(f"{error} (or set {variable} to a server's URL)")


class Server(NamedTuple):
    url: str
    embedded: bool  # our own server (mluv.embedded), which only test sessions use


# PostgreSQL


@pytest.fixture(scope="session")
def _postgres_server() -> Iterator[Server]:
    configured = os.environ.get("TEST_DATABASE_URL", "").strip()
    if configured:
        yield Server(normalise_database_url(configured), embedded=False)
        return
    services = _start_embedded(postgres=True, redis=False)
    try:
        yield Server(services.database_url, embedded=True)
    finally:
        services.stop()


@pytest.fixture(scope="session")
def postgres_server_url(_postgres_server: Server) -> str:
    """postgresql+asyncpg:// URL of the test server's own database, for tests that create databases."""
    return _postgres_server.url


@pytest.fixture(scope="session")
def database_url(_postgres_server: Server) -> Iterator[str]:
    server_url, embedded = _postgres_server
    name = f"{TEST_DATABASE_PREFIX}{secrets.token_hex(6)}"
    try:
        asyncio.run(_create_database(server_url, name, drop_stale=embedded))
    except (OSError, SQLAlchemyError, TimeoutError) as error:
        unavailable(f"PostgreSQL at {mask_url(server_url)}: cannot create a test database: {error}")
    url = normalise_database_url(_with_path(server_url, name))
    try:
        try:
            from mluv.db.migrate import upgrade
        except ModuleNotFoundError as error:
            if error.name not in {"mluv.db", "mluv.db.migrate"}:
                raise
            unavailable("mluv.db.migrate is missing: cannot create the schema for database tests")
        asyncio.run(upgrade(url))
        yield url
    finally:
        asyncio.run(_drop_database(server_url, name))


@contextlib.asynccontextmanager
async def _admin_connection(server_url: str) -> AsyncIterator[AsyncConnection]:
    """A connection to the server's own database, autocommit (CREATE/DROP DATABASE refuse transactions)."""
    engine = create_async_engine(
        normalise_database_url(server_url),
        isolation_level="AUTOCOMMIT",
        poolclass=NullPool,
        connect_args={"timeout": CONNECT_TIMEOUT},
    )
    try:
        async with engine.connect() as connection:
            yield connection
    finally:
        await engine.dispose()


def _with_path(url: str, path: str) -> str:
    parts = urlsplit(url)
    return urlunsplit(parts._replace(path=f"/{path}"))


async def _create_database(server_url: str, name: str, *, drop_stale: bool) -> None:
    async with _admin_connection(server_url) as connection:
        if drop_stale:
            await _drop_stale_databases(connection)
        await connection.execute(text(f'CREATE DATABASE "{name}"'))
        # Lets a later session on the embedded server drop it if this process dies without cleaning up.
        await connection.execute(text(f"COMMENT ON DATABASE \"{name}\" IS 'mluv pytest pid {os.getpid()}'"))


async def _drop_stale_databases(connection: AsyncConnection) -> None:
    """Drop test databases left by dead sessions (only on the embedded server, which is ours alone)."""
    rows = await connection.execute(
        text(
            "SELECT datname, shobj_description(oid, 'pg_database') FROM pg_database"
            " WHERE starts_with(datname, :prefix)"
        ),
        {"prefix": TEST_DATABASE_PREFIX},
    )
    for name, note in rows.all():
        match = re.fullmatch(r"mluv pytest pid (\d+)", note or "")
        if match and not _pid_alive(int(match.group(1))):
            await _drop(connection, name)


async def _drop_database(server_url: str, name: str) -> None:
    async with _admin_connection(server_url) as connection:
        await _drop(connection, name)


async def _drop(connection: AsyncConnection, name: str) -> None:
    assert name.startswith(TEST_DATABASE_PREFIX), name
    # Engines a test forgot to dispose must not keep the database alive.
    await connection.execute(
        text(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
            " WHERE datname = :name AND pid <> pg_backend_pid()"
        ),
        {"name": name},
    )
    version = connection.dialect.server_version_info or (0,)
    force = " WITH (FORCE)" if version >= (13,) else ""
    await connection.execute(text(f'DROP DATABASE IF EXISTS "{name}"{force}'))


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


@pytest.fixture
async def db_engine(database_url: str) -> AsyncIterator[AsyncEngine]:
    from mluv.db.session import create_engine

    engine = create_engine(database_url, pool_size=5)
    try:
        yield engine
    finally:
        await engine.dispose()


@pytest.fixture
def session_factory(db_engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    from mluv.db.session import create_session_factory

    return create_session_factory(db_engine)


@pytest.fixture
async def clean_tables(db_engine: AsyncEngine) -> None:
    from mluv.db.models import Base

    preparer = db_engine.dialect.identifier_preparer
    tables = ", ".join(preparer.format_table(table) for table in Base.metadata.sorted_tables)
    if tables:
        async with db_engine.begin() as connection:
            await connection.execute(text(f"TRUNCATE {tables} RESTART IDENTITY CASCADE"))


# Redis


@pytest.fixture(scope="session")
def _redis_server() -> Iterator[Server]:
    configured = os.environ.get("TEST_REDIS_URL", "").strip()
    if configured:
        yield Server(configured, embedded=False)
        return
    services = _start_embedded(postgres=False, redis=True)
    try:
        yield Server(services.redis_url, embedded=True)
    finally:
        services.stop()


@pytest.fixture(scope="session")
def redis_url(_redis_server: Server) -> Iterator[str]:
    server_url, embedded = _redis_server
    try:
        db, claim = _claim_redis_db(server_url, accept_data=embedded)
    except (RedisError, OSError) as error:
        unavailable(f"Redis at {mask_url(server_url)} is unreachable: {error}")
    try:
        yield _with_path(server_url, str(db))
    finally:
        # Leave the db empty so that the next session can claim it.
        claim.flushdb()
        claim.close()


def _claim_redis_db(server_url: str, *, accept_data: bool) -> tuple[int, SyncRedis]:
    """Claim a db number for this session and return it with the connection that holds the claim.

    A claim is a named connection selecting that db. Concurrent claimants of one db all register first
    and then look: the lowest client id keeps it, the others move on.
    """
    explicit = os.environ.get("TEST_REDIS_DB", "").strip()
    candidates = [int(explicit)] if explicit else list(REDIS_TEST_DBS)
    for db in candidates:
        claim = SyncRedis.from_url(
            _with_path(server_url, str(db)),
            single_connection_client=True,
            socket_connect_timeout=CONNECT_TIMEOUT,
            socket_timeout=CONNECT_TIMEOUT,
        )
        try:
            claim.client_setname(REDIS_CLAIM_NAME)
            mine = cast(int, claim.client_id())
            try:
                clients = cast(list[dict[str, Any]], claim.client_list())
            except ResponseError:  # CLIENT LIST disabled (some managed Redis): no concurrency guard
                clients = []
            taken = any(
                client.get("name") == REDIS_CLAIM_NAME
                and int(client.get("db", -1)) == db
                and int(client["id"]) < mine
                for client in clients
            )
            # An explicitly chosen db is the user's promise that it may be flushed; otherwise keys in it
            # may be someone's data, except on the embedded server, which only test sessions use.
            if not taken and (explicit or accept_data or cast(int, claim.dbsize()) == 0):
                return db, claim
        except BaseException:
            claim.close()
            raise
        claim.close()
    where = f"db {explicit}" if explicit else f"every db of {REDIS_TEST_DBS.start}-{REDIS_TEST_DBS.stop - 1}"
    unavailable(
        f"Redis at {mask_url(server_url)}: {where} is in use by another test session or holds data; "
        "set TEST_REDIS_DB=<n> to use (and flush) a specific db"
    )


@pytest.fixture
async def redis(redis_url: str) -> AsyncIterator[Redis]:
    client = Redis.from_url(redis_url)
    try:
        await client.flushdb()
        yield client
    finally:
        await client.aclose()


# Settings


@pytest.fixture
def settings(database_url: str, redis_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Settings:
    from mluv.settings import load_settings, variable_names

    # A developer's BOT_TOKEN or .env must not reach tests (a real token would talk to Telegram).
    for variable in list(os.environ):
        if variable.upper() in variable_names():
            monkeypatch.delenv(variable)
    return load_settings(
        _env_file=None,
        environment="test",
        database_url=database_url,
        redis_url=redis_url,
        data_dir=tmp_path,
    )
