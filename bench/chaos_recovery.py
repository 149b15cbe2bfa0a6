"""Chaos scenarios of bench/chaos.py: Redis emptied mid-broadcast, a job blocking its event loop (and, from
bench/chaos_clocks.py, a worker's clock behind the others' and rolling restarts). See bench/chaos.py."""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import time
from collections import Counter
from collections.abc import Awaitable, Callable
from typing import Any, Literal

from sqlalchemy import select, update
from sqlalchemy.dialects.postgresql import insert

from bench.chaos_clocks import CLOCK_SCENARIOS, cron_rows
from bench.chaos_common import (
    ADMIN_ID,
    BASE_ID,
    FAST,
    LOGS,
    LONG,
    Outcome,
    Scenario,
    ScenarioError,
    Stage,
    add_learners,
    broadcast_limits,
    broadcast_settings,
    enqueue_broadcast,
    eventually,
    new_broadcast,
    stage,
    start,
)
from bench.chaos_faults import private_redis
from bench.chaos_recovery_jobs import BLOCKING_KIND, chaos_blocking_send, runs_key
from mluv.db.models import Broadcast, Delivery, User
from mluv.jobs.connections import create_arq_pool
from mluv.jobs.queues import Queue
from mluv.telegram.reconcile import PENDING_AFTER

# --- 1. FLUSHALL mid-broadcast with 5,000 reminders queued --------------------------------------------------

FLUSH_LEARNERS = 5000
FLUSH_AT_SHARE = 0.4  # of all 10,000 messages (a broadcast and a reminder each)


async def add_reminded_learners(st: Stage, count: int, hour: int) -> list[int]:
    """`count` learners due a reminder at this UTC hour (active yesterday, never practised)."""
    await st.sandbox.create_users(count, base_id=BASE_ID)
    await st.sandbox.create_user(ADMIN_ID, "Admin", language_code="uk")  # the broadcast's progress message
    yesterday = dt.datetime.now(dt.UTC) - dt.timedelta(days=1)
    async with st.engine.begin() as connection:
        await connection.execute(
            insert(User).values(
                [
                    {"id": BASE_ID + i, "timezone": "UTC", "reminder_hour": hour, "last_active_at": yesterday}
                    for i in range(count)
                ]
            )
        )
    st.learners = list(range(BASE_ID, BASE_ID + count))
    return st.learners


async def ledger_by_learner(st: Stage, kind: str, key: str) -> dict[int, str]:
    async with st.session_factory() as session:
        rows = await session.execute(
            select(Delivery.recipient_id, Delivery.status).where(
                Delivery.kind == kind, Delivery.business_key == key
            )
        )
    return {int(user): str(status) for user, status in rows.all()}


async def redis_flushall_broadcast(redis_url: str) -> Outcome:
    from workers.messaging import reconcile_deliveries
    from workers.notifications import send_daily_reminders

    name, learners = "redis-flushall-broadcast", FLUSH_LEARNERS
    now = dt.datetime.now(dt.UTC)
    if now.minute >= 58:  # the reconciler rebuilds the current hour's reminders: stay within one hour
        await asyncio.sleep((60 - now.minute) * 60 - now.second + 3)
    tick = send_daily_reminders.previous_tick(dt.datetime.now(dt.UTC))
    assert tick is not None
    day, logs = tick.date(), LOGS / name
    logs.mkdir(parents=True, exist_ok=True)
    async with (
        private_redis(logs) as server,
        # 10,000 sends and 5,000 enqueues on 2 cores: batches and the reconciler's requeue need time.
        stage(
            server.url,
            logs,
            limits=broadcast_limits(),
            **broadcast_settings(LONG_JOB_TIMEOUT="60", FAST_JOB_TIMEOUT="45"),
        ) as st,
    ):
        await add_reminded_learners(st, learners, tick.hour)
        long, fast = st.fleet.start(LONG), st.fleet.start(FAST)
        await start(long, fast)
        broadcast_id = await new_broadcast(st)
        began = time.monotonic()
        await enqueue_broadcast(st, broadcast_id)
        pool = await create_arq_pool(server.url)
        try:
            # The hourly tick, as the scheduler enqueues it: 5,000 reminder jobs spread over ~30 s.
            await pool.enqueue_job(
                send_daily_reminders.name,
                _job_id=send_daily_reminders.job_id_for(tick),
                _queue_name=send_daily_reminders.queue.value,
            )

            async def midway() -> int:
                sent = int((await st.sandbox.counters())["sent"]) - 1
                ran = [r for r in await cron_rows(st, send_daily_reminders.name) if r.status == "succeeded"]
                return sent if ran and sent >= FLUSH_AT_SHARE * 2 * learners else 0

            sent_at_flush = await eventually(midway, 90, "40 % of the messages sent")
            queued = await st.redis.zcard(Queue.FAST.value)
            reminders_sent = Counter((await ledger_by_learner(st, "reminder", f"reminder:{day}")).values())
            await st.redis.flushall()
            flushed = time.monotonic()
            # Compression: the broadcast counts as started PENDING_AFTER (5 min) ago, so the reconciler may
            # restart it now; its run is enqueued now rather than at the next :30 (both are idempotent).
            async with st.session_factory.begin() as session:
                await session.execute(
                    update(Broadcast)
                    .where(Broadcast.id == broadcast_id)
                    .values(started_at=Broadcast.started_at - dt.timedelta(seconds=PENDING_AFTER))
                )
            await reconcile_deliveries.enqueue_now(pool)
        finally:
            await pool.aclose()

        async def settled() -> bool:
            broadcast = await ledger_by_learner(st, "broadcast", f"broadcast:{broadcast_id}")
            reminders = await ledger_by_learner(st, "reminder", f"reminder:{day}")
            final = ("sent", "unknown", "failed", "blocked")
            return (
                sum(s in final for s in broadcast.values()) == learners
                and sum(s in final for s in reminders.values()) == learners
            )

        try:
            await eventually(settled, 150, "every broadcast and reminder row final")
            recovered: float | None = time.monotonic() - flushed
        except ScenarioError:
            recovered = None
        await asyncio.sleep(1)  # a late duplicate would show in the sandbox's counts
        received = {int(c["id"]): int(c["received"]) for c in await st.sandbox.chats()}
        broadcast = await ledger_by_learner(st, "broadcast", f"broadcast:{broadcast_id}")
        reminders = await ledger_by_learner(st, "reminder", f"reminder:{day}")
        async with st.session_factory() as session:
            status = await session.scalar(select(Broadcast.status).where(Broadcast.id == broadcast_id))
        requeued = sum(
            int(r.get("enqueued", 0))
            for w in st.fleet.workers
            for r in w.records()
            if r.get("event") == "lost reminders enqueued again"
        )
        resumed = st.fleet.count("broadcast resumed")
    lost, duplicated, unknown, not_delivered = [], [], 0, 0
    for user in range(BASE_ID, BASE_ID + learners):
        rows = [broadcast.get(user, "missing"), reminders.get(user, "missing")]
        settled_rows = sum(s in ("sent", "unknown") for s in rows)
        unknown += rows.count("unknown")
        if any(s not in ("sent", "unknown") for s in rows):
            lost.append(user)
        if received.get(user, 0) > settled_rows:
            duplicated.append(user)
        if received.get(user, 0) < rows.count("sent"):
            not_delivered += 1
    problems = []
    if status != "completed":
        problems.append(f"broadcast {status}, not completed")
    if lost:
        problems.append(f"{len(lost)} learners without a final row of each (lost), e.g. {lost[:5]}")
    if duplicated:
        problems.append(f"{len(duplicated)} learners with more messages than rows, e.g. {duplicated[:5]}")
    if not_delivered:
        problems.append(f"{not_delivered} learners with a `sent` row but no message")
    if queued < 100:
        problems.append(f"only {queued} jobs were queued at the flush: nothing was lost")
    both = sum(1 for user in range(BASE_ID, BASE_ID + learners) if received.get(user, 0) == 2)
    return Outcome(
        name=name,
        passed=not problems,
        summary=(
            f"{learners} learners, a broadcast + the hour's reminders; FLUSHALL at {sent_at_flush} of "
            f"{2 * learners} sent ({dict(reminders_sent).get('sent', 0)} reminders sent, {queued} jobs "
            f"queued); reconciler: broadcast resumed {resumed}×, {requeued} reminders enqueued again; "
            f"{both} learners with exactly 2 messages, lost {len(lost)}, duplicated {len(duplicated)}, "
            f"unknown {unknown}; broadcast {status}, total {time.monotonic() - began:.1f} s"
        ),
        lost=len(lost),
        duplicated=len(duplicated),
        unknown=unknown,
        recovered_seconds=None if recovered is None else round(recovered, 2),
        problems=problems,
        note=f"{both}/{learners} with both messages once; reminders requeued {requeued}",
        details={
            "sent_at_flush": sent_at_flush,
            "jobs_queued_at_flush": queued,
            "reminders_sent_at_flush": dict(reminders_sent).get("sent", 0),
            "reminders_requeued": requeued,
            "broadcast_resumed": resumed,
            "ledger_broadcast": dict(Counter(broadcast.values())),
            "ledger_reminder": dict(Counter(reminders.values())),
            "lost_ids": lost[:20],
            "duplicated_ids": duplicated[:20],
        },
    )


# --- 2. a job blocking its event loop past its timeout ------------------------------------------------------

Where = Literal["before-claim", "in-request"]
BLOCK_SECONDS = 45.0  # past arq's in-progress key: the fast queue's longest timeout (30 s) + 10 s


def started_trace(st: Stage, where: str) -> Callable[[], Awaitable[int]]:
    async def check() -> int:
        return int(await st.redis.llen(runs_key(where)))  # type: ignore[misc]

    return check


async def blocking_job_past_timeout(redis_url: str) -> Outcome:
    name = "blocking-job-past-timeout"
    variants: tuple[Where, Where] = ("before-claim", "in-request")
    async with stage(
        redis_url, LOGS / name, FAST_JOB_TIMEOUT="5", EXTRA_JOB_MODULES="bench.chaos_recovery_jobs"
    ) as st:
        chats = dict(zip(variants, await add_learners(st, len(variants)), strict=True))
        workers = [st.fleet.start(FAST) for _ in range(3)]
        await start(*workers)
        pool = await create_arq_pool(redis_url)
        began = time.monotonic()
        try:
            for where in variants:  # one after the other: a blocked worker takes no second job
                await chaos_blocking_send.enqueue(
                    pool, token=where, chat_id=chats[where], block_seconds=BLOCK_SECONDS, where=where
                )
                await eventually(started_trace(st, where), 20, f"the {where} job to start")
        finally:
            await pool.aclose()

        async def traces(where: str) -> list[dict[str, Any]]:
            return [json.loads(raw) for raw in await st.redis.lrange(runs_key(where), 0, -1)]  # type: ignore[misc]

        async def ended() -> bool:
            for where in variants:
                if await st.redis.exists(f"arq:job:chaos:blocking:{where}"):
                    return False
            return time.monotonic() - began > BLOCK_SECONDS + 3

        await eventually(ended, BLOCK_SECONDS + 40, "the blocked jobs and their re-runs to end")
        figures: dict[str, Any] = {}
        for where in variants:
            runs = await traces(where)
            blocker = next((r["pid"] for r in runs if r["blocker"]), None)
            rerun_by = sorted({r["pid"] for r in runs if r["event"] == "started" and r["pid"] != blocker})
            async with st.session_factory() as session:
                row = (
                    await session.execute(
                        select(Delivery.status, Delivery.attempts).where(
                            Delivery.kind == BLOCKING_KIND, Delivery.business_key == f"chaos:{where}"
                        )
                    )
                ).one_or_none()
            sends = int((await st.sandbox.chat(chats[where])).get("received", 0))
            figures[where] = {
                "runs_started": sum(r["event"] == "started" for r in runs),
                "runs_finished": [
                    (r["try"], r["status"], r["duplicate"]) for r in runs if r["event"] == "finished"
                ],
                "blocked_pid": blocker,
                "rerun_by_other_workers": len(rerun_by),
                "sends": sends,
                "ledger": None if row is None else {"status": row.status, "claims": row.attempts},
            }
        alive = sum(worker.process.poll() is None for worker in workers)
    problems = []
    for variant, figure in figures.items():
        if figure["sends"] > 1:
            problems.append(f"{variant}: {figure['sends']} messages for one delivery")
        if not figure["rerun_by_other_workers"]:
            problems.append(f"{variant}: no other worker re-ran the blocked job: nothing was tested")
        ledger = figure["ledger"] or {}
        if ledger.get("status") not in ("sent", "unknown") or (ledger.get("status") == "sent") != bool(
            figure["sends"]
        ):
            problems.append(f"{variant}: ledger {ledger} against {figure['sends']} message(s)")
    if alive != 3:
        problems.append(f"{3 - alive} worker(s) exited")
    duplicated = sum(max(0, f["sends"] - 1) for f in figures.values())
    unknown = sum((f["ledger"] or {}).get("status") == "unknown" for f in figures.values())
    text = "; ".join(
        f"{variant}: re-run by {f['rerun_by_other_workers']} other worker(s), {f['sends']} send(s), "
        f"ledger {(f['ledger'] or {}).get('status')}"
        for variant, f in figures.items()
    )
    return Outcome(
        name=name,
        passed=not problems,
        summary=(
            f"3 fast workers (FAST_JOB_TIMEOUT=5, in-progress key 40 s); two jobs block their loop "
            f"{BLOCK_SECONDS:g} s with a delivery held — {text}; workers alive {alive}/3"
        ),
        duplicated=duplicated,
        unknown=unknown,
        problems=problems,
        note=text,
        details=figures,
    )


RECOVERY_SCENARIOS: dict[str, tuple[Scenario, float]] = {
    "redis-flushall-broadcast": (redis_flushall_broadcast, 240.0),
    "blocking-job-past-timeout": (blocking_job_past_timeout, 120.0),
    **CLOCK_SCENARIOS,
}
