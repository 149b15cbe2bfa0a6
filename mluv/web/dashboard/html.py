"""Small HTML helpers: escaping, times, durations, badges, forms. Every dynamic value goes through `e`."""

from __future__ import annotations

import datetime as dt
import html
from collections.abc import Iterable

from mluv.web.auth import CSRF_FIELD


def e(value: object) -> str:
    return html.escape("" if value is None else str(value), quote=True)


def now_utc() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def fmt_duration(seconds: float | None) -> str:
    if seconds is None:
        return "—"
    seconds = max(seconds, 0.0)
    if seconds < 0.001:
        return f"{seconds * 1_000_000:.0f} µs"
    if seconds < 1:
        return f"{seconds * 1000:.0f} ms"
    if seconds < 60:
        return f"{seconds:.1f} s"
    if seconds < 3600:
        minutes, rest = divmod(int(seconds), 60)
        return f"{minutes} min {rest} s" if rest else f"{minutes} min"
    if seconds < 86400 * 2:
        hours, rest = divmod(int(seconds), 3600)
        return f"{hours} h {rest // 60} min" if rest // 60 else f"{hours} h"
    return f"{seconds / 86400:.0f} d"


def fmt_relative(moment: dt.datetime | None, now: dt.datetime | None = None) -> str:
    """`<time>` with a relative text ("12 s ago", "in 3 min") and the absolute UTC time as its title."""
    if moment is None:
        return '<span class="muted">—</span>'
    now = now or now_utc()
    delta = (now - moment).total_seconds()
    text = (
        "just now"
        if abs(delta) < 1
        else (f"{fmt_duration(delta)} ago" if delta > 0 else f"in {fmt_duration(-delta)}")
    )
    absolute = moment.astimezone(dt.UTC).strftime("%Y-%m-%d %H:%M:%S UTC")
    return f'<time datetime="{e(moment.isoformat())}" title="{e(absolute)}">{e(text)}</time>'


def fmt_timestamp(ts: float | None, now: dt.datetime | None = None) -> str:
    return fmt_relative(dt.datetime.fromtimestamp(ts, dt.UTC) if ts else None, now)


def badge(text: str, kind: str = "muted") -> str:
    return f'<span class="badge {e(kind)}">{e(text)}</span>'


STATUS_KIND = {
    "succeeded": "ok",
    "completed": "ok",
    "success": "ok",
    "sent": "ok",
    "running": "info",
    "confirmed": "info",
    "queued": "info",
    "deferred": "muted",
    "failed": "bad",
    "failure": "bad",
    "open": "bad",
    "cancelled": "muted",
    "discarded": "muted",
    "retried": "info",
    "draft": "muted",
}


def status_badge(status: str) -> str:
    return badge(status, STATUS_KIND.get(status, "muted"))


def mono(text: str, *, shorten: int = 0) -> str:
    shown = text if not shorten or len(text) <= shorten else text[: shorten - 1] + "…"
    return f'<code title="{e(text)}">{e(shown)}</code>'


def action_form(
    action: str,
    label: str,
    csrf: str,
    fields: dict[str, str | int],
    *,
    kind: str = "",
    confirm: str | None = None,
) -> str:
    """A POST form for an action; works without JavaScript, and the script sends it with fetch."""
    hidden = "".join(f'<input type="hidden" name="{e(k)}" value="{e(v)}">' for k, v in fields.items())
    confirm_attr = f' data-confirm="{e(confirm)}"' if confirm else ""
    return (
        f'<form class="action" method="post" action="/dashboard/actions/{e(action)}"{confirm_attr}>'
        f'<input type="hidden" name="{CSRF_FIELD}" value="{e(csrf)}">{hidden}'
        f'<button type="submit" class="btn small {e(kind)}" data-action="{e(action)}">{e(label)}</button>'
        "</form>"
    )


def table(headers: Iterable[str], rows: Iterable[Iterable[str]], *, empty: str, cls: str = "") -> str:
    """A table whose cells carry their header as data-label, so it stacks into cards on a phone."""
    headers = list(headers)
    body = []
    for row in rows:
        cells = "".join(f'<td data-label="{e(h)}">{cell}</td>' for h, cell in zip(headers, row, strict=True))
        body.append(f"<tr>{cells}</tr>")
    if not body:
        return f'<p class="empty">{e(empty)}</p>'
    head = "".join(f"<th>{e(h)}</th>" for h in headers)
    return (
        f'<div class="table-wrap"><table class="{e(cls)}"><thead><tr>{head}</tr></thead>'
        f"<tbody>{''.join(body)}</tbody></table></div>"
    )


def progress_bar(parts: list[tuple[str, int]], total: int, label: str) -> str:
    """A stacked bar as inline SVG (attributes, not style attributes: allowed by the page's CSP)."""
    x = 0.0
    rects = ['<rect class="track" x="0" y="0" width="1000" height="14" rx="7"></rect>']
    for cls, value in parts:
        if total <= 0 or value <= 0:
            continue
        width = min(1000.0 * value / total, 1000.0 - x)
        rects.append(f'<rect class="{e(cls)}" x="{x:.1f}" y="0" width="{width:.1f}" height="14"></rect>')
        x += width
    return (
        f'<svg class="bar" viewBox="0 0 1000 14" preserveAspectRatio="none" role="img" '
        f'aria-label="{e(label)}" data-filled="{x / 10:.1f}">{"".join(rects)}</svg>'
    )
