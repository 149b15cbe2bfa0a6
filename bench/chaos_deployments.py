"""The `two-deployments` scenario of bench/chaos.py: two deployments (two databases) on one Redis database.

Deployment A (its database, `mluv worker`, DEPLOYMENT_NAME=deployment-a) runs; deployment B (another
database, DEPLOYMENT_NAME=deployment-b) on the same Redis db must refuse to start (exit code ≠ 0, the
marker's message in its log). B with REDIS_NAMESPACE=b then starts, and both enqueue the same
deterministic reminder ids (`reminder:<day>:<user>`) for the same learners: each database's ledger gets
its own sends, under its own job ids, and no job runs in the other's process (jobs crossed 0).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import insert, select
from sqlalchemy.ext.asyncio import AsyncEngine

from bench.chaos_common import BASE_ID, FAST, LOGS, Outcome, Scenario, eventually, log_records, stage, start
from bench.common import bench_database_url
from mluv.db.models import Delivery, User
from mluv.db.session import create_engine
from mluv.domain.progress import local_date
from mluv.jobs.connections import create_arq_pool
from mluv.jobs.deployment import RedisNamespace
from workers.notifications import REMINDER_KIND, send_streak_reminder

LEARNERS = 30
TIMEZONE = "Europe/Prague"  # users.timezone's default


async def add_reminded_learners(engine: AsyncEngine) -> None:
    """The same learners in a deployment's database: active, reminders on, not practised today."""
    async with engine.begin() as connection:
        await connection.execute(insert(User).values([{"id": BASE_ID + i} for i in range(LEARNERS)]))


async def ledger(engine: AsyncEngine) -> list[tuple[int, str, str | None]]:
    """(learner, status, job id) of every reminder the deployment's Sender recorded."""
    async with engine.connect() as connection:
        rows = await connection.execute(
            select(Delivery.recipient_id, Delivery.status, Delivery.job_id).where(
                Delivery.kind == REMINDER_KIND
            )
        )
        return [(int(r[0]), str(r[1]), r[2]) for r in rows]


def job_ids_run(records: list[dict[str, Any]]) -> set[str]:
    """The job ids a worker's log says it ran (the jobs framework logs each try with its id)."""
    return {
        str(r["job_id"])
        for r in records
        if r.get("job_id") and r.get("job_name") == send_streak_reminder.name
    }


async def two_deployments(redis_url: str) -> Outcome:
    name = "two-deployments"
    problems: list[str] = []
    async with stage(redis_url, LOGS / name) as st, bench_database_url() as database_b:
        engine_b = create_engine(database_b)
        try:
            await add_reminded_learners(st.engine)
            await add_reminded_learners(engine_b)
            await st.sandbox.create_users(LEARNERS, base_id=BASE_ID)
            worker_a = st.fleet.start(FAST, DEPLOYMENT_NAME="deployment-a")
            await start(worker_a)

            refused_b = st.fleet.start(FAST, DATABASE_URL=database_b, DEPLOYMENT_NAME="deployment-b")
            code = await refused_b.exited(60)
            message = "belongs to deployment 'deployment-a', but this deployment is 'deployment-b'"
            refused = code != 0 and message in refused_b.output()
            if not refused:
                problems.append(f"deployment B was not refused (exit {code}): {refused_b.output()[-1500:]}")

            worker_b = st.fleet.start(
                FAST, DATABASE_URL=database_b, DEPLOYMENT_NAME="deployment-b", REDIS_NAMESPACE="b"
            )
            await start(worker_b)

            day = local_date(dt.datetime.now(dt.UTC), TIMEZONE)
            pools = [await create_arq_pool(redis_url), await create_arq_pool(redis_url, RedisNamespace("b"))]
            try:
                for pool in pools:
                    for i in range(LEARNERS):
                        await send_streak_reminder.enqueue(pool, user_id=BASE_ID + i, day=day)
            finally:
                for pool in pools:
                    await pool.aclose()

            async def both_done() -> bool:
                rows = [await ledger(st.engine), await ledger(engine_b)]
                return all(sum(1 for _, status, _ in r if status == "sent") >= LEARNERS for r in rows)

            await eventually(both_done, 60, "both ledgers to record every learner's reminder")
            rows_a, rows_b = await ledger(st.engine), await ledger(engine_b)
            ids = {f"reminder:{day.isoformat()}:{BASE_ID + i}" for i in range(LEARNERS)}
            ran_a = job_ids_run(log_records(worker_a.log_path))
            ran_b = job_ids_run(log_records(worker_b.log_path))
            crossed = (
                sum(1 for _, _, job_id in rows_a if job_id not in ids)
                + sum(1 for _, _, job_id in rows_b if (job_id or "").removeprefix("b:") not in ids)
                + sum(1 for _, _, job_id in rows_b if not (job_id or "").startswith("b:"))
                + len(ran_a - ids)
                + len({job_id.removeprefix("b:") for job_id in ran_b} - ids)
                + sum(1 for job_id in ran_b if not job_id.startswith("b:"))
            )
            sent = [len({user for user, status, _ in r if status == "sent"}) for r in (rows_a, rows_b)]
        finally:
            await engine_b.dispose()
    if crossed:
        problems.append(f"{crossed} job(s) crossed between the deployments")
    if sent != [LEARNERS, LEARNERS] or len(rows_a) != LEARNERS or len(rows_b) != LEARNERS:
        problems.append(
            f"ledgers: A {len(rows_a)} rows ({sent[0]} sent), B {len(rows_b)} rows ({sent[1]} sent)"
        )
    note = f"refused {'yes' if refused else 'no'}, jobs crossed {crossed}"
    return Outcome(
        name,
        passed=not problems,
        summary=f"{note}; reminders sent A {sent[0]}/{LEARNERS}, B {sent[1]}/{LEARNERS}",
        problems=problems,
        details={
            "refused": refused,
            "refused_exit_code": code,
            "jobs_crossed": crossed,
            "sent_a": sent[0],
            "sent_b": sent[1],
            "ran_a": len(ran_a),
            "ran_b": len(ran_b),
        },
        note=note,
        counts=False,
    )


DEPLOYMENT_SCENARIOS: dict[str, tuple[Scenario, float]] = {"two-deployments": (two_deployments, 120.0)}
