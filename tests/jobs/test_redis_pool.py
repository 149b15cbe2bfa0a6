"""Connections handed out without a pool-wide lock (mluv.jobs.redis_pool), on the real Redis."""

from __future__ import annotations

import asyncio

import pytest
from redis.asyncio import ConnectionPool, Redis
from redis.asyncio.connection import Connection

from mluv.jobs.connections import create_arq_pool
from mluv.jobs.redis_pool import ConcurrentConnectionPool

pytestmark = pytest.mark.integration


class StalledConnect(Connection):
    """A new connection whose set-up hangs until released (a slow network, a Redis restarting)."""

    release = asyncio.Event()

    async def connect(self) -> None:
        await self.release.wait()
        await super().connect()  # type: ignore[no-untyped-call]


@pytest.mark.parametrize(
    ("pool_class", "waits_behind_the_stalled_one"),
    [(ConnectionPool, True), (ConcurrentConnectionPool, False)],
    ids=["redis-py's lock", "concurrent"],
)
async def test_a_ready_connection_is_not_held_up_by_another_one_connecting(
    redis_url: str, pool_class: type[ConnectionPool], waits_behind_the_stalled_one: bool
) -> None:
    pool = pool_class.from_url(redis_url)
    client = Redis(connection_pool=pool)
    try:
        await client.ping()  # one connected connection, back in the pool
        ready = pool._available_connections.pop()
        StalledConnect.release = asyncio.Event()
        pool.connection_class = StalledConnect
        stalled = asyncio.create_task(pool.get_connection())  # a new connection: it hangs
        await asyncio.sleep(0.05)
        pool._available_connections.append(ready)
        taken = asyncio.create_task(pool.get_connection())
        done, _ = await asyncio.wait({taken}, timeout=0.5)
        assert (taken not in done) is waits_behind_the_stalled_one
        StalledConnect.release.set()
        assert await taken is ready
        await pool.release(await stalled)
        await pool.release(ready)
    finally:
        await client.aclose()
        await pool.aclose()


async def test_every_pool_of_the_project_hands_out_connections_concurrently(redis_url: str) -> None:
    pool = await create_arq_pool(redis_url)
    try:
        assert type(pool.connection_pool) is ConcurrentConnectionPool
        # A burst of commands in flight at once, each on a connection of its own, all answered.
        answers = await asyncio.gather(*(pool.incr("mluv:test:concurrent") for _ in range(200)))
        assert sorted(answers) == list(range(1, 201))
        assert len(pool.connection_pool._in_use_connections) == 0
    finally:
        await pool.aclose()
