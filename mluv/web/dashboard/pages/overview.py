"""The overview's sections: summary tiles with the last health check, the queues, the live workers."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy.exc import SQLAlchemyError

from mluv.db.models import FailureStatus
from mluv.jobs.arq_state import QueueState, WorkerInfo, WorkersView
from mluv.jobs.queues import Queue
from mluv.telegram.broadcasts import IN_FLIGHT
from mluv.web.dashboard.loader import Loader, Section, View
from mluv.web.dashboard.present import Bar, bar, health_checks, heartbeat_totals
from mluv.web.dashboard.templating import fmt_duration
from mluv.web.sources.reports import health_report

# A waiting job older than this makes its queue's age amber (fast jobs are user-facing).
OLD_AGE = {Queue.FAST: 60.0, Queue.LONG: 600.0}


@dataclass(frozen=True)
class Tile:
    label: str
    value: str
    note: str
    kind: str


async def summary(loader: Loader, v: View) -> Section:
    try:
        _, counts = await loader.failures(FailureStatus.OPEN, 1)
        in_flight = sum(1 for b in await loader.broadcasts() if b.status in IN_FLIGHT)
    except (SQLAlchemyError, OSError, TimeoutError):
        counts, in_flight = {}, 0
    health = await health_report(loader.redis)
    return summary_section(await loader.states(), await loader.workers(), counts, in_flight, health)


def summary_section(
    states: list[QueueState],
    workers: WorkersView,
    failure_counts: dict[str, int],
    in_flight: int,
    health: dict[str, Any] | None,
) -> Section:
    alive = [label for label, beat in workers.heartbeats.items() if beat]
    waiting = sum(s.waiting for s in states)
    running = sum(s.running for s in states)
    oldest = max((s.oldest_waiting_age for s in states), default=0.0)
    open_failures = failure_counts.get("open", 0)
    tiles = [
        Tile(
            "Workers",
            str(len(workers.workers)) if workers.workers else str(len(alive)),
            ("queues " + ", ".join(alive)) if alive else "no heartbeat",
            "ok" if alive else "bad",
        ),
        Tile("Running", str(running), "jobs in progress", "info" if running else ""),
        Tile(
            "Waiting", str(waiting), f"oldest {fmt_duration(oldest)}" if waiting else "queues are empty", ""
        ),
        Tile(
            "Dead letters",
            str(open_failures),
            "open" if open_failures else "none open",
            "bad" if open_failures else "ok",
        ),
        Tile("Broadcasts", str(in_flight), "in flight", "info" if in_flight else ""),
    ]
    checks, checked_at = health_checks(health)
    return Section("sections/summary.html", {"tiles": tiles, "checks": checks, "checked_at": checked_at})


@dataclass(frozen=True)
class QueueCard:
    state: QueueState
    old: bool  # the oldest waiting job waited longer than its queue should
    footer: str


async def queues(loader: Loader, v: View) -> Section:
    return queues_section(await loader.states())


def queues_section(states: list[QueueState]) -> Section:
    cards = [
        QueueCard(s, s.oldest_waiting_age > OLD_AGE.get(s.queue, 60.0), heartbeat_totals(s.heartbeat))
        for s in states
    ]
    return Section("sections/queues.html", {"queues": cards})


@dataclass(frozen=True)
class WorkerRow:
    info: WorkerInfo
    queue: str
    bar: Bar


async def workers(loader: Loader, v: View) -> Section:
    rows = []
    for w in (await loader.workers()).workers:
        queue = Queue(w.queue).label if w.queue in {q.value for q in Queue} else w.queue
        load = bar([("sent", len(w.running))], w.max_jobs, f"{len(w.running)} of {w.max_jobs} slots")
        rows.append(WorkerRow(w, queue, load))
    return Section("sections/workers.html", {"workers": rows})
