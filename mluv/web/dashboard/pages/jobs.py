"""The jobs page's sections: jobs in progress (with Abort), queued and deferred jobs, recent results."""

from __future__ import annotations

from mluv.jobs.arq_state import recent_results
from mluv.web.dashboard.html import (
    action_form,
    badge,
    e,
    fmt_duration,
    fmt_relative,
    mono,
    now_utc,
    status_badge,
    table,
)
from mluv.web.dashboard.loader import Loader, View
from mluv.web.dashboard.present import JobView, ResultView, job_view, result_view


async def running(loader: Loader, v: View) -> str:
    return render_running([job_view(j) for j in (await loader.jobs()).running], v)


async def waiting(loader: Loader, v: View) -> str:
    return render_waiting([job_view(j) for j in (await loader.jobs()).waiting], v)


async def results(loader: Loader, v: View) -> str:
    found = await recent_results(loader.redis, v.query.get("q", ""))
    return render_results([result_view(r) for r in found], v)


def _abort(job: JobView, v: View) -> str:
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


def render_running(jobs: list[JobView], v: View) -> str:
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


def render_waiting(jobs: list[JobView], v: View) -> str:
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


def render_results(results: list[ResultView], v: View) -> str:
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
