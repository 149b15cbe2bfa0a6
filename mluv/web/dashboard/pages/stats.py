"""The metrics page's section: per-job runs, outcomes and durations over all workers."""

from __future__ import annotations

from mluv.web.dashboard.loader import Loader, Section, View
from mluv.web.dashboard.present import stats_rows


async def stats(loader: Loader, v: View) -> Section:
    return Section("sections/stats.html", {"rows": stats_rows(await loader.stats())})
