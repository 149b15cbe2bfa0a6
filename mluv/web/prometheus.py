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
"""

from __future__ import annotations

import asyncio
import math
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from mluv import __version__
from mluv.db.models import CronRunStatus, PlatformMetrics
from mluv.jobs.arq_state import queue_states, workers_view
from mluv.jobs.counters import BUCKETS, read_job_stats
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

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
# Database figures are cached briefly: several scrapers (or a fast one) must not each COUNT deliveries.
DATABASE_CACHE_SECONDS = 10.0
SOURCE_TIMEOUT = 5.0

Sample = tuple[str, dict[str, str], float]  # (name suffix, labels, value)

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


def format_value(value: float) -> str:
    if math.isinf(value):
        return "+Inf" if value > 0 else "-Inf"
    if math.isnan(value):
        return "NaN"
    if float(value).is_integer() and abs(value) < 1e15:
        return str(int(value))
    return repr(float(value))


def escape_label(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def _le(bound: float) -> str:
    # Go's formatting of bucket bounds (what Prometheus' own clients write): 1.0, 0.005, +Inf.
    return "+Inf" if math.isinf(bound) else repr(float(bound))


class Exposition:
    def __init__(self) -> None:
        self._lines: list[str] = []
        self._names: set[str] = set()

    @property
    def names(self) -> set[str]:
        return set(self._names)

    def family(self, name: str, kind: str, help_text: str, samples: Iterable[Sample]) -> None:
        if name in self._names:
            raise ValueError(f"metric family {name} written twice")
        self._names.add(name)
        escaped_help = help_text.replace("\\", "\\\\").replace("\n", "\\n")
        self._lines.append(f"# HELP {name} {escaped_help}")
        self._lines.append(f"# TYPE {name} {kind}")
        for suffix, labels, value in samples:
            rendered = ",".join(f'{key}="{escape_label(str(val))}"' for key, val in labels.items())
            self._lines.append(
                f"{name}{suffix}{{{rendered}}} {format_value(value)}"
                if rendered
                else f"{name}{suffix} {format_value(value)}"
            )

    def render(self) -> str:
        return "\n".join(self._lines) + "\n"


@dataclass
class _DatabaseFigures:
    deliveries: dict[tuple[str, str], int] = field(default_factory=dict)
    open_failures: dict[str, int] = field(default_factory=dict)
    broadcasts: dict[str, int] = field(default_factory=dict)
    crons: list[CronView] = field(default_factory=list)
    platform: PlatformMetrics | None = None


class MetricsCollector:
    def __init__(self, resources: Resources) -> None:
        self.resources = resources
        self._database: tuple[float, _DatabaseFigures] | None = None
        self._lock = asyncio.Lock()

    async def _database_figures(self) -> _DatabaseFigures:
        async with self._lock:
            now = time.monotonic()
            if self._database is not None and now - self._database[0] < DATABASE_CACHE_SECONDS:
                return self._database[1]
            factory = self.resources.session_factory
            figures = _DatabaseFigures(
                deliveries=await ledger.counts_by_kind_and_status(factory),
                open_failures=await open_failures_by_job(factory),
                broadcasts=await broadcasts.counts_by_status(factory),
                crons=await cron_views(factory, registered_crons()),
                platform=await latest_snapshot(factory),
            )
            self._database = (time.monotonic(), figures)
            return figures

    async def collect(self) -> str:
        out = Exposition()
        up: dict[str, bool] = {}
        redis = self.resources.pool
        try:
            async with asyncio.timeout(SOURCE_TIMEOUT):
                await self._redis_families(out, redis)
            up["redis"] = True
        except Exception as error:
            log.warning("metrics: Redis unavailable", error=type(error).__name__)
            up["redis"] = False
        try:
            async with asyncio.timeout(SOURCE_TIMEOUT):
                figures = await self._database_figures()
            self._database_families(out, figures)
            up["database"] = True
        except Exception as error:
            log.warning("metrics: PostgreSQL unavailable", error=type(error).__name__)
            up["database"] = False
        out.family(
            "mluv_metrics_source_up",
            "gauge",
            "1 if the source of these figures answered during this scrape.",
            [("", {"source": source}, 1.0 if ok else 0.0) for source, ok in up.items()],
        )
        out.family(
            "mluv_build_info", "gauge", "The running version of Mluv.", [("", {"version": __version__}, 1.0)]
        )
        return out.render()

    async def _redis_families(self, out: Exposition, redis: Any) -> None:
        stats = await read_job_stats(redis)
        states = await queue_states(redis)
        workers = await workers_view(redis)
        limiter = await ratelimit_counters(redis)

        for name, attribute, help_text in (
            (
                "mluv_jobs_executed_total",
                "executed",
                "Job runs finished (any outcome), per job, all workers.",
            ),
            ("mluv_jobs_succeeded_total", "succeeded", "Job runs that succeeded."),
            ("mluv_jobs_failed_total", "failed", "Job runs that failed for good (dead letters)."),
            ("mluv_jobs_retried_total", "retried", "Job runs that failed and were scheduled to retry."),
        ):
            out.family(
                name, "counter", help_text, [("", {"job": s.name}, getattr(s, attribute)) for s in stats]
            )

        histogram: list[Sample] = []
        for s in stats:
            cumulative = 0
            for bound, count in zip((*BUCKETS, math.inf), s.buckets, strict=True):
                cumulative += count
                histogram.append(("_bucket", {"job": s.name, "le": _le(bound)}, cumulative))
            histogram.append(("_sum", {"job": s.name}, s.duration_sum))
            histogram.append(("_count", {"job": s.name}, s.duration_count))
        out.family("mluv_job_duration_seconds", "histogram", "Duration of job runs.", histogram)
        out.family(
            "mluv_job_last_execution_timestamp_seconds",
            "gauge",
            "When a run of the job last finished (unix time).",
            [("", {"job": s.name}, s.last_execution) for s in stats if s.last_execution is not None],
        )

        def per_queue(attribute: str) -> list[Sample]:
            return [("", {"queue": state.label}, float(getattr(state, attribute))) for state in states]

        out.family("mluv_queue_depth", "gauge", "Jobs due and waiting for a worker.", per_queue("waiting"))
        out.family(
            "mluv_queue_deferred_jobs",
            "gauge",
            "Jobs due later (deferred or retry backoff).",
            per_queue("deferred"),
        )
        out.family("mluv_queue_running_jobs", "gauge", "Jobs a worker is running.", per_queue("running"))
        out.family(
            "mluv_queue_oldest_job_age_seconds",
            "gauge",
            "How long the oldest waiting job has been due (0 when none waits).",
            per_queue("oldest_waiting_age"),
        )
        out.family(
            "mluv_worker_heartbeat_up",
            "gauge",
            "1 while arq's heartbeat key of the queue is fresh (what `arq --check` reads).",
            [("", {"queue": label}, 1.0 if value else 0.0) for label, value in workers.heartbeats.items()],
        )
        alive = {queue.value: 0 for queue in Queue}
        for worker in workers.workers:
            alive[worker.queue] = alive.get(worker.queue, 0) + 1
        labels = {queue.value: queue.label for queue in Queue}
        out.family(
            "mluv_workers",
            "gauge",
            "Worker processes with a fresh presence heartbeat.",
            [("", {"queue": labels.get(q, q)}, float(n)) for q, n in alive.items()],
        )

        for counter_name, metric, help_text in RATELIMIT_FAMILIES:
            values = limiter.get(counter_name, {})
            samples: list[Sample] = [
                ("", {"scope": scope} if scope else {}, value) for scope, value in sorted(values.items())
            ]
            # No limiter yet: a zero, so rate() and the alerts work from the first scrape.
            out.family(metric, "counter", help_text, samples or [("", {}, 0.0)])

    def _database_families(self, out: Exposition, figures: _DatabaseFigures) -> None:
        _platform_families(out, figures.platform)
        out.family(
            "mluv_deliveries",
            "gauge",
            "Rows of the delivery ledger by kind and status (within retention).",
            [
                ("", {"kind": kind, "status": status}, n)
                for (kind, status), n in sorted(figures.deliveries.items())
            ],
        )
        out.family(
            "mluv_job_failures_open",
            "gauge",
            "Open dead letters (failed jobs not yet retried or discarded), per job.",
            [("", {"job": job}, n) for job, n in sorted(figures.open_failures.items())],
        )
        out.family(
            "mluv_broadcasts",
            "gauge",
            "Broadcasts by status.",
            [("", {"status": status}, n) for status, n in sorted(figures.broadcasts.items())],
        )
        crons = figures.crons
        out.family(
            "mluv_cron_last_success_timestamp_seconds",
            "gauge",
            "When the cron job last succeeded (unix time); absent until it has.",
            [("", {"cron": c.name}, c.last_success.timestamp()) for c in crons if c.last_success is not None],
        )
        out.family(
            "mluv_cron_interval_seconds",
            "gauge",
            "Seconds between two scheduled runs of the cron job.",
            [("", {"cron": c.name}, c.interval) for c in crons],
        )
        out.family(
            "mluv_cron_next_run_timestamp_seconds",
            "gauge",
            "When the cron job is next scheduled (unix time).",
            [("", {"cron": c.name}, c.next_run.timestamp()) for c in crons],
        )
        out.family(
            "mluv_cron_last_run_failed",
            "gauge",
            "1 if the latest run of the cron job failed.",
            [
                (
                    "",
                    {"cron": c.name},
                    1.0 if c.last_run is not None and c.last_run.status == CronRunStatus.FAILED else 0.0,
                )
                for c in crons
            ],
        )


COLLECTOR_KEY = web.AppKey("metrics_collector", MetricsCollector)


def _platform_families(out: Exposition, snapshot: PlatformMetrics | None) -> None:
    """The latest aggregate_platform_metrics snapshot; absent until the cron has run once."""
    if snapshot is None:
        return
    out.family(
        "mluv_learners",
        "gauge",
        "Learners in the latest platform snapshot: all, and active in the last day / 7 days.",
        [
            ("", {"scope": "total"}, float(snapshot.total_users)),
            ("", {"scope": "active_1d"}, float(snapshot.active_users_1d)),
            ("", {"scope": "active_7d"}, float(snapshot.active_users_7d)),
        ],
    )
    out.family(
        "mluv_learner_messages",
        "gauge",
        "Learners' messages in the latest platform snapshot: in the last day, and all kept.",
        [
            ("", {"scope": "1d"}, float(snapshot.messages_1d)),
            ("", {"scope": "total"}, float(snapshot.messages_total)),
        ],
    )
    out.family(
        "mluv_platform_snapshot_timestamp_seconds",
        "gauge",
        "When the latest platform snapshot was taken (unix time).",
        [("", {}, snapshot.captured_at.timestamp())],
    )


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
        body = await request.app[COLLECTOR_KEY].collect()
        return web.Response(
            body=body.encode(), headers={"Content-Type": CONTENT_TYPE, "Cache-Control": "no-store"}
        )

    return handler


def add_metrics_routes(app: web.Application, resources: Resources) -> None:
    """/metrics on the main server: bearer token, or open in loopback development; else not mounted."""
    settings = resources.settings
    token = settings.metrics_token.get_secret_value() if settings.metrics_token else None
    if token is None and dashboard_access(settings) is not Access.OPEN:
        return
    app[COLLECTOR_KEY] = MetricsCollector(resources)
    app.router.add_get("/metrics", _metrics_handler(require_token=token, open_on_loopback=token is None))


async def start_metrics_server(resources: Resources) -> web.AppRunner | None:
    """The METRICS_PORT server (private address), or None when METRICS_PORT is unset."""
    settings = resources.settings
    if settings.metrics_port is None:
        return None
    token = settings.metrics_token.get_secret_value() if settings.metrics_token else None
    app = web.Application()
    app[COLLECTOR_KEY] = MetricsCollector(resources)
    app.router.add_get("/metrics", _metrics_handler(require_token=token, open_on_loopback=False))
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, settings.metrics_host, settings.metrics_port).start()
    log.info(
        "metrics server listening", url=f"http://{settings.metrics_host}:{settings.metrics_port}/metrics"
    )
    return runner
