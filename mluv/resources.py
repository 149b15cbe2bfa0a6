"""The shared resources of one process: settings, database engine and sessions, aiogram Bot, arq pool.

Built once per process and closed once. The bot receives them through aiogram's workflow data; every
arq worker finds them in `ctx` (filled by on_startup in mluv.worker); an in-process worker reuses the
serving process's instance instead of building a second one.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass, field

from aiogram import Bot
from aiogram.client.session.aiohttp import AiohttpSession
from aiogram.client.telegram import TelegramAPIServer
from arq.connections import ArqRedis
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from mluv.db.session import create_engine, create_session_factory
from mluv.jobs.connections import create_arq_pool
from mluv.jobs.deployment import settings_namespace
from mluv.logs import get_logger
from mluv.settings import Environment, Settings
from mluv.telegram.pacing import PacedRequests
from mluv.telegram.ratelimit import RateLimiter
from mluv.telegram.sender import Sender

log = get_logger(__name__)

# Used only against the local Bot API sandbox when BOT_TOKEN is unset (development); never valid at Telegram.
SANDBOX_BOT_TOKEN = "1000000001:mluv-sandbox-development-token"  # noqa: S105 - not a secret


def create_bot(settings: Settings) -> Bot:
    """The aiogram Bot, pointed at TELEGRAM_API_BASE (e.g. the sandbox) when set."""
    session = None
    if settings.telegram_api_base:
        session = AiohttpSession(api=TelegramAPIServer.from_base(settings.telegram_api_base))
    token = settings.bot_token.get_secret_value() if settings.bot_token else SANDBOX_BOT_TOKEN
    return Bot(token=token, session=session)


def with_service_urls(settings: Settings) -> Settings:
    """Fill in DATABASE_URL/REDIS_URL from embedded servers when unset outside production."""
    if settings.database_url and settings.redis_url:
        return settings
    if settings.environment is Environment.PRODUCTION:
        raise RuntimeError("DATABASE_URL and REDIS_URL are required in production")
    from mluv.embedded import start_embedded

    services = start_embedded(
        settings.data_dir / "services",
        postgres=settings.database_url is None,
        redis=settings.redis_url is None,
    )
    log.info(
        "using embedded services",
        postgres=settings.database_url is None,
        redis=settings.redis_url is None,
        data_dir=str(settings.data_dir / "services"),
    )
    return settings.model_copy(
        update={
            "database_url": settings.database_url or services.database_url,
            "redis_url": settings.redis_url or services.redis_url,
        }
    )


@dataclass
class Resources:
    settings: Settings
    engine: AsyncEngine
    session_factory: async_sessionmaker[AsyncSession]
    bot: Bot
    pool: ArqRedis
    sender: Sender
    _closed: bool = field(default=False, repr=False)

    @classmethod
    async def create(cls, settings: Settings) -> Resources:
        if not settings.database_url or not settings.redis_url:
            raise RuntimeError("Resources need DATABASE_URL and REDIS_URL (see with_service_urls)")
        engine = create_engine(
            settings.database_url, pool_size=settings.database_pool_size, pooler=settings.database_pooler
        )
        pool = await create_arq_pool(settings.redis_url, settings_namespace(settings))
        session_factory = create_session_factory(engine)
        bot = create_bot(settings)
        limiter = RateLimiter.from_settings(pool, settings)
        # Handlers' direct replies share the Sender's schedule (the Sender's own requests pass through).
        bot.session.middleware(PacedRequests(limiter))
        resources = cls(
            settings=settings,
            engine=engine,
            session_factory=session_factory,
            bot=bot,
            pool=pool,
            sender=Sender(bot, session_factory, limiter),
        )
        return resources

    async def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        with contextlib.suppress(Exception):
            await self.bot.session.close()
        with contextlib.suppress(Exception):
            await self.pool.aclose()
        await self.engine.dispose()
