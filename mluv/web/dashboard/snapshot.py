"""`GET /dashboard/api/snapshot`: everything the pages show, as JSON, for scripts and tests.

Arguments and results are redacted as on the pages. If PostgreSQL fails, the Redis figures are still
served and `database_error` names the failure.
"""

from __future__ import annotations

from typing import Any

from aiohttp import web
from sqlalchemy.exc import SQLAlchemyError

from mluv.db.models import FailureStatus
from mluv.jobs.arq_state import ArqJob, recent_results
from mluv.logs import redact
from mluv.web.dashboard.loader import Loader
from mluv.web.dashboard.present import Percentile, job_view, percentile, result_view
from mluv.web.dashboard.state import Operator, dashboard_state
from mluv.web.sources.cron import cron_views, registered_crons


async def snapshot(request: web.Request, operator: Operator) -> web.StreamResponse:
    """Everything the pages show, as JSON (for scripts and tests); arguments are redacted as on the pages."""
    resources = dashboard_state(request).resources
    loader = Loader(resources)
    states = await loader.states()
    workers = await loader.workers()
    jobs = await loader.jobs()

    def job(arq_job: ArqJob) -> dict[str, Any]:
        j = job_view(arq_job)
        return {
            "job_id": j.job_id,
            "function": j.function,
            "queue": j.queue.label,
            "state": j.state,
            "arguments": j.call,
            "try": j.job_try,
            "started_at": j.started_at.isoformat() if j.started_at else None,
            "worker": j.worker,
            "aborting": j.aborting,
        }

    def figure(p: Percentile | None) -> dict[str, Any] | None:
        # Exact after one run; otherwise the histogram bucket (lower exclusive, upper None: unbounded).
        if p is None:
            return None
        return {"exact": p.exact, "value": p.upper if p.exact else None, "bucket": [p.lower, p.upper]}

    body: dict[str, Any] = {
        "queues": [
            {
                "queue": s.label,
                "waiting": s.waiting,
                "deferred": s.deferred,
                "running": s.running,
                "oldest_waiting_age": s.oldest_waiting_age,
                "worker_alive": s.heartbeat is not None,
            }
            for s in states
        ],
        "workers": [
            {"id": w.worker_id, "queue": w.queue, "running": len(w.running), "max_jobs": w.max_jobs}
            for w in workers.workers
        ],
        "running": [job(j) for j in jobs.running],
        "waiting": [job(j) for j in jobs.waiting],
        "results": [
            {
                "job_id": r.job_id,
                "function": r.function,
                "success": r.success,
                "tries": r.job_try,
                "duration": r.duration,
                "summary": r.summary,
            }
            for r in map(
                result_view, await recent_results(loader.redis, request.query.get("q", ""), limit=20)
            )
        ],
        "job_stats": [
            {
                "job": s.name,
                "executed": s.executed,
                "failed": s.failed,
                "retried": s.retried,
                "mean": s.mean,
                "p50": figure(percentile(s, 0.5)),
                "p95": figure(percentile(s, 0.95)),
                "last_execution": s.last_execution,
            }
            for s in await loader.stats()
        ],
    }
    try:
        rows, counts = await loader.failures(FailureStatus.OPEN, 50)
        body["dead_letters"] = {
            "counts": counts,
            "open": [{"id": r.id, "job_name": r.job_name, "error": redact(r.error)} for r in rows],
        }
        body["crons"] = [
            {
                "name": c.name,
                "schedule": c.schedule,
                "next_run": c.next_run.isoformat(),
                "last_status": c.last_run.status if c.last_run else None,
                "last_success": c.last_success.isoformat() if c.last_success else None,
            }
            for c in await cron_views(resources.session_factory, registered_crons())
        ]
        body["broadcasts"] = [
            {
                "id": b.id,
                "status": b.status,
                "total": b.total,
                "sent": b.sent,
                "blocked": b.blocked,
                "failed": b.failed,
            }
            for b in await loader.broadcasts()
        ]
    except (SQLAlchemyError, OSError, TimeoutError) as error:
        body["database_error"] = type(error).__name__
    return web.json_response(body)
