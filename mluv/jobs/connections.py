"""Connections to Redis for arq: the settings every pool and worker uses, and the enqueueing pool."""

from __future__ import annotations

import dataclasses

from arq.connections import RedisSettings

from mluv.jobs.deployment import RedisNamespace
from mluv.jobs.queues import Queue
from mluv.jobs.wake import WakingRedis, create_waking_pool


def redis_settings(url: str) -> RedisSettings:
    # arq gives up after 5 tries 1 s apart by default; a Redis restart (deploy, failover) can take longer.
    return dataclasses.replace(RedisSettings.from_dsn(url), conn_retries=30, conn_retry_delay=1)


async def create_arq_pool(url: str, namespace: RedisNamespace | None = None) -> WakingRedis:
    """An arq pool using the safe serializer (never pickle), like every worker; its enqueue_job is one
    round trip and wakes the queue's workers (mluv.jobs.wake); it carries the deployment's namespace."""
    return await create_waking_pool(
        redis_settings(url), default_queue_name=Queue.FAST.value, namespace=namespace
    )
