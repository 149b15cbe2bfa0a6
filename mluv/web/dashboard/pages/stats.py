"""The metrics page's section: per-job runs, outcomes and durations over all workers."""

from __future__ import annotations

from mluv.jobs.counters import JobStats
from mluv.web.dashboard.html import e, fmt_duration, fmt_timestamp, now_utc, table
from mluv.web.dashboard.loader import Loader, View


async def stats(loader: Loader, v: View) -> str:
    return render_stats(await loader.stats())


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
