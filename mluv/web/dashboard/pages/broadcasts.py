"""The broadcasts' sections: progress of the recent ones (with Cancel), and the overview's in-flight ones."""

from __future__ import annotations

from dataclasses import dataclass

from mluv.db.models import Broadcast
from mluv.telegram.broadcasts import IN_FLIGHT
from mluv.web.dashboard.loader import Loader, Section, View
from mluv.web.dashboard.present import Bar, bar


@dataclass(frozen=True)
class BroadcastItem:
    row: Broadcast
    in_flight: bool
    left: int
    percent: float
    bar: Bar


def broadcast_item(b: Broadcast) -> BroadcastItem:
    done = b.sent + b.blocked + b.failed
    left = max(b.total - done, 0)
    percent = (100.0 * done / b.total) if b.total else 0.0
    label = f"{percent:.0f}% done: {b.sent} sent, {b.blocked} blocked, {b.failed} failed, {left} left"
    parts = [("sent", b.sent), ("blocked", b.blocked), ("failed", b.failed)]
    return BroadcastItem(b, b.status in IN_FLIGHT, left, percent, bar(parts, b.total, label))


async def broadcasts(loader: Loader, v: View) -> Section:
    return _section(await loader.broadcasts(), v, in_flight_only=False)


async def broadcasts_in_flight(loader: Loader, v: View) -> Section:
    return _section(await loader.broadcasts(), v, in_flight_only=True)


def _section(rows: list[Broadcast], v: View, *, in_flight_only: bool) -> Section:
    items = [broadcast_item(b) for b in rows if b.status in IN_FLIGHT or not in_flight_only]
    context = {"items": items, "in_flight_only": in_flight_only, "csrf": v.csrf}
    return Section("sections/broadcasts.html", context)
