"""The jobs page's sections: jobs in progress (with Abort), queued and deferred jobs, recent results."""

from __future__ import annotations

from mluv.jobs.arq_state import recent_results
from mluv.web.dashboard.loader import Loader, Section, View
from mluv.web.dashboard.present import job_view, result_view


async def running(loader: Loader, v: View) -> Section:
    jobs = [job_view(j) for j in (await loader.jobs()).running]
    return Section("sections/running.html", {"jobs": jobs, "csrf": v.csrf})


async def waiting(loader: Loader, v: View) -> Section:
    jobs = [job_view(j) for j in (await loader.jobs()).waiting]
    return Section("sections/waiting.html", {"jobs": jobs, "csrf": v.csrf})


async def results(loader: Loader, v: View) -> Section:
    query = v.query.get("q", "")
    found = [result_view(r) for r in await recent_results(loader.redis, query)]
    return Section("sections/results.html", {"results": found, "query": query, "path": v.path})
