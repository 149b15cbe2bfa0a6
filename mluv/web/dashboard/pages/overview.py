"""The overview's sections: summary tiles with the last health check, the queues, the live workers."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy.exc import SQLAlchemyError

from mluv.db.models import FailureStatus
from mluv.jobs.arq_state import QueueState, WorkersView
from mluv.jobs.queues import Queue
from mluv.telegram.broadcasts import IN_FLIGHT
from mluv.web.dashboard.html import (
    badge,
    e,
    fmt_duration,
    fmt_relative,
    fmt_timestamp,
    mono,
    now_utc,
    progress_bar,
    table,
)
from mluv.web.dashboard.loader import Loader, View
from mluv.web.sources.reports import health_report

# A waiting job older than this makes its queue's age amber (fast jobs are user-facing).
OLD_AGE = {Queue.FAST: 60.0, Queue.LONG: 600.0}


async def summary(loader: Loader, v: View) -> str:
    try:
        _, counts = await loader.failures(FailureStatus.OPEN, 1)
        in_flight = sum(1 for b in await loader.broadcasts() if b.status in IN_FLIGHT)
    except (SQLAlchemyError, OSError, TimeoutError):
        counts, in_flight = {}, 0
    health = await health_report(loader.redis)
    return render_summary(await loader.states(), await loader.workers(), counts, in_flight, health)


async def queues(loader: Loader, v: View) -> str:
    return render_queues(await loader.states())


async def workers(loader: Loader, v: View) -> str:
    return render_workers(await loader.workers())


def render_summary(
    states: list[QueueState],
    workers: WorkersView,
    failure_counts: dict[str, int],
    in_flight: int,
    health: dict[str, Any] | None,
) -> str:
    alive = [label for label, beat in workers.heartbeats.items() if beat]
    waiting = sum(s.waiting for s in states)
    running = sum(s.running for s in states)
    oldest = max((s.oldest_waiting_age for s in states), default=0.0)
    open_failures = failure_counts.get("open", 0)
    tiles = [
        (
            "Workers",
            str(len(workers.workers)) if workers.workers else str(len(alive)),
            ("queues " + ", ".join(alive)) if alive else "no heartbeat",
            "ok" if alive else "bad",
        ),
        ("Running", str(running), "jobs in progress", "info" if running else ""),
        ("Waiting", str(waiting), f"oldest {fmt_duration(oldest)}" if waiting else "queues are empty", ""),
        (
            "Dead letters",
            str(open_failures),
            "open" if open_failures else "none open",
            "bad" if open_failures else "ok",
        ),
        ("Broadcasts", str(in_flight), "in flight", "info" if in_flight else ""),
    ]
    cards = "".join(
        f'<div class="tile {e(kind)}"><div class="tile-label">{e(label)}</div>'
        f'<div class="tile-value" data-tile="{e(label.lower())}">{e(value)}</div>'
        f'<div class="tile-note">{e(note)}</div></div>'
        for label, value, note, kind in tiles
    )
    checks = ""
    if health:
        parts = []
        for name in ("database", "redis", "telegram"):
            part = health.get(name) or {}
            ok = bool(part.get("ok"))
            detail = f"{part.get('ms', '?')} ms" if ok else str(part.get("error", "failed"))
            parts.append(f'<span class="check">{badge(name, "ok" if ok else "bad")} {e(detail)}</span>')
        checked = health.get("checked_at")
        when = fmt_relative(dt.datetime.fromisoformat(checked)) if isinstance(checked, str) else "—"
        checks = f'<p class="checks">Health check {when}: {"".join(parts)}</p>'
    return f'<div class="tiles">{cards}</div>{checks}'


def render_queues(states: list[QueueState]) -> str:
    cards = []
    for s in states:
        old = s.oldest_waiting_age > OLD_AGE.get(s.queue, 60.0)
        oldest = fmt_duration(s.oldest_waiting_age) if s.waiting else "—"
        beat = badge("worker alive", "ok") if s.heartbeat else badge("no worker", "bad")
        cards.append(
            f'<article class="queue" data-queue="{e(s.label)}">'
            f"<header><h3>{e(s.label)}</h3>{beat}</header>"
            f'<dl class="figures">'
            f'<div><dt>waiting</dt><dd data-figure="waiting">{s.waiting}</dd></div>'
            f'<div><dt>running</dt><dd data-figure="running">{s.running}</dd></div>'
            f'<div><dt>deferred</dt><dd data-figure="deferred">{s.deferred}</dd></div>'
            f'<div class="{"warn" if old else ""}"><dt>oldest wait</dt>'
            f'<dd data-figure="oldest">{e(oldest)}</dd></div>'
            f"</dl>"
            f'<p class="heartbeat muted" title="arq heartbeat">{e(_heartbeat_text(s.heartbeat))}</p>'
            f"</article>"
        )
    return f'<h2>Queues</h2><div class="queues">{"".join(cards)}</div>'


def _heartbeat_text(heartbeat: str | None) -> str:
    if not heartbeat:
        return "no heartbeat: `arq --check` fails"
    # arq's value: "<date> j_complete=… j_failed=… j_retried=… j_ongoing=… queued=…"
    fields = [part for part in heartbeat.split() if "=" in part]
    return " · ".join(field.replace("j_", "").replace("=", " ") for field in fields)


def render_workers(view: WorkersView) -> str:
    now = now_utc()
    rows = []
    for w in view.workers:
        load = progress_bar([("sent", len(w.running))], w.max_jobs, f"{len(w.running)} of {w.max_jobs} slots")
        queue = Queue(w.queue).label if w.queue in {q.value for q in Queue} else w.queue
        rows.append(
            [
                mono(w.worker_id),
                e(queue),
                f'<div class="load">{load}<span>{len(w.running)} / {w.max_jobs}</span></div>',
                e(w.jobs_done),
                fmt_timestamp(w.started_at, now),
                fmt_timestamp(w.seen_at, now),
            ]
        )
    body = table(
        ["Worker", "Queue", "Load", "Jobs done", "Up since", "Seen"],
        rows,
        empty="No worker is alive (none has written its heartbeat in the last few seconds).",
    )
    return f"<h2>Workers <small>{len(view.workers)} alive</small></h2>{body}"
