"""Redis connections handed out without a process-wide lock: every pool this project makes uses it.

redis-py 5.3 added an asyncio.Lock around `ConnectionPool.get_connection` and holds it across
`ensure_connection`, whose readiness check with hiredis awaits a read under a zero timeout: it yields to
the event loop every time. So each Redis command of a process queued behind every other command's
check, one loop turn each (redis/redis-py#3692, open; the check's fix, #4063, is in redis-py 8, and
arq 0.28 pins redis<6). Under load the queue became the bottleneck: in a paid broadcast's worker, a rate
limiter script that Redis ran in 31 µs took 27 ms (p50) to come back (bench/broadcast.py --paid).

`ConcurrentConnectionPool.get_connection` takes a connection the way redis-py's own
BlockingConnectionPool does: the pop and its mark as in use are one step with no await between them
(atomic under asyncio), and the readiness check runs outside any lock, on a connection no other task
holds. Nothing else changes: the same connections, limits, checks and errors.
"""

from __future__ import annotations

from typing import Any

from redis.asyncio import ConnectionPool, Redis
from redis.asyncio.connection import AbstractConnection


class ConcurrentConnectionPool(ConnectionPool):
    async def get_connection(
        self, command_name: Any = None, *keys: Any, **options: Any
    ) -> AbstractConnection:
        # Synchronous: no other task can take this connection meanwhile.
        connection: AbstractConnection = self.get_available_connection()  # type: ignore[no-untyped-call]
        try:
            await self.ensure_connection(connection)
        except BaseException:
            await self.release(connection)
            raise
        return connection


def use_concurrent_pool(client: Redis) -> None:
    """Switch a client made by arq's create_pool (a plain ConnectionPool: the class is all that differs)
    to ConcurrentConnectionPool; a Sentinel's pool is left as it is."""
    if type(client.connection_pool) is ConnectionPool:
        client.connection_pool.__class__ = ConcurrentConnectionPool
