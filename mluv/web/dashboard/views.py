"""The dashboard's pages and fragments as HTML strings.

A page is a layout around sections; each section is a fragment that the script re-fetches every few
seconds (`/dashboard/fragments?names=...`), so the same function renders the first view and every update.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

from mluv.db.models import Broadcast, JobFailure
from mluv.jobs.metrics import JobStats
from mluv.jobs.queues import Queue
from mluv.logs import redact
from mluv.web import observe
from mluv.web.dashboard.html import (
    action_form,
    badge,
    e,
    fmt_duration,
    fmt_relative,
    fmt_timestamp,
    mono,
    now_utc,
    progress_bar,
    status_badge,
    table,
)

# A waiting job older than this makes its queue's age amber (fast jobs are user-facing).
OLD_AGE = {Queue.FAST: 60.0, Queue.LONG: 600.0}
FAILURE_STATUSES = ("open", "retried", "discarded", "all")


@dataclass(frozen=True)
class View:
    """What a fragment needs besides data: the CSRF token for its forms and the request's query."""

    csrf: str
    query: dict[str, str]
    path: str


# --- overview ------------------------------------------------------------------------------------------


def render_summary(
    states: list[observe.QueueState],
    workers: observe.WorkersView,
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


def render_queues(states: list[observe.QueueState]) -> str:
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


def render_workers(view: observe.WorkersView) -> str:
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


# --- jobs ----------------------------------------------------------------------------------------------


def _abort(job: observe.JobView, v: View) -> str:
    if job.aborting:
        return badge("aborting…", "warn")
    return action_form(
        "abort",
        "Abort",
        v.csrf,
        {"job_id": job.job_id, "queue": job.queue.label},
        kind="danger",
        confirm=f"Abort job {job.job_id}?",
    )


def render_running(jobs: list[observe.JobView], v: View) -> str:
    now = now_utc()
    rows = [
        [
            f"<strong>{e(j.function)}</strong>",
            mono(j.job_id, shorten=28),
            f'<code class="args">{e(j.call)}</code>',
            e(j.job_try),
            fmt_relative(j.started_at, now) if j.started_at else '<span class="muted">—</span>',
            mono(j.worker) if j.worker else '<span class="muted">unknown</span>',
            _abort(j, v),
        ]
        for j in jobs
    ]
    body = table(
        ["Job", "Id", "Arguments", "Try", "Started", "Worker", ""],
        rows,
        empty="No job is running.",
        cls="jobs",
    )
    return f'<h2>In progress <small data-count="running">{len(jobs)}</small></h2>{body}'


def render_waiting(jobs: list[observe.JobView], v: View) -> str:
    now = now_utc()
    rows = [
        [
            status_badge(j.state),
            f"<strong>{e(j.function)}</strong>",
            mono(j.job_id, shorten=28),
            f'<code class="args">{e(j.call)}</code>',
            e(j.queue.label),
            fmt_relative(j.due_at, now),
            e(j.job_try),
            _abort(j, v),
        ]
        for j in jobs
    ]
    body = table(
        ["State", "Job", "Id", "Arguments", "Queue", "Due", "Next try", ""],
        rows,
        empty="Nothing is queued or deferred.",
        cls="jobs",
    )
    return f'<h2>Queued and deferred <small data-count="waiting">{len(jobs)}</small></h2>{body}'


def render_results(results: list[observe.ResultView], v: View) -> str:
    now = now_utc()
    query = v.query.get("q", "")
    search = (
        f'<form class="search" method="get" action="{e(v.path)}" role="search">'
        f'<input type="search" name="q" value="{e(query)}" placeholder="Job name or id" '
        'aria-label="Search results">'
        f'<button class="btn" type="submit">Search</button>'
        + (f'<a class="btn ghost" href="{e(v.path)}">Clear</a>' if query else "")
        + "</form>"
    )
    rows = [
        [
            status_badge("success" if r.success else "failure"),
            f"<strong>{e(r.function)}</strong>",
            mono(r.job_id, shorten=28),
            e(r.job_try),
            e(fmt_duration(r.duration)),
            fmt_relative(r.finished_at, now),
            f'<code class="args" title="{e(r.summary)}">{e(r.summary[:120])}</code>',
        ]
        for r in results
    ]
    empty = f"No kept result matches “{query}”." if query else "No results kept (JOB_KEEP_RESULT) yet."
    body = table(
        ["Outcome", "Job", "Id", "Tries", "Duration", "Finished", "Result"], rows, empty=empty, cls="results"
    )
    return f'<div class="section-head"><h2>Recent results</h2>{search}</div>{body}'


# --- dead letters -------------------------------------------------------------------------------------------


def render_failures(rows: list[JobFailure], counts: dict[str, int], v: View, *, brief: bool = False) -> str:
    now = now_utc()
    status = v.query.get("status", "open")
    filters = ""
    if not brief:
        links = []
        for option in FAILURE_STATUSES:
            count = sum(counts.values()) if option == "all" else counts.get(option, 0)
            current = ' aria-current="true"' if option == status else ""
            href = f"/dashboard/failures?{urlencode({'status': option})}"
            links.append(f'<a class="chip" href="{e(href)}"{current}>{e(option)} <b>{count}</b></a>')
        filters = f'<nav class="chips" aria-label="Filter by status">{"".join(links)}</nav>'
    items = []
    for row in rows:
        actions = ""
        if row.status == "open":
            actions = action_form(
                "retry", "Retry", v.csrf, {"failure_id": row.id}, kind="primary"
            ) + action_form(
                "discard",
                "Discard",
                v.csrf,
                {"failure_id": row.id},
                kind="ghost",
                confirm=f"Discard failure #{row.id} of {row.job_name}?",
            )
        elif row.retried_job_id:
            actions = f'<span class="muted">retried as {mono(row.retried_job_id, shorten=40)}</span>'
        traceback = ""
        if row.traceback and not brief:
            traceback = (
                f'<details data-key="tb-{row.id}"><summary>Traceback</summary>'
                f'<pre class="traceback">{e(redact(row.traceback))}</pre></details>'
            )
        items.append(
            f'<article class="failure" data-failure="{row.id}" data-status="{e(row.status)}">'
            f'<header><span class="muted">#{row.id}</span> <strong>{e(row.job_name)}</strong> '
            f'{status_badge(row.status)} <span class="muted">{e(row.queue.rsplit(":", 1)[-1])} · '
            f"{row.tries} {'try' if row.tries == 1 else 'tries'} · "
            f"{fmt_relative(row.failed_at, now)}</span></header>"
            f'<p class="error">{e(redact(row.error))}</p>'
            f'<p class="meta">job {mono(row.job_id, shorten=48)} · arguments '
            f'<code class="args">{e(observe.redacted(row.arguments))}</code></p>'
            f'{traceback}<div class="actions">{actions}</div></article>'
        )
    if not items:
        label = "open " if status == "open" or brief else ""
        items.append(f'<p class="empty">No {e(label)}dead letters.</p>')
    title = "Dead letters" + (f' <small data-count="failures">{counts.get("open", 0)} open</small>')
    more = '<p><a href="/dashboard/failures">All dead letters →</a></p>' if brief and rows else ""
    return f'<h2>{title}</h2>{filters}<div class="failures">{"".join(items)}</div>{more}'


# --- cron -----------------------------------------------------------------------------------------------


def render_cron(crons: list[observe.CronView]) -> str:
    now = now_utc()
    rows = []
    for c in crons:
        last = c.last_run
        if last is None:
            last_cell = '<span class="muted">never</span>'
            outcome = badge("no run yet", "muted")
        else:
            last_cell = fmt_relative(last.started_at, now)
            outcome = status_badge(last.status)
            if last.attempts > 1:
                outcome += f' <span class="muted">{last.attempts} attempts</span>'
            if last.error:
                outcome += f'<div class="error small" title="{e(last.error)}">{e(last.error[:140])}</div>'
        rows.append(
            [
                f"<strong>{e(c.name)}</strong>",
                e(c.spec.queue.label),
                f'<span class="schedule">{e(c.schedule)}</span>',
                last_cell,
                outcome,
                fmt_relative(c.last_success, now),
                fmt_relative(c.next_run, now),
            ]
        )
    body = table(
        ["Cron job", "Queue", "Schedule (UTC)", "Last run", "Outcome", "Last success", "Next run"],
        rows,
        empty="No cron job is registered.",
        cls="cron",
    )
    return f"<h2>Cron schedule <small>{len(crons)} jobs</small></h2>{body}"


# --- per-job metrics -------------------------------------------------------------------------------------


def render_stats(stats: list[JobStats]) -> str:
    now = now_utc()
    ordered = sorted(stats, key=lambda s: (-s.executed, s.name))
    rows = []
    for s in ordered:
        finished = s.succeeded + s.failed
        rate = s.failed / finished if finished else 0.0
        rows.append(
            [
                f"<strong>{e(s.name)}</strong>",
                e(s.executed),
                e(s.succeeded),
                f'<span class="{"bad-text" if s.failed else ""}">{s.failed}</span>',
                e(s.retried),
                e(f"{rate:.1%}" if finished else "—"),
                e(fmt_duration(s.p50)),
                e(fmt_duration(s.p95)),
                e(fmt_duration(s.mean)),
                fmt_timestamp(s.last_execution, now),
            ]
        )
    body = table(
        ["Job", "Runs", "Succeeded", "Failed", "Retried", "Failure rate", "p50", "p95", "Mean", "Last run"],
        rows,
        empty="No job has run yet.",
        cls="stats numeric",
    )
    return f"<h2>Per-job metrics <small>all workers</small></h2>{body}"


# --- broadcasts ----------------------------------------------------------------------------------------


def render_broadcasts(rows: list[Broadcast], v: View, *, in_flight_only: bool = False) -> str:
    now = now_utc()
    items = []
    for b in rows:
        in_flight = b.status in observe.IN_FLIGHT_BROADCASTS
        if in_flight_only and not in_flight:
            continue
        done = b.sent + b.blocked + b.failed
        left = max(b.total - done, 0)
        percent = (100.0 * done / b.total) if b.total else 0.0
        bar = progress_bar(
            [("sent", b.sent), ("blocked", b.blocked), ("failed", b.failed)],
            b.total,
            f"{percent:.0f}% done: {b.sent} sent, {b.blocked} blocked, {b.failed} failed, {left} left",
        )
        cancel = (
            action_form(
                "cancel-broadcast",
                "Cancel",
                v.csrf,
                {"broadcast_id": b.id},
                kind="danger",
                confirm=f"Cancel broadcast #{b.id}? Recipients not yet reached will not get it.",
            )
            if in_flight
            else ""
        )
        text = b.text if len(b.text) <= 140 else b.text[:139] + "…"
        started = f"started {fmt_relative(b.started_at, now)}" if b.started_at else "not started"
        items.append(
            f'<article class="broadcast" data-broadcast="{b.id}" data-status="{e(b.status)}">'
            f'<header><span class="muted">#{b.id}</span> {status_badge(b.status)} '
            f'<span class="muted">to {e(b.target)} · {started}</span>'
            f'<span class="percent" data-figure="percent">{percent:.0f}%</span></header>'
            f'<p class="text">{e(text)}</p>{bar}'
            f'<ul class="legend">'
            f'<li><i class="sent"></i>sent <b data-figure="sent">{b.sent}</b></li>'
            f'<li><i class="blocked"></i>blocked <b data-figure="blocked">{b.blocked}</b></li>'
            f'<li><i class="failed"></i>failed <b data-figure="failed">{b.failed}</b></li>'
            f'<li><i class="left"></i>left <b data-figure="left">{left}</b> of {b.total}</li></ul>'
            f'<div class="actions">{cancel}</div></article>'
        )
    if not items:
        items.append(
            '<p class="empty">No broadcast is in flight.</p>'
            if in_flight_only
            else '<p class="empty">No broadcasts yet.</p>'
        )
    title = "Broadcasts in flight" if in_flight_only else "Recent broadcasts"
    return f'<h2>{title}</h2><div class="broadcasts">{"".join(items)}</div>'


# --- layout ---------------------------------------------------------------------------------------------


NAV = (
    ("overview", "/dashboard", "Overview"),
    ("jobs", "/dashboard/jobs", "Jobs"),
    ("failures", "/dashboard/failures", "Dead letters"),
    ("cron", "/dashboard/cron", "Cron"),
    ("stats", "/dashboard/stats", "Metrics"),
    ("broadcasts", "/dashboard/broadcasts", "Broadcasts"),
)


def layout(
    *,
    page: str,
    title: str,
    sections: list[tuple[str, str]],
    csrf: str,
    open_mode: bool,
    notice: str | None,
    static_version: str,
    logout: bool,
) -> str:
    current = ' aria-current="page"'
    nav = "".join(
        f'<a href="{href}"{current if key == page else ""}>{e(label)}</a>' for key, href, label in NAV
    )
    banner = (
        '<div class="banner warn" role="alert"><strong>Open dashboard.</strong> No DASHBOARD_TOKEN is set, '
        "so anyone on this machine can use it. This only works in development on loopback.</div>"
        if open_mode
        else ""
    )
    notice_html = f'<div class="banner info" role="status">{e(notice)}</div>' if notice else ""
    logout_form = (
        f'<form method="post" action="/dashboard/logout" class="logout"><input type="hidden" name="csrf" '
        f'value="{e(csrf)}"><button class="btn ghost small" type="submit">Log out</button></form>'
        if logout
        else ""
    )
    body = "".join(
        f'<section class="card" id="{e(name)}" data-fragment="{e(name)}">{content}</section>'
        for name, content in sections
    )
    return f"""<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="csrf-token" content="{e(csrf)}">
<meta name="robots" content="noindex">
<title>{e(title)} · Mluv jobs</title>
<link rel="icon" href="data:,">
<link rel="stylesheet" href="/dashboard/static/dashboard.css?v={e(static_version)}">
<script src="/dashboard/static/dashboard.js?v={e(static_version)}" defer></script>
</head>
<body data-page="{e(page)}">
<header class="top">
<a class="brand" href="/dashboard">Mluv<span>jobs</span></a>
<nav class="nav" aria-label="Sections">{nav}</nav>
<div class="live" id="live" title="Updates every few seconds"><i></i><span>live</span></div>
{logout_form}
</header>
{banner}{notice_html}
<main>
<h1 class="page-title">{e(title)}</h1>
{body}
</main>
<div id="toast" class="toast" role="status" aria-live="polite" hidden></div>
</body>
</html>
"""


def login_page(*, csrf: str, error: str | None, next_path: str, static_version: str) -> str:
    message = f'<p class="form-error" role="alert">{e(error)}</p>' if error else ""
    return f"""<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="robots" content="noindex">
<title>Log in · Mluv jobs</title>
<link rel="icon" href="data:,">
<link rel="stylesheet" href="/dashboard/static/dashboard.css?v={e(static_version)}">
</head>
<body class="login">
<main>
<form class="card login-card" method="post" action="/dashboard/login">
<h1>Mluv<span>jobs</span></h1>
<p class="muted">Operations dashboard. Log in with the dashboard token or password.</p>
{message}
<input type="hidden" name="csrf" value="{e(csrf)}">
<input type="hidden" name="next" value="{e(next_path)}">
<label for="token">Token or password</label>
<input id="token" name="token" type="password" autocomplete="current-password" required autofocus>
<button class="btn primary" type="submit">Log in</button>
</form>
</main>
</body>
</html>
"""
