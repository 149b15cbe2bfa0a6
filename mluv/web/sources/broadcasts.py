"""Broadcasts and the delivery ledger as the dashboard and /metrics read them, and the dashboard's Cancel.

They read and change tables whose home is in mluv.telegram (the delivery ledger, broadcasts); they stay
here as they are until that home owns them.
"""

from __future__ import annotations

from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from mluv.db.models import Broadcast, BroadcastStatus, Delivery

IN_FLIGHT_BROADCASTS = (BroadcastStatus.CONFIRMED, BroadcastStatus.RUNNING)


async def broadcasts(
    session_factory: async_sessionmaker[AsyncSession], *, limit: int = 20
) -> list[Broadcast]:
    """In-flight broadcasts first, then the most recent others (finished, cancelled, drafts)."""
    async with session_factory() as session:
        in_flight = Broadcast.status.in_(IN_FLIGHT_BROADCASTS)
        query = select(Broadcast).order_by(in_flight.desc(), Broadcast.id.desc()).limit(limit)
        return list((await session.scalars(query)).all())


async def cancel_broadcast(session_factory: async_sessionmaker[AsyncSession], broadcast_id: int) -> bool:
    """Mark an in-flight broadcast cancelled (its job stops at its next batch); False if not in flight."""
    async with session_factory.begin() as session:
        result = await session.execute(
            update(Broadcast)
            .where(Broadcast.id == broadcast_id, Broadcast.status.in_(IN_FLIGHT_BROADCASTS))
            .values(status="cancelled", cancelled_at=func.now())
            .returning(Broadcast.id)
        )
        return result.scalar_one_or_none() is not None


async def deliveries_by_status(
    session_factory: async_sessionmaker[AsyncSession],
) -> dict[tuple[str, str], int]:
    async with session_factory() as session:
        rows = await session.execute(
            select(Delivery.kind, Delivery.status, func.count()).group_by(Delivery.kind, Delivery.status)
        )
        return {(kind, status): int(count) for kind, status, count in rows.tuples()}


async def broadcasts_by_status(session_factory: async_sessionmaker[AsyncSession]) -> dict[str, int]:
    async with session_factory() as session:
        rows = await session.execute(select(Broadcast.status, func.count()).group_by(Broadcast.status))
        return {status: int(count) for status, count in rows.tuples()}
