"""/metrics: Prometheus text format from the shared state, protected by a bearer token or a private port.

The text is written by prometheus_client; the names, types and labels are pinned against those served before
the switch (FAMILIES), so deployed alert rules and dashboards keep working."""

from __future__ import annotations

import asyncio
import datetime as dt
import re
import shutil
import subprocess
import time
from typing import Any

import aiohttp
import pytest
from aiohttp.test_utils import TestClient, TestServer
from prometheus_client import REGISTRY, CollectorRegistry, generate_latest
from prometheus_client.parser import text_string_to_metric_families
from prometheus_client.samples import Sample
from pydantic import SecretStr
from redis.asyncio import Redis

from mluv.db.models import CronRun, Delivery, PlatformMetrics
from mluv.jobs.counters import BUCKETS, JobCounters, JobStats, Outcome
from mluv.jobs.failures import insert_failure
from mluv.jobs.presence import WorkerPresence
from mluv.jobs.queues import Queue
from mluv.resources import Resources
from mluv.settings import Settings
from mluv.web.app import create_app
from mluv.web.prometheus import DatabaseFigures, Figures, FiguresCollector, RedisFigures, start_metrics_server
from tests.web import dashboard_jobs
from tests.web.conftest import METRICS_TOKEN, Client

pytestmark = pytest.mark.integration

AUTH = {"Authorization": f"Bearer {METRICS_TOKEN}"}

# Every family /metrics served when written by hand, with its type: alert rules and dashboards read them.
REDIS_FAMILIES = {
    "mluv_jobs_executed_total": "counter",
    "mluv_jobs_succeeded_total": "counter",
    "mluv_jobs_failed_total": "counter",
    "mluv_jobs_retried_total": "counter",
    "mluv_job_duration_seconds": "histogram",
    "mluv_job_last_execution_timestamp_seconds": "gauge",
    "mluv_queue_depth": "gauge",
    "mluv_queue_deferred_jobs": "gauge",
    "mluv_queue_running_jobs": "gauge",
    "mluv_queue_oldest_job_age_seconds": "gauge",
    "mluv_worker_heartbeat_up": "gauge",
    "mluv_workers": "gauge",
    "mluv_telegram_429_total": "counter",
    "mluv_ratelimit_penalty_seconds_total": "counter",
    "mluv_ratelimit_acquired_total": "counter",
    "mluv_ratelimit_waits_total": "counter",
    "mluv_ratelimit_wait_seconds_total": "counter",
    "mluv_ratelimit_refused_total": "counter",
    "mluv_ratelimit_rebooked_total": "counter",
}
PLATFORM_FAMILIES = {
    "mluv_learners": "gauge",
    "mluv_learner_messages": "gauge",
    "mluv_platform_snapshot_timestamp_seconds": "gauge",
}
DATABASE_FAMILIES = {
    "mluv_deliveries": "gauge",
    "mluv_job_failures_open": "gauge",
    "mluv_broadcasts": "gauge",
    "mluv_cron_last_success_timestamp_seconds": "gauge",
    "mluv_cron_interval_seconds": "gauge",
    "mluv_cron_next_run_timestamp_seconds": "gauge",
    "mluv_cron_last_run_failed": "gauge",
}
ALWAYS_FAMILIES = {"mluv_metrics_source_up": "gauge", "mluv_build_info": "gauge"}
FAMILIES = REDIS_FAMILIES | PLATFORM_FAMILIES | DATABASE_FAMILIES | ALWAYS_FAMILIES


def families(text: str) -> dict[str, str]:
    """Family name -> type from the # TYPE lines; a name written twice fails."""
    found: dict[str, str] = {}
    for name, kind in re.findall(r"^# TYPE (\S+) (\S+)$", text, re.MULTILINE):
        assert name not in found, f"{name} written twice"
        found[name] = kind
    return found


def samples(text: str) -> dict[str, list[Sample]]:
    """Samples by sample name (counters keep their _total), parsed by Prometheus' own parser."""
    found: dict[str, list[Sample]] = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            found.setdefault(sample.name, []).append(sample)
    return found


def value(found: dict[str, list[Sample]], name: str, **labels: str) -> float:
    matching = [s.value for s in found.get(name, []) if all(s.labels.get(k) == v for k, v in labels.items())]
    assert len(matching) == 1, (name, labels, found.get(name))
    return float(matching[0])


async def scrape(client: Client) -> str:
    response = await client.get("/metrics", headers=AUTH)
    assert response.status == 200, await response.text()
    assert response.headers["Content-Type"] == "text/plain; version=0.0.4; charset=utf-8"
    return await response.text()


async def test_metrics_need_the_bearer_token(client: Client) -> None:
    assert (await client.get("/metrics")).status == 401
    wrong = await client.get("/metrics", headers={"Authorization": "Bearer nope"})
    assert wrong.status == 401 and wrong.headers["WWW-Authenticate"].startswith("Bearer")
    assert (await client.get("/metrics", headers={"Authorization": f"Basic {METRICS_TOKEN}"})).status == 401
    assert (await client.get("/metrics", headers=AUTH)).status == 200


async def populate(resources: Resources, redis: Redis, session_factory: Any) -> None:
    metrics = JobCounters()
    for duration in (0.003, 0.04, 0.04, 0.7, 12.0):
        metrics.record("ping", Outcome.SUCCEEDED, duration)
    metrics.record("send_message", Outcome.RETRIED, 0.2)
    metrics.record("send_message", Outcome.FAILED, 0.3)
    await metrics.flush(redis)
    # Two waiting jobs due 30 s ago and now, one deferred, one running (it must not count as waiting).
    now_ms = time.time() * 1000
    waiting = await dashboard_jobs.dashboard_test_sleep.enqueue(resources.pool, seconds=1.0)
    assert waiting is not None
    await redis.zadd(Queue.FAST.value, {waiting.job_id: now_ms - 30_000})
    await dashboard_jobs.dashboard_test_sleep.enqueue(resources.pool, seconds=1.0)
    await dashboard_jobs.dashboard_test_sleep.options(defer_by=300).enqueue(resources.pool, seconds=1.0)
    running = await dashboard_jobs.dashboard_test_sleep.enqueue(resources.pool, seconds=1.0)
    assert running is not None
    await redis.zadd(Queue.FAST.value, {running.job_id: now_ms - 90_000})
    await redis.set(f"arq:in-progress:{running.job_id}", 1, ex=60)
    await redis.set(Queue.FAST.health_check_key, b"j_complete=1", ex=30)
    # The worker reports the job it runs: running is what a live worker runs (mluv.jobs.arq_state).
    presence = WorkerPresence(Queue.FAST.value, max_jobs=10, heartbeat_seconds=15, worker_id="m:1:fast")
    presence.job_started(running.job_id, 1)
    await presence.flush(redis)

    async with session_factory.begin() as session:
        for n, status in enumerate(["sent", "sent", "sent", "blocked", "unknown"]):
            session.add(Delivery(kind="reminder", recipient_id=n, business_key="2026-11-21", status=status))
        session.add(Delivery(kind="broadcast:1", recipient_id=1, business_key="b1", status="sent"))
        session.add(
            CronRun(
                cron_name="health_check",
                business_key="2026-11-21T20:00:00Z",
                business_date=dt.date(2026, 11, 21),
                status="succeeded",
                finished_at=dt.datetime(2026, 11, 21, 20, 0, 1, tzinfo=dt.UTC),
            )
        )
        # Two snapshots: /metrics shows the newer one.
        for minute, total in ((0, 10), (30, 12)):
            session.add(
                PlatformMetrics(
                    captured_at=dt.datetime(2026, 11, 21, 20, minute, tzinfo=dt.UTC),
                    total_users=total,
                    active_users_1d=4,
                    active_users_7d=7,
                    messages_1d=25,
                    messages_total=400,
                )
            )
    await insert_failure(
        session_factory,
        job_id="send_message:1",
        job_name="send_message",
        queue=Queue.FAST.value,
        arguments={},
        error="TelegramBadRequest: x",
        traceback_text="",
        tries=1,
    )


async def test_metrics_parse_and_carry_the_figures(
    client: Client, web_resources: Resources, redis: Redis, session_factory: Any
) -> None:
    import workers  # noqa: F401 - registers health_check

    await populate(web_resources, redis, session_factory)
    found = samples(await scrape(client))

    assert value(found, "mluv_jobs_executed_total", job="ping") == 5
    assert value(found, "mluv_jobs_succeeded_total", job="ping") == 5
    assert value(found, "mluv_jobs_failed_total", job="send_message") == 1
    assert value(found, "mluv_jobs_retried_total", job="send_message") == 1
    # The histogram is cumulative, with every bucket of mluv.jobs.counters and +Inf.
    buckets = [s for s in found["mluv_job_duration_seconds_bucket"] if s.labels["job"] == "ping"]
    assert len(buckets) == len(BUCKETS) + 1 and buckets[-1].labels["le"] == "+Inf"
    assert value(found, "mluv_job_duration_seconds_bucket", job="ping", le="0.005") == 1
    assert value(found, "mluv_job_duration_seconds_bucket", job="ping", le="0.05") == 3
    assert value(found, "mluv_job_duration_seconds_bucket", job="ping", le="10.0") == 4
    assert value(found, "mluv_job_duration_seconds_bucket", job="ping", le="+Inf") == 5
    assert value(found, "mluv_job_duration_seconds_count", job="ping") == 5
    assert value(found, "mluv_job_duration_seconds_sum", job="ping") == pytest.approx(12.783)
    assert time.time() - value(found, "mluv_job_last_execution_timestamp_seconds", job="ping") < 60

    assert value(found, "mluv_queue_depth", queue="fast") == 2
    assert value(found, "mluv_queue_deferred_jobs", queue="fast") == 1
    assert value(found, "mluv_queue_running_jobs", queue="fast") == 1
    assert 29 < value(found, "mluv_queue_oldest_job_age_seconds", queue="fast") < 40
    assert value(found, "mluv_queue_depth", queue="long") == 0
    assert value(found, "mluv_queue_oldest_job_age_seconds", queue="long") == 0
    assert value(found, "mluv_worker_heartbeat_up", queue="fast") == 1
    assert value(found, "mluv_worker_heartbeat_up", queue="long") == 0
    assert value(found, "mluv_workers", queue="fast") == 1

    assert value(found, "mluv_deliveries", kind="reminder", status="sent") == 3
    assert value(found, "mluv_deliveries", kind="reminder", status="unknown") == 1
    assert value(found, "mluv_deliveries", kind="broadcast:1", status="sent") == 1
    assert value(found, "mluv_job_failures_open", job="send_message") == 1

    success = dt.datetime(2026, 11, 21, 20, 0, 1, tzinfo=dt.UTC).timestamp()
    assert value(found, "mluv_cron_last_success_timestamp_seconds", cron="health_check") == success
    assert value(found, "mluv_cron_interval_seconds", cron="health_check") == 300
    assert value(found, "mluv_cron_last_run_failed", cron="health_check") == 0
    assert value(found, "mluv_cron_next_run_timestamp_seconds", cron="health_check") > time.time()

    assert value(found, "mluv_learners", scope="total") == 12
    assert value(found, "mluv_learners", scope="active_7d") == 7
    assert value(found, "mluv_learner_messages", scope="1d") == 25
    snapshot = dt.datetime(2026, 11, 21, 20, 30, tzinfo=dt.UTC).timestamp()
    assert value(found, "mluv_platform_snapshot_timestamp_seconds") == snapshot

    # No rate limiter has written yet: zeros, so rate() and the alerts work from the first scrape.
    assert value(found, "mluv_telegram_429_total") == 0
    assert value(found, "mluv_ratelimit_wait_seconds_total") == 0
    assert value(found, "mluv_metrics_source_up", source="redis") == 1
    assert value(found, "mluv_metrics_source_up", source="database") == 1


async def test_rate_limiter_counters_as_strings_or_hashes(client: Client, redis: Redis) -> None:
    await redis.set("mluv:metrics:ratelimit:telegram_429", 7)
    await redis.hset("mluv:metrics:ratelimit:wait_seconds", mapping={"global": 12.5, "chat": 3.25})  # type: ignore[misc]
    await redis.set("mluv:metrics:ratelimit:waits", "garbage")
    found = samples(await scrape(client))
    assert value(found, "mluv_telegram_429_total") == 7
    assert value(found, "mluv_ratelimit_wait_seconds_total", scope="global") == 12.5
    assert value(found, "mluv_ratelimit_wait_seconds_total", scope="chat") == 3.25
    assert value(found, "mluv_ratelimit_waits_total") == 0


@pytest.mark.skipif(
    shutil.which("promtool") is None, reason="promtool (Debian package prometheus) not installed"
)
async def test_promtool_accepts_the_metrics(
    client: Client, web_resources: Resources, redis: Redis, session_factory: Any
) -> None:
    import workers  # noqa: F401

    await populate(web_resources, redis, session_factory)
    await redis.hset("mluv:metrics:ratelimit:telegram_429", mapping={"global": 2})  # type: ignore[misc]
    text = await scrape(client)
    checked = subprocess.run(
        ["promtool", "check", "metrics"], input=text, capture_output=True, text=True, timeout=30
    )
    assert checked.returncode == 0, checked.stdout + checked.stderr


async def test_a_database_outage_keeps_the_redis_figures(web_settings: Settings, redis: Redis) -> None:
    broken = web_settings.model_copy(update={"database_url": "postgresql+asyncpg://nobody@127.0.0.1:9/none"})
    resources = await Resources.create(broken)
    try:
        async with TestClient(TestServer(create_app(resources))) as client:
            found = samples(await scrape(client))
    finally:
        await resources.close()
    assert value(found, "mluv_metrics_source_up", source="database") == 0
    assert value(found, "mluv_metrics_source_up", source="redis") == 1
    assert value(found, "mluv_queue_depth", queue="fast") == 0
    assert "mluv_deliveries" not in found


async def test_the_private_metrics_port_serves_without_a_token(
    settings: Settings, redis: Redis, unused_tcp_port: int
) -> None:
    configured = settings.model_copy(update={"metrics_port": unused_tcp_port, "metrics_host": "127.0.0.1"})
    resources = await Resources.create(configured)
    runner = await start_metrics_server(resources)
    assert runner is not None
    try:
        async with (
            aiohttp.ClientSession() as session,
            session.get(f"http://127.0.0.1:{unused_tcp_port}/metrics") as response,
        ):
            assert response.status == 200
            assert "mluv_queue_depth" in await response.text()
        # Not on the main port: without METRICS_TOKEN /metrics is not mounted there outside development.
        async with TestClient(TestServer(create_app(resources))) as client:
            assert (await client.get("/metrics")).status == 404
    finally:
        await runner.cleanup()
        await resources.close()


async def test_the_private_port_also_checks_the_token_when_one_is_set(
    settings: Settings, redis: Redis, unused_tcp_port: int
) -> None:
    configured = settings.model_copy(
        update={"metrics_port": unused_tcp_port, "metrics_token": SecretStr(METRICS_TOKEN)}
    )
    resources = await Resources.create(configured)
    runner = await start_metrics_server(resources)
    assert runner is not None
    try:
        async with aiohttp.ClientSession() as session:
            async with session.get(f"http://127.0.0.1:{unused_tcp_port}/metrics") as response:
                assert response.status == 401
            async with session.get(f"http://127.0.0.1:{unused_tcp_port}/metrics", headers=AUTH) as response:
                assert response.status == 200
    finally:
        await runner.cleanup()
        await resources.close()


def render(figures: Figures) -> str:
    registry = CollectorRegistry()
    collector = FiguresCollector()
    collector.figures = figures
    registry.register(collector)
    return generate_latest(registry).decode()


def a_snapshot() -> PlatformMetrics:
    return PlatformMetrics(
        captured_at=dt.datetime(2026, 11, 21, 20, tzinfo=dt.UTC),
        total_users=1,
        active_users_1d=1,
        active_users_7d=1,
        messages_1d=1,
        messages_total=1,
    )


@pytest.mark.parametrize(
    ("redis_up", "database_up", "snapshot", "expected"),
    [
        (True, True, True, FAMILIES),
        (True, True, False, REDIS_FAMILIES | DATABASE_FAMILIES | ALWAYS_FAMILIES),
        (True, False, False, REDIS_FAMILIES | ALWAYS_FAMILIES),
        (False, True, True, PLATFORM_FAMILIES | DATABASE_FAMILIES | ALWAYS_FAMILIES),
        (False, False, False, ALWAYS_FAMILIES),
    ],
)
def test_a_source_that_did_not_answer_drops_its_families(
    redis_up: bool, database_up: bool, snapshot: bool, expected: dict[str, str]
) -> None:
    database = DatabaseFigures(platform=a_snapshot() if snapshot else None)
    text = render(
        Figures(redis=RedisFigures() if redis_up else None, database=database if database_up else None)
    )
    assert families(text) == expected
    found = samples(text)
    assert value(found, "mluv_metrics_source_up", source="redis") == float(redis_up)
    assert value(found, "mluv_metrics_source_up", source="database") == float(database_up)
    assert value(found, "mluv_build_info") == 1
    # A private registry per app: nothing reaches prometheus_client's global one.
    assert not [metric.name for metric in REGISTRY.collect() if metric.name.startswith("mluv")]


def test_label_values_are_escaped() -> None:
    weird = 'we"ird\\name\n'
    stats = JobStats(
        name=weird,
        executed=1,
        succeeded=1,
        failed=0,
        retried=0,
        duration_count=1,
        duration_sum=1.5,
        buckets=(0,) * len(BUCKETS) + (1,),
        last_execution=None,
    )
    text = render(Figures(redis=RedisFigures(stats=[stats])))
    assert 'mluv_jobs_executed_total{job="we\\"ird\\\\name\\n"} 1.0' in text
    assert value(samples(text), "mluv_jobs_executed_total", job=weird) == 1
    assert value(samples(text), "mluv_job_duration_seconds_count", job=weird) == 1


async def test_every_family_served_before_is_still_served(
    client: Client, web_resources: Resources, redis: Redis, session_factory: Any
) -> None:
    import workers  # noqa: F401

    await populate(web_resources, redis, session_factory)
    assert families(await scrape(client)) == FAMILIES


async def test_the_rate_limiters_own_counters_reach_metrics(client: Client, redis: Redis) -> None:
    """The contract with mluv.telegram.ratelimit: what it flushes is what /metrics serves."""
    ratelimit = pytest.importorskip("mluv.telegram.ratelimit")
    limiter = ratelimit.RateLimiter(redis, sleep=lambda _: asyncio.sleep(0))
    await limiter.acquire(1001)
    await limiter.acquire(1001)  # one per second per chat: the second one waits
    await limiter.penalize(3, 1001)
    await limiter.flush()
    found = samples(await scrape(client))
    assert value(found, "mluv_ratelimit_acquired_total") == 2
    assert value(found, "mluv_ratelimit_waits_total") == 1
    assert value(found, "mluv_ratelimit_wait_seconds_total") > 0
    assert value(found, "mluv_telegram_429_total") == 1
    assert value(found, "mluv_ratelimit_penalty_seconds_total") == 3
