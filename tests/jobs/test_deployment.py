"""One Redis for several deployments: the namespace of keys, queues and job ids; the marker (real Redis)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest
from arq.connections import RedisSettings
from arq.worker import func
from pydantic import SecretStr
from redis.asyncio import Redis

from mluv.jobs.arq_state import jobs_known, queue_state
from mluv.jobs.deployment import (
    DeploymentConflictError,
    RedisNamespace,
    claim_deployment,
    deployment_identity,
    namespace_of,
    read_marker,
    release_deployment,
)
from mluv.jobs.queues import Queue
from mluv.jobs.serializer import deserialize, serialize
from mluv.jobs.wake import WakingRedis, WakingWorker, create_waking_pool, wake_channel
from mluv.settings import Settings

DEFAULT = RedisNamespace()
B = RedisNamespace("b")


@pytest.mark.parametrize(
    ("namespace", "name", "expected"),
    [
        (DEFAULT, "mluv:queue:fast", "mluv:queue:fast"),
        (B, "mluv:queue:fast", "b:queue:fast"),
        (B, "b:queue:fast", "b:queue:fast"),  # idempotent: a worker's queue_name is mapped already
        (B, "mluv:metrics:job:x", "b:metrics:job:x"),
        (B, "other:key", "other:key"),  # not one of ours
        (RedisNamespace("mluv2"), "mluv:health:last", "mluv2:health:last"),
    ],
)
def test_rekey_maps_the_default_namespaces_names(namespace: RedisNamespace, name: str, expected: str) -> None:
    assert namespace.rekey(name) == expected


@pytest.mark.parametrize(
    ("namespace", "job_id", "expected"),
    [
        (DEFAULT, "reminder:7:2026-11-21", "reminder:7:2026-11-21"),
        (B, "reminder:7:2026-11-21", "b:reminder:7:2026-11-21"),
        (B, "b:reminder:7:2026-11-21", "b:reminder:7:2026-11-21"),  # read back from arq: unchanged
        (B, "b:x:retry3", "b:x:retry3"),  # a dead letter's retry id derived from a stored id
    ],
)
def test_job_ids_carry_the_namespace_outside_the_default(
    namespace: RedisNamespace, job_id: str, expected: str
) -> None:
    assert namespace.job_id(job_id) == expected
    assert namespace.local_id(expected) == job_id.removeprefix("b:")  # a cron reads its tick back


def test_keys_of_the_namespace() -> None:
    assert (B.marker_key, B.health_check_key(Queue.LONG.value)) == (
        "b:deployment",
        "b:queue:long:health-check",
    )
    assert (DEFAULT.marker_key, DEFAULT.health_check_key(Queue.FAST.value)) == (
        "mluv:deployment",
        Queue.FAST.health_check_key,
    )


def _settings(**values: Any) -> Settings:
    database_url = "postgresql://u:pw@db.internal:6432/mluv_prod"
    return Settings(_env_file=None, environment="test", database_url=database_url, **values)


@pytest.mark.parametrize(
    ("values", "expected"),
    [
        ({}, "mluv_prod@db.internal:6432 bot sandbox"),
        (
            {"bot_token": SecretStr("123456:AAAAAAAAAAAAAAAAAAAAAAAAAAAA")},
            "mluv_prod@db.internal:6432 bot 123456",
        ),
        ({"deployment_name": "staging"}, "staging"),
    ],
    ids=["sandbox", "bot-id", "named"],
)
def test_identity_names_database_and_bot_never_a_secret(values: dict[str, Any], expected: str) -> None:
    identity = deployment_identity(_settings(**values))
    assert identity == expected
    assert "pw" not in identity and "AAAA" not in identity


# --- the marker --------------------------------------------------------------------------------------------


@pytest.mark.integration
async def test_the_same_deployment_starts_again(redis: Redis, settings: Settings) -> None:
    first = await claim_deployment(redis, settings)
    assert await claim_deployment(redis, settings) == first
    assert await read_marker(redis, DEFAULT) == first


@pytest.mark.integration
async def test_another_deployment_is_refused_with_both_names_and_the_ways_out(
    redis: Redis, settings: Settings
) -> None:
    production = settings.model_copy(update={"deployment_name": "production"})
    staging = settings.model_copy(update={"deployment_name": "staging"})
    await claim_deployment(redis, production)
    with pytest.raises(DeploymentConflictError) as refused:
        await claim_deployment(redis, staging)
    message = str(refused.value)
    for part in ("'production'", "'staging'", "REDIS_URL", "REDIS_NAMESPACE", "mluv redis release-marker"):
        assert part in message
    assert await read_marker(redis, DEFAULT) == "production"  # the holder keeps its claim


@pytest.mark.integration
async def test_another_namespace_on_the_same_database_starts(redis: Redis, settings: Settings) -> None:
    await claim_deployment(redis, settings.model_copy(update={"deployment_name": "production"}))
    staging = settings.model_copy(update={"deployment_name": "staging", "redis_namespace": "staging"})
    assert await claim_deployment(redis, staging) == "staging"
    assert await read_marker(redis, RedisNamespace("staging")) == "staging"


@pytest.mark.integration
async def test_a_released_marker_lets_another_deployment_start(redis: Redis, settings: Settings) -> None:
    await claim_deployment(redis, settings.model_copy(update={"deployment_name": "old"}))
    assert not await release_deployment(redis, DEFAULT, "someone else")  # only the named holder's
    assert await release_deployment(redis, DEFAULT, "old")
    assert await claim_deployment(redis, settings.model_copy(update={"deployment_name": "new"})) == "new"


# --- two deployments, one Redis database ------------------------------------------------------------------

ran: list[tuple[str, str]] = []  # (worker's namespace, job id as the job saw it)


async def record(ctx: dict[str, Any], user_id: int) -> int:
    ran.append((ctx["deployment"], ctx["job_id"]))
    return user_id


@pytest.fixture
async def deployments(redis: Redis, redis_url: str) -> AsyncIterator[Callable[[str], Any]]:
    """Start a pool and a WakingWorker of a namespace on the test's Redis db; stopped at teardown."""
    ran.clear()
    started: list[tuple[WakingRedis, WakingWorker, asyncio.Task[None]]] = []

    async def start(name: str) -> WakingRedis:
        namespace = RedisNamespace(name)
        settings = RedisSettings.from_dsn(redis_url)
        pool = await create_waking_pool(settings, default_queue_name=Queue.FAST.value, namespace=namespace)
        worker = WakingWorker(
            functions=[func(record, name="remind")],
            queue_name=namespace.queue_name(Queue.FAST.value),
            redis_settings=settings,
            job_serializer=serialize,
            job_deserializer=deserialize,
            handle_signals=False,
            idle_poll=0.2,
            namespace=namespace,
            ctx={"deployment": name},
        )
        started.append((pool, worker, asyncio.create_task(worker.async_run())))
        return pool

    yield start
    for pool, worker, task in started:
        task.cancel()
        async with asyncio.timeout(10):
            await asyncio.gather(task, return_exceptions=True)
            await worker.close()
        await pool.aclose()


async def until(condition: Callable[[], bool], within: float = 10.0) -> None:
    start = time.monotonic()
    while not condition():
        if time.monotonic() - start > within:
            pytest.fail(f"not within {within} s")
        await asyncio.sleep(0.01)


@pytest.mark.integration
async def test_the_same_job_id_runs_once_in_each_deployment_and_never_crosses(
    deployments: Callable[[str], Any], redis: Redis
) -> None:
    a, b = await deployments("a"), await deployments("b")
    ids = [f"reminder:{user}:2026-11-21" for user in range(5)]
    for pool in (a, b):
        for user, job_id in enumerate(ids):
            assert await pool.enqueue_job("remind", user, _job_id=job_id, _queue_name=Queue.FAST.value)
    await until(lambda: len(ran) == 2 * len(ids))
    assert sorted(ran) == sorted([("a", f"a:{i}") for i in ids] + [("b", f"b:{i}") for i in ids])
    # Each deployment reads its own state under the ids it enqueued.
    assert await jobs_known(a, ids) == set(ids) == await jobs_known(b, ids)
    assert namespace_of(redis).is_default
    assert await jobs_known(redis, ids) == set()  # the default namespace holds none of them


@pytest.mark.integration
async def test_a_namespaces_keys_stay_in_it(deployments: Callable[[str], Any], redis: Redis) -> None:
    b = await deployments("b")
    await b.enqueue_job("remind", 1, _job_id="reminder:1:2026-11-21")
    await b.enqueue_job("remind", 2, _job_id="later", _defer_by=600)
    await until(lambda: len(ran) == 1)
    keys = sorted(key.decode() for key in await redis.keys("*"))
    assert keys  # results, the deferred job, the queue, arq's heartbeat
    for key in keys:
        assert key.startswith("b:") or key.startswith(("arq:job:b:", "arq:result:b:", "arq:retry:b:")), key
    assert wake_channel(b, Queue.FAST.value).startswith("b:wake:")
    state = await queue_state(b, Queue.FAST)
    assert (state.deferred, state.heartbeat is not None) == (1, True)
    assert (await queue_state(redis, Queue.FAST)).deferred == 0  # the default namespace's queue is empty
