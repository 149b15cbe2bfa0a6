"""A broadcast's lifecycle (mluv.telegram.broadcasts) on real PostgreSQL and Redis: the progress texts,
start with its snapshot, cancellation settling the unsent rows, completion, the plan of a round. The
jobs that run it: tests/workers/test_messaging.py."""

from __future__ import annotations

from redis.asyncio import Redis
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from mluv.db.models import Broadcast, BroadcastStatus, DeliveryStatus, User
from mluv.i18n import t
from mluv.telegram import broadcasts, ledger
from mluv.telegram.broadcasts import BROADCAST_KIND, Plan, progress_text
from mluv.telegram.sender import Sender
from tests.telegram.sender_harness import LEARNERS, OLGA, rows


def test_progress_texts() -> None:
    running = progress_text("ru", "running", total=300, sent=120, blocked=3, failed=1)
    assert running.splitlines() == [
        "📣 Рассылка идёт: 124 из 300",
        "✅ Доставлено: 120",
        "🚫 Заблокировали бота: 3",
        "⚠️ Ошибки: 1",
    ]
    done = progress_text("uk", "completed", total=300, sent=290, blocked=3, failed=5, unknown=2)
    assert done.splitlines()[0] == "✅ Розсилку завершено. Отримувачів: 300"
    assert done.splitlines()[-1] == "❔ Без підтвердження доставки: 2"
    rejected = progress_text("ru", "rejected", total=0, sent=0, blocked=0, failed=0)
    assert rejected == t("ru", "broadcast-progress-rejected", limit=4096) and "4\u00a0096" in rejected


async def confirmed(session_factory: async_sessionmaker[AsyncSession], text: str = "Ahoj všichni!") -> int:
    async with session_factory.begin() as db:
        row = Broadcast(created_by=OLGA, text=text, target="all", status=BroadcastStatus.CONFIRMED)
        db.add(row)
        await db.flush()
        return row.id


async def test_start_snapshots_the_audience_once_and_cancel_settles_the_rest(
    sender: Sender, session_factory: async_sessionmaker[AsyncSession], redis: Redis
) -> None:
    async with session_factory.begin() as db:
        await db.execute(update(User).where(User.id == LEARNERS[-1]).values(is_blocked=True))
    broadcast_id = await confirmed(session_factory)
    info, rejected = await broadcasts.start(session_factory, broadcast_id)
    assert info is not None and not rejected
    assert (info.status, info.total) == (BroadcastStatus.RUNNING, len(LEARNERS) - 1)
    again, _ = await broadcasts.start(session_factory, broadcast_id)  # a re-run keeps the snapshot
    assert again is not None and again.total == info.total
    assert len(await rows(session_factory, kind=BROADCAST_KIND)) == len(LEARNERS) - 1

    taken = await broadcasts.take_batch(session_factory, broadcast_id, batch=0, batch_size=3, job_id="b:0")
    (first, _), *_ = taken.pending
    assert (taken.size, len(taken.pending), taken.orphaned) == (3, 3, 0)
    assert first in await ledger.claim_many(
        session_factory, [(first, "b:0")]
    )  # then the batch's try dies mid-send
    retried = await broadcasts.take_batch(session_factory, broadcast_id, batch=0, batch_size=3, job_id="b:0")
    assert (retried.size, len(retried.pending), retried.orphaned) == (3, 2, 1)

    await broadcasts.save_plan(redis, broadcast_id, Plan(0, 3, 2, 3))
    assert await broadcasts.new_round(redis, broadcast_id) == Plan(1, 3, 2)
    assert await broadcasts.current_plan(redis, broadcast_id) == Plan(1, 3, 2, 3)
    assert not await broadcasts.complete_if_done(session_factory, redis, sender, broadcast_id)
    assert await broadcasts.cancel(session_factory, redis, sender, broadcast_id)
    assert not await broadcasts.cancel(session_factory, redis, sender, broadcast_id)
    statuses = sorted(row.status for row in await rows(session_factory, kind=BROADCAST_KIND))
    assert statuses == ["cancelled"] * (len(LEARNERS) - 2) + ["unknown"]
    assert await broadcasts.current_plan(redis, broadcast_id) == Plan(0)  # the plan is forgotten
    assert await broadcasts.counts_by_status(session_factory) == {"cancelled": 1}


async def test_a_text_telegram_would_refuse_fails_at_start_and_completion_needs_every_row_settled(
    sender: Sender, session_factory: async_sessionmaker[AsyncSession], redis: Redis
) -> None:
    too_long = await confirmed(session_factory, "x" * 5000)
    info, rejected = await broadcasts.start(session_factory, too_long)
    assert rejected and info is not None and info.status is BroadcastStatus.FAILED

    broadcast_id = await confirmed(session_factory)
    info, _ = await broadcasts.start(session_factory, broadcast_id)
    assert info is not None
    count = broadcasts.counter(broadcast_id)
    taken = await broadcasts.take_batch(
        session_factory, broadcast_id, batch=0, batch_size=info.total, job_id="b"
    )
    for delivery_id, _ in taken.pending:
        assert delivery_id in await ledger.claim_many(session_factory, [(delivery_id, "b")])
        await ledger.finish(session_factory, ledger.Final(delivery_id, DeliveryStatus.SENT), count)
    assert await broadcasts.complete_if_done(session_factory, redis, sender, broadcast_id)
    async with session_factory() as db:
        row = (await db.scalars(select(Broadcast).where(Broadcast.id == broadcast_id))).one()
    assert (row.status, row.sent, row.total) == ("completed", len(LEARNERS), len(LEARNERS))
    assert [b.id for b in await broadcasts.recent(session_factory)] == [broadcast_id, too_long]
