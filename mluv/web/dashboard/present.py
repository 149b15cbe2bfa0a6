"""What the pages show, as plain data: arq's jobs and results (arguments redacted and shortened, times as
dates), percentiles from the duration histogram (exact, or the bucket they fall in), the queue cards' arq
heartbeat, the health check's parts, broadcast progress and load bars.

mluv.jobs.arq_state returns what Redis holds; the templates and the JSON snapshot show these views of it.
"""

from __future__ import annotations

import datetime as dt
import json
import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from mluv.jobs.arq_state import ArqJob, ArqResult
from mluv.jobs.counters import BUCKETS, JobStats
from mluv.jobs.queues import Queue
from mluv.jobs.serializer import StoredJobError
from mluv.logs import redact
from mluv.web.dashboard.templating import fmt_duration

ARGS_SHOWN = 300


def ms_to_dt(ms: float | None) -> dt.datetime | None:
    return dt.datetime.fromtimestamp(ms / 1000, dt.UTC) if ms else None


def redacted(value: Any, limit: int = ARGS_SHOWN) -> str:
    """A short, secret-free rendering of job arguments or results for people to read."""
    try:
        rendered = json.dumps(value, default=str, ensure_ascii=False, sort_keys=True)
    except (TypeError, ValueError):
        rendered = repr(value)
    rendered = redact(rendered)
    return rendered if len(rendered) <= limit else rendered[: limit - 1] + "…"


def format_call(args: Sequence[Any], kwargs: dict[str, Any]) -> str:
    parts = [redacted(a, 80) for a in args] + [f"{k}={redacted(v, 80)}" for k, v in sorted(kwargs.items())]
    joined = ", ".join(parts)
    return joined if len(joined) <= ARGS_SHOWN else joined[: ARGS_SHOWN - 1] + "…"


@dataclass(frozen=True)
class JobView:
    job_id: str
    queue: Queue
    function: str
    call: str  # redacted arguments
    state: str  # running, queued, deferred
    job_try: int  # the running try, or the next one for waiting jobs
    enqueued_at: dt.datetime | None
    due_at: dt.datetime | None
    started_at: dt.datetime | None = None
    worker: str | None = None
    aborting: bool = False


def job_view(job: ArqJob) -> JobView:
    return JobView(
        job_id=job.job_id,
        queue=job.queue,
        function=job.function,
        call=format_call(job.args, job.kwargs),
        state=job.state.value,
        job_try=job.job_try,
        enqueued_at=ms_to_dt(job.enqueued_ms),
        due_at=ms_to_dt(job.due_ms),
        started_at=dt.datetime.fromtimestamp(job.started_at, dt.UTC) if job.started_at is not None else None,
        worker=job.worker,
        aborting=job.aborting,
    )


@dataclass(frozen=True)
class ResultView:
    job_id: str
    function: str
    queue: str
    success: bool
    summary: str  # the redacted result or error
    job_try: int
    enqueued_at: dt.datetime | None
    started_at: dt.datetime | None
    finished_at: dt.datetime | None

    @property
    def duration(self) -> float | None:
        if self.started_at is None or self.finished_at is None:
            return None
        return (self.finished_at - self.started_at).total_seconds()


def result_view(result: ArqResult) -> ResultView:
    outcome = result.outcome
    if isinstance(outcome, StoredJobError):
        summary = redact(str(outcome))
    elif isinstance(outcome, BaseException):
        summary = redact(f"{type(outcome).__name__}: {outcome}")
    else:
        summary = redacted(outcome)
    return ResultView(
        job_id=result.job_id,
        function=result.function,
        queue=result.queue,
        success=result.success,
        summary=summary,
        job_try=result.job_try,
        enqueued_at=ms_to_dt(result.enqueued_ms),
        started_at=ms_to_dt(result.started_ms),
        finished_at=ms_to_dt(result.finished_ms),
    )


# --- durations: percentiles from the histogram --------------------------------------------------------


@dataclass(frozen=True)
class Percentile:
    """A duration percentile: exact (one run: its duration), or the histogram bucket it falls in."""

    upper: float | None  # the exact value, or the bucket's upper bound (None: above the last bound)
    lower: float | None = None  # the bucket's lower bound (exclusive); None when exact
    exact: bool = False

    @property
    def text(self) -> str:
        if self.exact:
            return fmt_duration(self.upper)
        if self.upper is None:
            return f"> {fmt_bound(self.lower)}"
        return f"≤ {fmt_bound(self.upper)}"

    @property
    def title(self) -> str:
        if self.exact:
            return "exact: the one run's duration"
        low = fmt_bound(self.lower) if self.lower else "0"
        high = fmt_bound(self.upper) if self.upper is not None else "∞"
        return f"histogram bucket {low}–{high}: the exact durations are not kept"


def fmt_bound(seconds: float | None) -> str:
    if seconds is None:
        return "—"
    if seconds < 1:
        return f"{seconds * 1000:g} ms"
    if seconds < 60:
        return f"{seconds:g} s"
    return f"{seconds / 60:g} min"


def percentile(stats: JobStats, q: float) -> Percentile | None:
    """The q-quantile by nearest rank: exact after a single run, else the bucket the ranked run is in."""
    total = sum(stats.buckets)
    if not total:
        return None
    if total == 1 and stats.duration_count == 1:
        return Percentile(stats.duration_sum, exact=True)
    rank = max(1, math.ceil(q * total))
    seen = 0
    for index, count in enumerate(stats.buckets):
        seen += count
        if seen >= rank:
            lower = BUCKETS[index - 1] if index > 0 else 0.0
            return Percentile(BUCKETS[index] if index < len(BUCKETS) else None, lower)
    return Percentile(None, BUCKETS[-1])


@dataclass(frozen=True)
class StatsRow:
    stats: JobStats
    failure_rate: float | None
    p50: Percentile | None
    p95: Percentile | None


def stats_rows(stats: list[JobStats]) -> list[StatsRow]:
    rows = []
    for s in sorted(stats, key=lambda s: (-s.executed, s.name)):
        finished = s.succeeded + s.failed
        rows.append(
            StatsRow(s, s.failed / finished if finished else None, percentile(s, 0.5), percentile(s, 0.95))
        )
    return rows


# --- the overview's figures -----------------------------------------------------------------------------


def heartbeat_totals(heartbeat: str | None) -> str:
    """arq's `<queue>:health-check` as the queue card's footer: one worker's totals since it started.

    Its j_ongoing and queued fields are left out: they are that worker's view when it wrote the value, and
    the card shows the live figures of every worker above them.
    """
    if not heartbeat:
        return "no heartbeat: `arq --check` fails"
    fields = dict(part.split("=", 1) for part in heartbeat.split() if "=" in part)
    shown = [
        f"{fields[key]} {label}"
        for key, label in (("j_complete", "complete"), ("j_failed", "failed"), ("j_retried", "retried"))
        if key in fields
    ]
    return "heartbeat: " + (" · ".join(shown) + " since its worker started" if shown else "alive")


@dataclass(frozen=True)
class Check:
    name: str
    ok: bool
    detail: str


def health_checks(report: dict[str, Any] | None) -> tuple[list[Check], dt.datetime | None]:
    """The last health_check report's parts and when it ran (the cron job writes it to Redis)."""
    if not report:
        return [], None
    checks = []
    for name in ("database", "redis", "telegram"):
        part = report.get(name) or {}
        ok = bool(part.get("ok"))
        detail = f"{part.get('ms', '?')} ms" if ok else str(part.get("error", "failed"))
        checks.append(Check(name, ok, detail))
    checked = report.get("checked_at")
    try:
        when = dt.datetime.fromisoformat(checked) if isinstance(checked, str) else None
    except ValueError:
        when = None
    return checks, when


@dataclass(frozen=True)
class Bar:
    """A stacked bar as inline SVG rects (attributes, not style: the page's CSP allows no inline style)."""

    rects: list[tuple[str, float, float]]  # (class, x, width) over a width of 1000
    label: str

    @property
    def filled(self) -> str:
        return f"{sum(width for _, _, width in self.rects) / 10:.1f}"


def bar(parts: list[tuple[str, int]], total: int, label: str) -> Bar:
    x = 0.0
    rects = []
    for cls, value in parts:
        if total <= 0 or value <= 0:
            continue
        width = min(1000.0 * value / total, 1000.0 - x)
        rects.append((cls, x, width))
        x += width
    return Bar(rects, label)
