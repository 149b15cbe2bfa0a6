"""The latest platform snapshot (`platform_metrics`, written every 30 min by aggregate_platform_metrics), as
/metrics exposes it: learners, active learners and messages, and when the snapshot was taken."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from mluv.db.models import PlatformMetrics


async def latest_snapshot(session_factory: async_sessionmaker[AsyncSession]) -> PlatformMetrics | None:
    async with session_factory() as session:
        newest = PlatformMetrics.captured_at.desc(), PlatformMetrics.id.desc()
        return (await session.scalars(select(PlatformMetrics).order_by(*newest).limit(1))).first()
