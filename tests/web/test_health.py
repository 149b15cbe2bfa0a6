"""/healthz and /readyz against real PostgreSQL and Redis."""

from __future__ import annotations

import tomllib
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer
from redis.asyncio import Redis

from mluv.jobs.queues import Queue
from mluv.resources import Resources
from mluv.settings import Settings
from mluv.web.app import create_app
from mluv.web.health import start_worker_health_server

pytestmark = pytest.mark.integration


@pytest.fixture
async def resources(settings: Settings) -> AsyncIterator[Resources]:
    created = await Resources.create(settings)
    yield created
    await created.close()


@pytest.fixture
async def client(resources: Resources) -> AsyncIterator[TestClient[web.Request, web.Application]]:
    async with TestClient(TestServer(create_app(resources))) as test_client:
        yield test_client


async def test_healthz_answers(client: TestClient[web.Request, web.Application]) -> None:
    response = await client.get("/healthz")
    assert response.status == 200
    assert await response.json() == {"status": "ok"}


@pytest.mark.parametrize(
    ("alive", "status", "queues"),
    [
        ([], 503, None),
        ([Queue.FAST], 200, {"fast": True, "long": False}),
        ([Queue.FAST, Queue.LONG], 200, {"fast": True, "long": True}),
    ],
    ids=["no-worker", "fast-only", "both"],
)
async def test_readyz_needs_database_redis_and_a_worker_heartbeat(
    client: TestClient[web.Request, web.Application],
    redis: Redis,
    alive: list[Queue],
    status: int,
    queues: object,
) -> None:
    for queue in alive:
        await redis.set(queue.health_check_key, b"j_complete=0", ex=30)
    response = await client.get("/readyz")
    body = await response.json()
    assert response.status == status
    assert body["checks"]["database"]["ok"] is True
    assert body["checks"]["redis"]["ok"] is True
    assert body["checks"]["workers"]["ok"] is bool(alive)
    assert body["checks"]["workers"].get("queues") == queues
    assert body["status"] == ("ok" if alive else "unhealthy")


async def test_readyz_reports_an_unreachable_database(settings: Settings, redis: Redis) -> None:
    broken = settings.model_copy(update={"database_url": "postgresql+asyncpg://nobody@127.0.0.1:9/none"})
    resources = await Resources.create(broken)
    try:
        await redis.set(Queue.FAST.health_check_key, b"x", ex=30)
        async with TestClient(TestServer(create_app(resources))) as client:
            response = await client.get("/readyz")
            body = await response.json()
    finally:
        await resources.close()
    assert response.status == 503
    assert body["checks"]["database"]["ok"] is False
    assert body["checks"]["redis"]["ok"] is True


async def test_worker_health_server_follows_the_heartbeat(redis: Redis, unused_tcp_port: int) -> None:
    import aiohttp

    runner = await start_worker_health_server(redis, Queue.LONG, "127.0.0.1", unused_tcp_port)
    url = f"http://127.0.0.1:{unused_tcp_port}/healthz"
    try:
        async with aiohttp.ClientSession() as session:
            async with session.get(url) as response:
                assert response.status == 503
            await redis.set(Queue.LONG.health_check_key, b"x", ex=30)
            async with session.get(url) as response:
                assert response.status == 200
                assert (await response.json())["queue"] == "long"
    finally:
        await runner.cleanup()


FLY = tomllib.loads((Path(__file__).resolve().parents[2] / "fly.toml").read_text())


@pytest.mark.parametrize("path", [check["path"] for check in FLY["http_service"]["checks"]])
async def test_the_web_machines_fly_check_is_green_with_no_worker_running(
    client: TestClient[web.Request, web.Application], redis: Redis, path: str
) -> None:
    assert not any([await redis.exists(queue.health_check_key) for queue in Queue])
    assert (await client.get("/readyz")).status == 503  # the workers' absence is still reported there
    assert (await client.get(path)).status == 200
