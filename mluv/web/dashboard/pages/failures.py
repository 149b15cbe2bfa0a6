"""The dead letters' sections: the filterable list with Retry / Discard, and the overview's brief one."""

from __future__ import annotations

from urllib.parse import urlencode

from mluv.db.models import FailureStatus, JobFailure
from mluv.logs import redact
from mluv.web.dashboard.html import action_form, e, fmt_relative, mono, now_utc, status_badge
from mluv.web.dashboard.loader import Loader, View
from mluv.web.dashboard.present import redacted

ALL = "all"  # the filter that lists dead letters of every status
FAILURE_STATUSES: tuple[str, ...] = (*FailureStatus, ALL)


async def failures(loader: Loader, v: View) -> str:
    status = v.query.get("status", FailureStatus.OPEN)
    if status not in FAILURE_STATUSES:
        status = FailureStatus.OPEN
    rows, counts = await loader.failures(None if status == ALL else FailureStatus(status), 50)
    return render_failures(rows, counts, View(v.csrf, {**v.query, "status": status}, v.path))


async def failures_brief(loader: Loader, v: View) -> str:
    rows, counts = await loader.failures(FailureStatus.OPEN, 5)
    return render_failures(rows, counts, v, brief=True)


def render_failures(rows: list[JobFailure], counts: dict[str, int], v: View, *, brief: bool = False) -> str:
    now = now_utc()
    status = v.query.get("status", FailureStatus.OPEN)
    filters = ""
    if not brief:
        links = []
        for option in FAILURE_STATUSES:
            count = sum(counts.values()) if option == ALL else counts.get(option, 0)
            current = ' aria-current="true"' if option == status else ""
            href = f"/dashboard/failures?{urlencode({'status': option})}"
            links.append(f'<a class="chip" href="{e(href)}"{current}>{e(option)} <b>{count}</b></a>')
        filters = f'<nav class="chips" aria-label="Filter by status">{"".join(links)}</nav>'
    items = []
    for row in rows:
        actions = ""
        if row.status == FailureStatus.OPEN:
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
            f'<code class="args">{e(redacted(row.arguments))}</code></p>'
            f'{traceback}<div class="actions">{actions}</div></article>'
        )
    if not items:
        label = "open " if status == FailureStatus.OPEN or brief else ""
        items.append(f'<p class="empty">No {e(label)}dead letters.</p>')
    title = "Dead letters" + (
        f' <small data-count="failures">{counts.get(FailureStatus.OPEN, 0)} open</small>'
    )
    more = '<p><a href="/dashboard/failures">All dead letters →</a></p>' if brief and rows else ""
    return f'<h2>{title}</h2>{filters}<div class="failures">{"".join(items)}</div>{more}'
