"""The async engine and session factory, built once per process and shared by the bot and the workers."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker, create_async_engine

from mluv.settings import normalise_database_url

# Below the idle timeouts of managed Postgres and proxies, so the pool never hands out a dead connection.
POOL_RECYCLE_SECONDS = 1800


def create_engine(url: str, *, echo: bool = False, pool_size: int = 10) -> AsyncEngine:
    """An asyncpg engine; `url` may be any PostgreSQL URL (it is normalised for asyncpg)."""
    return create_async_engine(
        normalise_database_url(url),
        echo=echo,
        pool_size=pool_size,
        max_overflow=pool_size,
        pool_pre_ping=True,
        pool_recycle=POOL_RECYCLE_SECONDS,
        connect_args={
            # application_name shows up in pg_stat_activity; UTC makes `::date` casts mean UTC days.
            "server_settings": {"application_name": "mluv", "timezone": "UTC"},
        },
    )


def create_session_factory(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    """Sessions whose objects stay readable after commit (no lazy refresh, which async cannot do)."""
    return async_sessionmaker(engine, expire_on_commit=False)
