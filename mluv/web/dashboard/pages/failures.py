"""The dead letters' sections: the filterable list with Retry / Discard, and the overview's brief one."""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import urlencode

from mluv.db.models import FailureStatus, JobFailure
from mluv.logs import redact
from mluv.web.dashboard.loader import Loader, Section, View
from mluv.web.dashboard.present import redacted

ALL = "all"  # the filter that lists dead letters of every status
FAILURE_STATUSES: tuple[str, ...] = (*FailureStatus, ALL)


@dataclass(frozen=True)
class FailureItem:
    row: JobFailure
    queue: str
    error: str  # redacted, like the arguments and the traceback
    arguments: str
    traceback: str | None


async def failures(loader: Loader, v: View) -> Section:
    status = v.query.get("status", FailureStatus.OPEN)
    if status not in FAILURE_STATUSES:
        status = FailureStatus.OPEN
    rows, counts = await loader.failures(None if status == ALL else FailureStatus(status), 50)
    filters = [
        (
            option,
            sum(counts.values()) if option == ALL else counts.get(option, 0),
            f"/dashboard/failures?{urlencode({'status': option})}",
        )
        for option in FAILURE_STATUSES
    ]
    return _section(rows, counts, v, status=status, filters=filters, brief=False)


async def failures_brief(loader: Loader, v: View) -> Section:
    rows, counts = await loader.failures(FailureStatus.OPEN, 5)
    return _section(rows, counts, v, status=FailureStatus.OPEN, filters=[], brief=True)


def _section(
    rows: list[JobFailure],
    counts: dict[str, int],
    v: View,
    *,
    status: str,
    filters: list[tuple[str, int, str]],
    brief: bool,
) -> Section:
    items = [
        FailureItem(
            row=row,
            queue=row.queue.rsplit(":", 1)[-1],
            error=redact(row.error),
            arguments=redacted(row.arguments),
            traceback=redact(row.traceback) if row.traceback and not brief else None,
        )
        for row in rows
    ]
    context = {
        "failures": items,
        "filters": filters,
        "status": status,
        "open_count": counts.get(FailureStatus.OPEN, 0),
        "only_open": status == FailureStatus.OPEN or brief,
        "brief": brief,
        "csrf": v.csrf,
    }
    return Section("sections/failures.html", context)
