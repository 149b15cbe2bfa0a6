"""The ledger's reconciler (mluv.telegram.reconcile) on real PostgreSQL and Redis."""

from __future__ import annotations

import datetime as dt
from typing import Any

from redis.asyncio import Redis
from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from mluv.db.models import Delivery, JobFailure
from mluv.telegram.reconcile import reconcile_ledger
from mluv.telegram.sender import Sender
from tests.telegram.sender_harness import OLGA, rows


async def test_reconcile_settles_stuck_claims_and_requeues_pending_rows_whose_job_vanished(
    sender: Sender, session_factory: async_sessionmaker[AsyncSession], redis: Redis
) -> None:
    # `sender`: the learners and clean tables; the reconciler itself needs only the database and Redis.
    now = dt.datetime.now(dt.UTC)
    old = now - dt.timedelta(minutes=10)
    spec: dict[str, dict[str, Any]] = {
        "stuck": {"status": "sending", "claimed_at": now - dt.timedelta(minutes=3), "job_id": "dead"},
        "in-flight": {"status": "sending", "claimed_at": now - dt.timedelta(seconds=5), "job_id": "busy"},
        "vanished": {"status": "pending", "job_id": "gone", "attempts": 1},
        "no-job": {"status": "pending", "job_id": None},
        "queued": {"status": "pending", "job_id": "queued"},
        "running": {"status": "pending", "job_id": "running"},
        "dead-letter": {"status": "pending", "job_id": "failed-job"},
        "too-many": {"status": "pending", "job_id": "gone-2", "attempts": 10},
        "fresh": {"status": "pending", "job_id": "gone-3", "fresh": True},
        "expired": {"status": "pending", "job_id": "gone-4", "created": now - dt.timedelta(days=2)},
        "broadcast": {"status": "pending", "job_id": None, "kind": "broadcast"},
    }
    async with session_factory.begin() as db:
        for key, values in spec.items():
            db.add(
                Delivery(
                    kind=values.get("kind", "message"),
                    recipient_id=OLGA,
                    business_key=key,
                    status=values["status"],
                    job_id=values["job_id"],
                    attempts=values.get("attempts", 0),
                    claimed_at=values.get("claimed_at"),
                    payload={"method": "sendMessage", "text": key},
                )
            )
        db.add(JobFailure(job_id="failed-job", job_name="send_message", queue="fast", error="x"))
    async with session_factory.begin() as db:
        for key, values in spec.items():
            if not values.get("fresh"):
                await db.execute(
                    update(Delivery)
                    .where(Delivery.business_key == key)
                    .values(updated_at=old, created_at=values.get("created", old))
                )
    await redis.set("arq:job:queued", b"x")
    await redis.set("arq:in-progress:running", b"1")
    requeued: list[tuple[str, int]] = []
    by_id = {row.id: row.business_key for row in await rows(session_factory)}

    async def requeue(delivery_id: int, attempts: int) -> None:
        requeued.append((by_id[delivery_id], attempts))

    report = await reconcile_ledger(
        session_factory, redis, stuck_after=60, pending_after=300, requeue=requeue, max_attempts=10
    )
    assert [by_id[i] for i in report.unknown] == ["stuck"]
    assert report.unknown_keys == (("message", "stuck"),)
    assert sorted(requeued) == [("no-job", 0), ("vanished", 1)]
    assert [by_id[i] for i in report.gave_up] == ["too-many"]
    assert [by_id[i] for i in report.expired] == ["expired"]
    status = {row.business_key: row.status for row in await rows(session_factory)}
    assert status == {
        "stuck": "unknown",
        "in-flight": "sending",
        "vanished": "pending",
        "no-job": "pending",
        "queued": "pending",
        "running": "pending",
        "dead-letter": "pending",
        "too-many": "failed",
        "fresh": "pending",
        "expired": "failed",
        "broadcast": "pending",
    }
    # Idempotent: a second pass finds nothing new to settle.
    again = await reconcile_ledger(session_factory, redis, stuck_after=60, pending_after=300)
    assert again.unknown == again.expired == again.gave_up == ()
