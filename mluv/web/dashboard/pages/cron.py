"""The cron page's section: every cron job's schedule, last run and outcome, last success, next run."""

from __future__ import annotations

from mluv.web.dashboard.loader import Loader, Section, View
from mluv.web.sources.cron import cron_views, registered_crons


async def cron(loader: Loader, v: View) -> Section:
    crons = await cron_views(loader.resources.session_factory, registered_crons())
    return Section("sections/cron.html", {"crons": crons})
