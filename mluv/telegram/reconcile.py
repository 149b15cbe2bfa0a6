"""The ledger's reconciler: repairs `deliveries` after crashes and lost jobs; safe to run anywhere, any
number of times (the reconcile_deliveries cron runs it every minute).

- `sending` rows claimed more than `stuck_after` seconds ago: their run died in the send window (longer
  than any request may take) → unknown, never resent (mluv.telegram.ledger.settle_crashed).
- `pending` rows untouched for `pending_after` seconds whose job vanished (no arq job, in-progress or
  result key, no dead letter: Redis was lost or flushed) → `requeue(delivery_id, attempts)`; after
  `max_attempts` claims → failed. Rows of a job that ended (a dead letter) are left to the operator
  (`mluv jobs retry`).
- `pending` rows older than `expire_after` seconds → failed (a reminder a day late is noise).
Kinds in `skip_kinds` (broadcasts: resumed as a whole) are not requeued or expired.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Awaitable, Callable, Collection
from dataclasses import dataclass
from typing import TYPE_CHECKING

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from mluv.db.models import Delivery, DeliveryStatus, JobFailure
from mluv.jobs.arq_state import jobs_known
from mluv.logs import get_logger
from mluv.telegram.broadcasts import BROADCAST_KIND
from mluv.telegram.ledger import settle_crashed

if TYPE_CHECKING:
    from redis.asyncio import Redis

log = get_logger(__name__)

# A pending row untouched this long, with no live job, is picked up again (a stalled broadcast too).
PENDING_AFTER = 300.0


@dataclass(frozen=True)
class ReconcileReport:
    unknown: tuple[int, ...]  # rows stuck in sending past the crash window, now unknown
    requeued: tuple[int, ...]  # pending rows whose job vanished, handed to `requeue`
    expired: tuple[int, ...]  # pending rows older than expire_after, now failed
    gave_up: tuple[int, ...]  # pending rows requeued max_attempts times already, now failed
    unknown_keys: tuple[tuple[str, str], ...] = ()  # (kind, business_key) of the rows made unknown


async def reconcile_ledger(
    session_factory: async_sessionmaker[AsyncSession],
    redis: Redis,
    *,
    stuck_after: float,
    pending_after: float = PENDING_AFTER,
    expire_after: float = 86_400,
    max_attempts: int = 10,
    requeue: Callable[[int, int], Awaitable[object]] | None = None,
    skip_kinds: Collection[str] = (BROADCAST_KIND,),
    limit: int = 500,
) -> ReconcileReport:
    """Repair the ledger after crashes and lost jobs (see the module docstring)."""
    now = dt.datetime.now(dt.UTC)
    skip = list(skip_kinds)
    async with session_factory.begin() as session:
        stuck = await settle_crashed(
            session,
            Delivery.claimed_at < now - dt.timedelta(seconds=stuck_after),
            "no outcome recorded: the sending run died (reconciler)",
        )
        expired = (
            await session.scalars(
                update(Delivery)
                .where(
                    Delivery.status == DeliveryStatus.PENDING,
                    Delivery.created_at < now - dt.timedelta(seconds=expire_after),
                    Delivery.kind.not_in(skip),
                )
                .values(status=DeliveryStatus.FAILED, error=f"expired: pending for over {expire_after:.0f} s")
                .returning(Delivery.id)
            )
        ).all()
    async with session_factory() as session:
        candidates = (
            await session.execute(
                select(Delivery.id, Delivery.job_id, Delivery.attempts)
                .where(
                    Delivery.status == DeliveryStatus.PENDING,
                    Delivery.updated_at < now - dt.timedelta(seconds=pending_after),
                    Delivery.kind.not_in(skip),
                )
                .order_by(Delivery.id)
                .limit(limit)
            )
        ).all()
        job_ids = sorted({row.job_id for row in candidates if row.job_id})
        ended = (
            set(
                (await session.scalars(select(JobFailure.job_id).where(JobFailure.job_id.in_(job_ids)))).all()
            )
            if job_ids
            else set()
        )
    known = await jobs_known(redis, job_ids)
    requeued: list[int] = []
    gave_up: list[int] = []
    for row in candidates:
        if row.job_id and (row.job_id in known or row.job_id in ended):
            continue
        if row.attempts >= max_attempts:
            gave_up.append(row.id)
        elif requeue is not None:
            await requeue(row.id, row.attempts)
            requeued.append(row.id)
    if gave_up:
        async with session_factory.begin() as session:
            await session.execute(
                update(Delivery)
                .where(Delivery.id.in_(gave_up), Delivery.status == DeliveryStatus.PENDING)
                .values(status=DeliveryStatus.FAILED, error=f"gave up after {max_attempts} attempts")
            )
    report = ReconcileReport(
        unknown=tuple(row_id for row_id, _, _ in stuck),
        requeued=tuple(requeued),
        expired=tuple(expired),
        gave_up=tuple(gave_up),
        unknown_keys=tuple(sorted({(kind, key) for _, kind, key in stuck})),
    )
    if stuck or requeued or expired or gave_up:
        log.warning(
            "delivery ledger reconciled",
            unknown=len(stuck),
            requeued=len(requeued),
            expired=len(expired),
            gave_up=len(gave_up),
        )
    return report
