"""The broadcasts' sections: progress of the recent ones (with Cancel), and the overview's in-flight ones."""

from __future__ import annotations

from mluv.db.models import Broadcast
from mluv.telegram.broadcasts import IN_FLIGHT
from mluv.web.dashboard.html import action_form, e, fmt_relative, now_utc, progress_bar, status_badge
from mluv.web.dashboard.loader import Loader, View


async def broadcasts(loader: Loader, v: View) -> str:
    return render_broadcasts(await loader.broadcasts(), v)


async def broadcasts_in_flight(loader: Loader, v: View) -> str:
    return render_broadcasts(await loader.broadcasts(), v, in_flight_only=True)


def render_broadcasts(rows: list[Broadcast], v: View, *, in_flight_only: bool = False) -> str:
    now = now_utc()
    items = []
    for b in rows:
        in_flight = b.status in IN_FLIGHT
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
