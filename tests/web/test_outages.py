"""Outages as the health checks see them: /readyz while PostgreSQL or Redis is unreachable and after it
returns (a TCP proxy on loopback stands in for the network: the real servers are never stopped), and
`arq --check` / the dashboard's workers after a worker is SIGKILLed."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import pytest
from aiohttp.test_utils import TestClient, TestServer
from redis.asyncio import Redis

from mluv.jobs.arq_state import read_workers
from mluv.jobs.queues import Queue
from mluv.resources import Resources
from mluv.settings import Settings
from mluv.web.app import create_app
from tests.conftest import REPO_ROOT

pytestmark = [pytest.mark.integration, pytest.mark.slow]

BIN = Path(sys.executable).parent


Connect = Callable[[], Awaitable[tuple[asyncio.StreamReader, asyncio.StreamWriter]]]


class TcpProxy:
    """Forwards a loopback port to a server; stop() refuses and cuts every connection, start() resumes."""

    def __init__(self, connect: Connect) -> None:
        self.connect = connect
        self.port = 0
        self._server: asyncio.Server | None = None
        self._writers: set[asyncio.StreamWriter] = set()

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._handle, "127.0.0.1", self.port)
        self.port = self._server.sockets[0].getsockname()[1]

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
            self._server = None
        for writer in list(self._writers):
            writer.transport.abort()
        self._writers.clear()

    async def _handle(self, client_reader: asyncio.StreamReader, client_writer: asyncio.StreamWriter) -> None:
        try:
            server_reader, server_writer = await self.connect()
        except OSError:
            client_writer.transport.abort()
            return
        self._writers |= {client_writer, server_writer}

        async def pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            with contextlib.suppress(OSError, asyncio.CancelledError):
                while data := await reader.read(65536):
                    writer.write(data)
                    await writer.drain()
            writer.transport.abort()

        await asyncio.gather(pipe(client_reader, server_writer), pipe(server_reader, client_writer))
        self._writers -= {client_writer, server_writer}


def connector(url: str, default_port: int) -> Connect:
    """How to reach the server of `url`: TCP, or the unix socket of an embedded PostgreSQL (?host=/dir)."""
    parts = urlsplit(url)
    query = dict(parse_qsl(parts.query))
    port = int(query.get("port") or parts.port or default_port)
    if query.get("host", "").startswith("/"):
        path = f"{query['host']}/.s.PGSQL.{port}"
        return lambda: asyncio.open_unix_connection(path)
    return lambda: asyncio.open_connection(parts.hostname or "127.0.0.1", port)


def through(url: str, port: int) -> str:
    """`url` pointed at the proxy's port instead of its server."""
    parts = urlsplit(url)
    credentials = parts.netloc.rpartition("@")[0]
    netloc = f"{credentials}@127.0.0.1:{port}" if credentials else f"127.0.0.1:{port}"
    query = urlencode([(k, v) for k, v in parse_qsl(parts.query) if k not in {"host", "port"}])
    return urlunsplit(parts._replace(netloc=netloc, query=query))


@pytest.fixture
async def proxies(settings: Settings) -> AsyncIterator[tuple[TcpProxy, TcpProxy]]:
    pg = TcpProxy(connector(settings.database_url or "", 5432))
    rd = TcpProxy(connector(settings.redis_url or "", 6379))
    await pg.start()
    await rd.start()
    yield pg, rd
    await pg.stop()
    await rd.stop()


async def poll(check: Callable[[], Awaitable[Any]], expected: Any, within: float, what: str) -> float:
    started = time.monotonic()
    while True:
        if await check() == expected:
            return time.monotonic() - started
        if time.monotonic() - started > within:
            raise AssertionError(f"timed out after {within} s waiting for {what}")
        await asyncio.sleep(0.2)


async def test_readyz_follows_postgresql_and_redis_going_away_and_coming_back(
    settings: Settings, redis: Redis, proxies: tuple[TcpProxy, TcpProxy]
) -> None:
    pg, rd = proxies
    assert settings.database_url and settings.redis_url
    proxied = settings.model_copy(
        update={
            "database_url": through(settings.database_url, pg.port),
            "redis_url": through(settings.redis_url, rd.port),
        }
    )
    await redis.set(Queue.FAST.health_check_key, b"alive", ex=120)  # written directly, not via the proxy
    resources = await Resources.create(proxied)
    try:
        async with TestClient(TestServer(create_app(resources))) as client:

            async def readyz() -> tuple[int, bool, bool]:
                response = await client.get("/readyz")
                checks = (await response.json())["checks"]
                return response.status, checks["database"]["ok"], checks["redis"]["ok"]

            assert await readyz() == (200, True, True)

            await pg.stop()
            assert await readyz() == (503, False, True)
            await pg.start()
            await poll(readyz, (200, True, True), 15, "/readyz healthy after PostgreSQL returned")

            await rd.stop()
            status, database_ok, redis_ok = await readyz()
            assert (status, database_ok, redis_ok) == (503, True, False)
            await rd.start()
            await poll(readyz, (200, True, True), 15, "/readyz healthy after Redis returned")
    finally:
        await resources.close()


def arq_check(env: dict[str, str]) -> int:
    return subprocess.run(
        [str(BIN / "arq"), "--check", "workers.WorkerSettings"],
        cwd=REPO_ROOT,
        env=env,
        capture_output=True,
        timeout=60,
    ).returncode


async def test_arq_check_and_the_dashboard_see_a_sigkilled_worker_die_within_a_minute(
    database_url: str, redis_url: str, redis: Redis, tmp_path: Path
) -> None:
    env = {
        k: v for k, v in os.environ.items() if not k.startswith(("BOT_", "WEBHOOK_", "TELEGRAM_", "WORKER_"))
    }
    env.update(
        ENVIRONMENT="test",
        DATABASE_URL=database_url,
        REDIS_URL=redis_url,
        DATA_DIR=str(tmp_path / "data"),
        LOG_JSON="true",
        TELEGRAM_API_BASE="http://127.0.0.1:9",
        PYTHONPATH=str(REPO_ROOT),
    )
    log_path = tmp_path / "worker.log"
    with log_path.open("wb") as log_file:
        worker = subprocess.Popen(
            [str(BIN / "arq"), "workers.WorkerSettings"],
            cwd=REPO_ROOT,
            env=env,
            stdout=log_file,
            stderr=subprocess.STDOUT,
        )
    try:
        await poll(
            lambda: asyncio.to_thread(lambda: "worker started" in log_path.read_text(errors="replace")),
            True,
            30,
            "worker start",
        )

        async def presence() -> bool:
            return any(w.pid == worker.pid for w in await read_workers(redis))

        await poll(presence, True, 10, "the worker's presence")
        assert await asyncio.to_thread(arq_check, env) == 0

        worker.send_signal(signal.SIGKILL)
        worker.wait(10)
        # Defaults: heartbeat every 15 s, key TTL 16 s (arq) and 17 s (presence): both well within a minute.
        # The key is polled cheaply; `arq --check` (a process start, seconds) confirms once it is gone.
        dead_after = await poll(
            lambda: redis.exists(Queue.FAST.health_check_key), 0, 60, "the heartbeat to expire"
        )
        assert await asyncio.to_thread(arq_check, env) == 1
        gone_after = await poll(presence, False, 60, "the worker to leave the dashboard")
        assert dead_after < 20 and gone_after < 20, (dead_after, gone_after)
    finally:
        if worker.poll() is None:
            worker.kill()
            worker.wait(10)
