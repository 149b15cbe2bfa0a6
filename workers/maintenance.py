"""Maintenance jobs: the health check, a diagnostic ping, retention cleanup and materialized views.

job                          queue  tries  schedule (UTC)
health_check                 fast   3      every HEALTH_CHECK_CRON_SECONDS (5 min)
cleanup_old_data             long   3      Mondays 02:00, caught up
refresh_materialized_views   long   3      hourly at :15
ping / ping_long             fast / long   on demand (`mluv jobs ping`)
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import os
import socket
import time
from typing import Annotated, Any

from pydantic import Field

from mluv.jobs import (
    CronRun,
    DeclaredJob,
    JobContext,
    Queue,
    cron,
    every,
    job,
    registry,
)
from mluv.jobs.arq_state import queue_states, read_workers
from mluv.jobs.cron import CATCH_UP_LOOKBACK
from mluv.jobs.deployment import namespace_of
from mluv.jobs.retry import MAINTENANCE_RETRY
from mluv.logs import get_logger
from mluv.resources import Resources
from mluv.settings import get_settings

log = get_logger(__name__)

# The last health report, read by the dashboard (mluv.web.sources.reports).
HEALTH_KEY = "mluv:health:last"
TELEGRAM_TIMEOUT = 5.0
# A ping this late answers no one: `mluv jobs ping` stopped waiting long before (docs/jobs.md).
PING_STALE_AFTER = 300.0


async def _timed(check: Any) -> dict[str, Any]:
    started = time.perf_counter()
    try:
        detail = await check
    except Exception as error:
        return {"ok": False, "error": f"{type(error).__name__}: {error}"[:300]}
    return {"ok": True, "ms": round((time.perf_counter() - started) * 1000, 2), **(detail or {})}


async def _oldest_job_age(ctx: JobContext[Resources]) -> dict[str, Any]:
    return {
        state.label: {
            "depth": state.depth + state.running,
            "oldest_age_s": round(state.oldest_waiting_age, 3),
        }
        for state in await queue_states(ctx.redis, await read_workers(ctx.redis))
    }


async def _database(ctx: JobContext[Resources]) -> dict[str, Any]:
    from sqlalchemy import text

    async with ctx.resources.session_factory() as session:
        await session.execute(text("SELECT 1"))
    return {}


async def _redis(ctx: JobContext[Resources]) -> dict[str, Any]:
    await ctx.redis.ping()
    return {}


async def _telegram(ctx: JobContext[Resources]) -> dict[str, Any]:
    async with asyncio.timeout(TELEGRAM_TIMEOUT):
        me = await ctx.resources.bot.get_me()
    return {"username": me.username}


@cron(queue=Queue.FAST, **every(get_settings().health_check_cron_seconds))
async def health_check(ctx: JobContext[Resources], run: CronRun) -> dict[str, Any]:
    """Database, Redis, Telegram reachability and queue ages, stored in Redis for the dashboard."""
    report: dict[str, Any] = {
        "tick": run.tick.isoformat(),
        "checked_at": dt.datetime.now(dt.UTC).isoformat(),
        "database": await _timed(_database(ctx)),
        "redis": await _timed(_redis(ctx)),
        "telegram": await _timed(_telegram(ctx)),
        "queues": await _timed(_oldest_job_age(ctx)),
    }
    report["ok"] = all(report[part]["ok"] for part in ("database", "redis", "telegram", "queues"))
    # Kept for three intervals, so a run that stopped happening shows as stale rather than vanishing.
    ttl = max(60, 3 * get_settings().health_check_cron_seconds)
    await ctx.redis.set(namespace_of(ctx.redis).rekey(HEALTH_KEY), json.dumps(report), ex=ttl)
    if not report["ok"]:
        log.warning("health check found a problem", report=report)
    return report


@job(queue=Queue.FAST, keep_result=3600, stale_after=PING_STALE_AFTER, manual=True)
async def ping(
    ctx: JobContext[Resources], token: str, work_seconds: Annotated[float, Field(ge=0, le=20)] = 0.0
) -> dict[str, Any]:
    """Diagnostics: proves a worker of the queue takes jobs and returns results (`mluv jobs ping`).

    `work_seconds` simulates work, to watch a job in progress or rehearse a deploy.
    """
    await asyncio.sleep(work_seconds)
    return {"token": token, "worker": f"{socket.gethostname()}:{os.getpid()}", "job_try": ctx.job_try}


# The same diagnostic on the long queue, so `mluv jobs ping --queue long` checks those workers too.
ping_long = DeclaredJob(
    ping.fn, name="ping_long", queue=Queue.LONG, keep_result=3600, stale_after=PING_STALE_AFTER, manual=True
)
registry.add_job(ping_long)


# --- retention and views -------------------------------------------------------------------------------

# Rows per DELETE statement (a module attribute so tests can make batches small).
CLEANUP_BATCH = 5_000


@cron(queue=Queue.LONG, weekday=0, hour=2, minute=0, catch_up=True, retry=MAINTENANCE_RETRY)
async def cleanup_old_data(ctx: JobContext[Resources], run: CronRun) -> dict[str, Any]:
    """Mondays: delete rows older than each table's retention (settings), in batches; counts per table.

    Cutoffs are relative to the tick, so a retried or caught-up run deletes the same rows; a run cut
    short resumes naturally (the next one finds fewer old rows).
    """
    from mluv.db.maintenance import delete_older_than, retention_rules

    settings = ctx.resources.settings
    rules = retention_rules(
        messages_days=settings.retention_messages_days,
        deliveries_days=settings.retention_deliveries_days,
        job_failures_days=settings.retention_job_failures_days,
        platform_metrics_days=settings.retention_platform_metrics_days,
        # Catch-up re-runs any tick of the lookback without a cron_runs row: keep at least that much.
        cron_runs_days=max(settings.retention_cron_runs_days, CATCH_UP_LOOKBACK.days + 1),
    )
    deleted: dict[str, int] = {}
    batches: dict[str, int] = {}
    for rule in rules:
        cutoff = run.tick - dt.timedelta(days=rule.days)
        result = await delete_older_than(
            ctx.resources.session_factory, rule, cutoff, batch_size=CLEANUP_BATCH
        )
        deleted[rule.table], batches[rule.table] = result.rows, result.batches
    log.info("old data deleted", deleted=deleted)
    return {"deleted": deleted, "batches": batches}


@cron(queue=Queue.LONG, minute=15, retry=MAINTENANCE_RETRY)
async def refresh_materialized_views(ctx: JobContext[Resources], run: CronRun) -> dict[str, Any]:
    """Hourly: refresh the materialized views (the weekly leaderboard) without blocking their readers."""
    from mluv.db.maintenance import MATERIALIZED_VIEWS, refresh_view

    report: dict[str, Any] = {}
    for view in MATERIALIZED_VIEWS:
        started = time.perf_counter()
        concurrently = await refresh_view(ctx.resources.session_factory, view)
        report[view] = {
            "concurrently": concurrently,
            "ms": round((time.perf_counter() - started) * 1000, 1),
        }
    return report
