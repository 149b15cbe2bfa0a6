"""`/metrics` in Prometheus text format (0.0.4), read from the shared state in Redis and PostgreSQL.

Every figure is global (summed over all workers by the workers themselves), so any one web process serves
the whole picture: scrape one instance, not every replica. Access (docs/monitoring.md):
- METRICS_TOKEN set: `Authorization: Bearer <METRICS_TOKEN>` on the main port (and on METRICS_PORT);
- METRICS_PORT set: a second server on METRICS_HOST:METRICS_PORT serves /metrics, meant for a private
  address (fly.io's 6PN), without a token unless METRICS_TOKEN is set too;
- neither: /metrics is off, except in development on loopback, for a loopback client with a loopback Host
  header (like the dashboard: a DNS-rebinding page gets nothing).
A source that fails (PostgreSQL down) drops its families and reports `mluv_metrics_source_up 0`; the rest
is still served, so the alerts about the queues keep working during a database outage.

The text is written by `prometheus_client`: a custom collector in a private registry per app (never the
global one, so no process or GC metrics join and several apps or tests never clash).
"""

from __future__ import annotations

import asyncio
import math
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_PLAIN_0_0_4
from prometheus_client.metrics_core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    InfoMetricFamily,
    Metric,
)
from prometheus_client.registry import Collector

from mluv import __version__
from mluv.db.models import CronRunStatus, PlatformMetrics
from mluv.jobs.arq_state import QueueState, WorkersView, queue_states, workers_view
from mluv.jobs.counters import BUCKETS, JobStats, read_job_stats
from mluv.jobs.queues import Queue
from mluv.logs import get_logger
from mluv.resources import Resources
from mluv.telegram import broadcasts, ledger
from mluv.web.auth import Access, bearer_token, dashboard_access, open_mode_allowed, secret_equals
from mluv.web.sources.cron import CronView, cron_views, registered_crons
from mluv.web.sources.dead_letters import open_failures_by_job
from mluv.web.sources.platform import latest_snapshot
from mluv.web.sources.reports import ratelimit_counters

log = get_logger(__name__)

# The format generate_latest writes; CONTENT_TYPE_LATEST announces 1.0.0, which scrapers did not get before.
CONTENT_TYPE = CONTENT_TYPE_PLAIN_0_0_4
# Database figures are cached briefly: several scrapers (or a fast one) must not each COUNT deliveries.
DATABASE_CACHE_SECONDS = 10.0
SOURCE_TIMEOUT = 5.0

# The shared rate limiter's counters (mluv.telegram.ratelimit.COUNTERS) as Prometheus families.
RATELIMIT_FAMILIES = (
    ("telegram_429", "mluv_telegram_429_total", "Telegram answers 429 Too Many Requests."),
    (
        "penalty_seconds",
        "mluv_ratelimit_penalty_seconds_total",
        "Seconds of sending pauses 429 answers imposed.",
    ),
    ("acquired", "mluv_ratelimit_acquired_total", "Sends that passed the shared rate limiter."),
    ("waits", "mluv_ratelimit_waits_total", "Sends that had to wait for the rate limiter."),
    ("wait_seconds", "mluv_ratelimit_wait_seconds_total", "Time senders spent waiting for the rate limiter."),
    ("refused", "mluv_ratelimit_refused_total", "Sends refused because the wait exceeded the job's limit."),
    ("rebooked", "mluv_ratelimit_rebooked_total", "Slots booked again after a 429 penalty."),
)
JOB_COUNTERS = (
    ("mluv_jobs_executed_total", "executed", "Job runs finished (any outcome), per job, all workers."),
    ("mluv_jobs_succeeded_total", "succeeded", "Job runs that succeeded."),
    ("mluv_jobs_failed_total", "failed", "Job runs that failed for good (dead letters)."),
    ("mluv_jobs_retried_total", "retried", "Job runs that failed and were scheduled to retry."),
)
QUEUE_GAUGES = (
    ("mluv_queue_depth", "waiting", "Jobs due and waiting for a worker."),
    ("mluv_queue_deferred_jobs", "deferred", "Jobs due later (deferred or retry backoff)."),
    ("mluv_queue_running_jobs", "running", "Jobs a worker is running."),
    (
        "mluv_queue_oldest_job_age_seconds",
        "oldest_waiting_age",
        "How long the oldest waiting job has been due (0 when none waits).",
    ),
)


@dataclass
class RedisFigures:
    stats: list[JobStats] = field(default_factory=list)
    states: list[QueueState] = field(default_factory=list)
    workers: WorkersView = field(default_factory=lambda: WorkersView([], {}))
    limiter: dict[str, dict[str, float]] = field(default_factory=dict)


@dataclass
class DatabaseFigures:
    deliveries: dict[tuple[str, str], int] = field(default_factory=dict)
    open_failures: dict[str, int] = field(default_factory=dict)
    broadcasts: dict[str, int] = field(default_factory=dict)
    crons: list[CronView] = field(default_factory=list)
    platform: PlatformMetrics | None = None


@dataclass
class Figures:
    """One scrape's figures; None: that source did not answer (its families are dropped)."""

    redis: RedisFigures | None = None
    database: DatabaseFigures | None = None


class FiguresCollector(Collector):
    """Turns the figures of the scrape being rendered into metric families (collect() is synchronous)."""

    def __init__(self) -> None:
        self.figures = Figures()

    def collect(self) -> Iterator[Metric]:
        figures = self.figures
        if figures.redis is not None:
            yield from _redis_families(figures.redis)
        if figures.database is not None:
            yield from _database_families(figures.database)
        up = GaugeMetricFamily(
            "mluv_metrics_source_up",
            "1 if the source of these figures answered during this scrape.",
            labels=["source"],
        )
        up.add_metric(["redis"], 1.0 if figures.redis is not None else 0.0)
        up.add_metric(["database"], 1.0 if figures.database is not None else 0.0)
        yield up
        # An info family named mluv_build is written as the gauge mluv_build_info, value 1.
        yield InfoMetricFamily("mluv_build", "The running version of Mluv.", value={"version": __version__})


def _le(bound: float) -> str:
    # The bounds as written before (Go's formatting, like Prometheus' own clients): 1.0, 0.005, +Inf.
    return "+Inf" if math.isinf(bound) else repr(float(bound))


def _redis_families(figures: RedisFigures) -> Iterator[Metric]:
    stats = figures.stats
    for name, attribute, help_text in JOB_COUNTERS:
        # prometheus_client strips the _total of a counter's name and writes it back on the samples.
        counter = CounterMetricFamily(name, help_text, labels=["job"])
        for s in stats:
            counter.add_metric([s.name], getattr(s, attribute))
        yield counter

    histogram = HistogramMetricFamily("mluv_job_duration_seconds", "Duration of job runs.", labels=["job"])
    for s in stats:
        cumulative, buckets = 0, []
        for bound, count in zip((*BUCKETS, math.inf), s.buckets, strict=True):
            cumulative += count
            buckets.append((_le(bound), float(cumulative)))
        # _count is the +Inf bucket, as Prometheus defines it (the workers write both in one pipeline).
        histogram.add_metric([s.name], buckets, s.duration_sum)
    yield histogram
    last = GaugeMetricFamily(
        "mluv_job_last_execution_timestamp_seconds",
        "When a run of the job last finished (unix time).",
        labels=["job"],
    )
    for s in stats:
        if s.last_execution is not None:
            last.add_metric([s.name], s.last_execution)
    yield last

    for name, attribute, help_text in QUEUE_GAUGES:
        gauge = GaugeMetricFamily(name, help_text, labels=["queue"])
        for state in figures.states:
            gauge.add_metric([state.label], float(getattr(state, attribute)))
        yield gauge
    heartbeat = GaugeMetricFamily(
        "mluv_worker_heartbeat_up",
        "1 while arq's heartbeat key of the queue is fresh (what `arq --check` reads).",
        labels=["queue"],
    )
    for label, value in figures.workers.heartbeats.items():
        heartbeat.add_metric([label], 1.0 if value else 0.0)
    yield heartbeat
    alive = {queue.value: 0 for queue in Queue}
    for worker in figures.workers.workers:
        alive[worker.queue] = alive.get(worker.queue, 0) + 1
    labels = {queue.value: queue.label for queue in Queue}
    workers = GaugeMetricFamily(
        "mluv_workers", "Worker processes with a fresh presence heartbeat.", labels=["queue"]
    )
    for queue_name, n in alive.items():
        workers.add_metric([labels.get(queue_name, queue_name)], float(n))
    yield workers

    for counter_name, metric, help_text in RATELIMIT_FAMILIES:
        values = figures.limiter.get(counter_name, {})
        if set(values) - {""}:  # a hash of numbers per scope: a scope label per field
            scoped = CounterMetricFamily(metric, help_text, labels=["scope"])
            for scope, amount in sorted(values.items()):
                scoped.add_metric([scope], amount)
            yield scoped
        else:
            # No limiter yet: a zero, so rate() and the alerts work from the first scrape.
            yield CounterMetricFamily(metric, help_text, value=values.get("", 0.0))


def _database_families(figures: DatabaseFigures) -> Iterator[Metric]:
    yield from _platform_families(figures.platform)
    deliveries = GaugeMetricFamily(
        "mluv_deliveries",
        "Rows of the delivery ledger by kind and status (within retention).",
        labels=["kind", "status"],
    )
    for (kind, status), n in sorted(figures.deliveries.items()):
        deliveries.add_metric([kind, status], n)
    yield deliveries
    failures = GaugeMetricFamily(
        "mluv_job_failures_open",
        "Open dead letters (failed jobs not yet retried or discarded), per job.",
        labels=["job"],
    )
    for job, n in sorted(figures.open_failures.items()):
        failures.add_metric([job], n)
    yield failures
    by_status = GaugeMetricFamily("mluv_broadcasts", "Broadcasts by status.", labels=["status"])
    for status, n in sorted(figures.broadcasts.items()):
        by_status.add_metric([status], n)
    yield by_status

    crons = figures.crons
    success = GaugeMetricFamily(
        "mluv_cron_last_success_timestamp_seconds",
        "When the cron job last succeeded (unix time); absent until it has.",
        labels=["cron"],
    )
    interval = GaugeMetricFamily(
        "mluv_cron_interval_seconds", "Seconds between two scheduled runs of the cron job.", labels=["cron"]
    )
    next_run = GaugeMetricFamily(
        "mluv_cron_next_run_timestamp_seconds",
        "When the cron job is next scheduled (unix time).",
        labels=["cron"],
    )
    failed = GaugeMetricFamily(
        "mluv_cron_last_run_failed", "1 if the latest run of the cron job failed.", labels=["cron"]
    )
    for c in crons:
        if c.last_success is not None:
            success.add_metric([c.name], c.last_success.timestamp())
        interval.add_metric([c.name], c.interval)
        next_run.add_metric([c.name], c.next_run.timestamp())
        last_failed = c.last_run is not None and c.last_run.status == CronRunStatus.FAILED
        failed.add_metric([c.name], 1.0 if last_failed else 0.0)
    yield from (success, interval, next_run, failed)


def _platform_families(snapshot: PlatformMetrics | None) -> Iterator[Metric]:
    """The latest aggregate_platform_metrics snapshot; absent until the cron has run once."""
    if snapshot is None:
        return
    learners = GaugeMetricFamily(
        "mluv_learners",
        "Learners in the latest platform snapshot: all, and active in the last day / 7 days.",
        labels=["scope"],
    )
    learners.add_metric(["total"], float(snapshot.total_users))
    learners.add_metric(["active_1d"], float(snapshot.active_users_1d))
    learners.add_metric(["active_7d"], float(snapshot.active_users_7d))
    yield learners
    messages = GaugeMetricFamily(
        "mluv_learner_messages",
        "Learners' messages in the latest platform snapshot: in the last day, and all kept.",
        labels=["scope"],
    )
    messages.add_metric(["1d"], float(snapshot.messages_1d))
    messages.add_metric(["total"], float(snapshot.messages_total))
    yield messages
    yield GaugeMetricFamily(
        "mluv_platform_snapshot_timestamp_seconds",
        "When the latest platform snapshot was taken (unix time).",
        value=snapshot.captured_at.timestamp(),
    )


class Metrics:
    """One app's /metrics: reads the sources, then renders them through its own registry."""

    def __init__(self, resources: Resources) -> None:
        self.resources = resources
        self.collector = FiguresCollector()
        self.registry = CollectorRegistry(auto_describe=False)
        self.registry.register(self.collector)
        self._database: tuple[float, DatabaseFigures] | None = None
        self._lock = asyncio.Lock()

    async def _redis_figures(self) -> RedisFigures:
        redis = self.resources.pool
        workers = await workers_view(redis)
        return RedisFigures(
            stats=await read_job_stats(redis),
            # Running = a live worker reports it, as the dashboard and /jobs count it.
            states=await queue_states(redis, workers.workers),
            workers=workers,
            limiter=await ratelimit_counters(redis),
        )

    async def _database_figures(self) -> DatabaseFigures:
        async with self._lock:
            now = time.monotonic()
            if self._database is not None and now - self._database[0] < DATABASE_CACHE_SECONDS:
                return self._database[1]
            factory = self.resources.session_factory
            figures = DatabaseFigures(
                deliveries=await ledger.counts_by_kind_and_status(factory),
                open_failures=await open_failures_by_job(factory),
                broadcasts=await broadcasts.counts_by_status(factory),
                crons=await cron_views(factory, registered_crons()),
                platform=await latest_snapshot(factory),
            )
            self._database = (time.monotonic(), figures)
            return figures

    async def gather(self) -> Figures:
        figures = Figures()
        try:
            async with asyncio.timeout(SOURCE_TIMEOUT):
                figures.redis = await self._redis_figures()
        except Exception as error:
            log.warning("metrics: Redis unavailable", error=type(error).__name__)
        try:
            async with asyncio.timeout(SOURCE_TIMEOUT):
                figures.database = await self._database_figures()
        except Exception as error:
            log.warning("metrics: PostgreSQL unavailable", error=type(error).__name__)
        return figures

    async def render(self) -> bytes:
        figures = await self.gather()
        # collect() cannot await: the figures are read above and rendered with no await in between, so
        # concurrent scrapes never mix.
        self.collector.figures = figures
        return generate_latest(self.registry)


METRICS_KEY = web.AppKey("metrics", Metrics)


def _metrics_handler(*, require_token: str | None, open_on_loopback: bool) -> Any:
    async def handler(request: web.Request) -> web.Response:
        if require_token is not None:
            given = bearer_token(request)
            if given is None or not secret_equals(given, require_token):
                return web.Response(
                    status=401,
                    text="bearer token required\n",
                    headers={"WWW-Authenticate": 'Bearer realm="metrics"'},
                )
        elif open_on_loopback and not open_mode_allowed(request):  # peer and Host, as the dashboard
            return web.Response(status=403, text="metrics are served to loopback clients only\n")
        body = await request.app[METRICS_KEY].render()
        return web.Response(body=body, headers={"Content-Type": CONTENT_TYPE, "Cache-Control": "no-store"})

    return handler


def add_metrics_routes(app: web.Application, resources: Resources) -> None:
    """/metrics on the main server: bearer token, or open in loopback development; else not mounted."""
    settings = resources.settings
    token = settings.metrics_token.get_secret_value() if settings.metrics_token else None
    if token is None and dashboard_access(settings) is not Access.OPEN:
        return
    app[METRICS_KEY] = Metrics(resources)
    app.router.add_get("/metrics", _metrics_handler(require_token=token, open_on_loopback=token is None))


async def start_metrics_server(resources: Resources) -> web.AppRunner | None:
    """The METRICS_PORT server (private address), or None when METRICS_PORT is unset."""
    settings = resources.settings
    if settings.metrics_port is None:
        return None
    token = settings.metrics_token.get_secret_value() if settings.metrics_token else None
    app = web.Application()
    app[METRICS_KEY] = Metrics(resources)
    app.router.add_get("/metrics", _metrics_handler(require_token=token, open_on_loopback=False))
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, settings.metrics_host, settings.metrics_port).start()
    log.info(
        "metrics server listening", url=f"http://{settings.metrics_host}:{settings.metrics_port}/metrics"
    )
    return runner
