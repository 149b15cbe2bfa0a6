"""The cron page's section: every cron job's schedule, last run and outcome, last success, next run."""

from __future__ import annotations

from mluv.web.dashboard.html import badge, e, fmt_relative, now_utc, status_badge, table
from mluv.web.dashboard.loader import Loader, View
from mluv.web.sources.cron import CronView, cron_views, registered_crons


async def cron(loader: Loader, v: View) -> str:
    return render_cron(await cron_views(loader.resources.session_factory, registered_crons()))


def render_cron(crons: list[CronView]) -> str:
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
