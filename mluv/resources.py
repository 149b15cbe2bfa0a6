"""The shared resources of one process: settings, database engine and sessions, aiogram Bot, arq pool.

Built once per process and closed once. The bot receives them through aiogram's workflow data; every
arq worker finds them in `ctx` (filled by on_startup in mluv.worker); an in-process worker reuses the
serving process's instance instead of building a second one.

Only the arq pool is made by `create`: the engine, session factory, Bot, limiter and Sender are built on
first read (Resources.__getattr__), so a worker starts picking jobs without importing SQLAlchemy or aiogram
(~0.9 s and ~30 MB), and a job that needs none of them never pays for them.
"""

from __future__ import annotations

import asyncio
import contextlib
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from arq.connections import ArqRedis

from mluv.jobs.connections import create_arq_pool
from mluv.jobs.deployment import settings_namespace
from mluv.logs import get_logger
from mluv.settings import Environment, Settings

if TYPE_CHECKING:
    from aiogram import Bot
    from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

    from mluv.telegram.ratelimit import RateLimiter
    from mluv.telegram.sender import Sender

log = get_logger(__name__)

# Used only against the local Bot API sandbox when BOT_TOKEN is unset (development); never valid at Telegram.
SANDBOX_BOT_TOKEN = "1000000001:mluv-sandbox-development-token"  # noqa: S105 - not a secret


def create_bot(settings: Settings) -> Bot:
    """The aiogram Bot, pointed at TELEGRAM_API_BASE (e.g. the sandbox) when set."""
    from aiogram import Bot
    from aiogram.client.session.aiohttp import AiohttpSession
    from aiogram.client.telegram import TelegramAPIServer

    from mluv.telegram.response_models import KeepResponseModels

    session = None
    if settings.telegram_api_base:
        session = AiohttpSession(api=TelegramAPIServer.from_base(settings.telegram_api_base))
    token = settings.bot_token.get_secret_value() if settings.bot_token else SANDBOX_BOT_TOKEN
    bot = Bot(token=token, session=session)
    bot.session.middleware(KeepResponseModels())
    return bot


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


# The default of a field built on first read: Resources.__getattr__ builds it with `_build_<name>()`.
_ON_FIRST_READ: Any = None
_BUILT_ON_FIRST_READ = ("engine", "session_factory", "limiter", "bot", "sender")


# No generated repr or eq: reading every field would build what the process never used.
@dataclass(repr=False, eq=False)
class Resources:
    settings: Settings
    pool: ArqRedis
    engine: AsyncEngine = _ON_FIRST_READ
    session_factory: async_sessionmaker[AsyncSession] = _ON_FIRST_READ
    limiter: RateLimiter = _ON_FIRST_READ
    bot: Bot = _ON_FIRST_READ
    sender: Sender = _ON_FIRST_READ
    # A worker logs the connection budget when a job first uses the database (serve checks at start).
    check_budget_on_first_use: bool = False
    _budget_check: asyncio.Task[Any] | None = None
    _closed: bool = False

    def __post_init__(self) -> None:
        for name in _BUILT_ON_FIRST_READ:
            if self.__dict__[name] is None:
                del self.__dict__[name]  # so the first read reaches __getattr__

    def __getattr__(self, name: str) -> Any:
        if name not in _BUILT_ON_FIRST_READ:
            raise AttributeError(f"{type(self).__name__!r} object has no attribute {name!r}")
        value = getattr(self, f"_build_{name}")()
        setattr(self, name, value)
        return value

    def built(self, name: str) -> bool:
        """Whether `name` was given or built already (closing it must not build it)."""
        return name in self.__dict__

    @classmethod
    async def create(cls, settings: Settings) -> Resources:
        if not settings.database_url or not settings.redis_url:
            raise RuntimeError("Resources need DATABASE_URL and REDIS_URL (see with_service_urls)")
        return cls(
            settings=settings, pool=await create_arq_pool(settings.redis_url, settings_namespace(settings))
        )

    def _build_engine(self) -> AsyncEngine:
        from mluv.db.session import create_engine

        settings = self.settings
        assert settings.database_url is not None  # checked by create
        engine = create_engine(
            settings.database_url, pool_size=settings.database_pool_size, pooler=settings.database_pooler
        )
        if self.check_budget_on_first_use:
            from mluv.db.budget import check_connection_budget

            self._budget_check = asyncio.get_running_loop().create_task(
                check_connection_budget(engine, settings), name="connection-budget-check"
            )
        return engine

    def _build_session_factory(self) -> async_sessionmaker[AsyncSession]:
        from mluv.db.session import create_session_factory

        return create_session_factory(self.engine)

    def _build_limiter(self) -> RateLimiter:
        from mluv.telegram.ratelimit import RateLimiter

        return RateLimiter.from_settings(self.pool, self.settings)

    def _build_bot(self) -> Bot:
        from mluv.telegram.pacing import PacedRequests

        bot = create_bot(self.settings)
        # Handlers' direct replies share the Sender's schedule (the Sender's own requests pass through).
        bot.session.middleware(PacedRequests(self.limiter))
        return bot

    def _build_sender(self) -> Sender:
        from mluv.telegram.sender import Sender

        return Sender(self.bot, self.session_factory, self.limiter)

    async def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        if self._budget_check is not None:
            self._budget_check.cancel()
            await asyncio.wait([self._budget_check])  # it logs its own errors
        if self.built("bot"):
            with contextlib.suppress(Exception):
                await self.bot.session.close()
        with contextlib.suppress(Exception):
            await self.pool.aclose()
        if self.built("engine"):
            await self.engine.dispose()


for _name in _BUILT_ON_FIRST_READ:  # a default's class attribute would answer before __getattr__
    delattr(Resources, _name)
