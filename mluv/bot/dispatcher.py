"""Wiring of the bot: routers in order, middlewares in order, workflow data, the error handler."""

from __future__ import annotations

import uuid
from typing import Any

from aiogram import Bot, Dispatcher, Router
from aiogram.types import ErrorEvent, TelegramObject
from aiogram.types import User as TelegramUser

from mluv.bot.handlers import (
    admin_only,
    broadcasts,
    fallback,
    jobs_status,
    leaderboard,
    membership,
    practice,
    preferences,
    start,
    stats,
)
from mluv.bot.middlewares import (
    TELEGRAM_NUMBERING,
    DbSessionMiddleware,
    DedupeMiddleware,
    LearnerMiddleware,
    PrivateChatsOnly,
    ThrottleMiddleware,
)
from mluv.i18n import language_of, t
from mluv.logs import get_logger
from mluv.resources import Resources
from mluv.settings import Settings

log = get_logger(__name__)

# Messages per learner per window before the rest are dropped: about Telegram's one reply per second per
# chat, which no human writing Czech exceeds for long.
FLOOD_LIMIT = 3
FLOOD_WINDOW_SECONDS = 3
# Seconds the flood notice asks the learner to pause.
NOTICE_PAUSE = 10


def _detached(router: Router) -> Router:
    # aiogram attaches a router to one parent for life; tests build several dispatchers per process.
    parent = router.parent_router
    if parent is not None:
        parent.sub_routers.remove(router)
        router._parent_router = None
    return router


def get_routers() -> list[Router]:
    """Feature routers first; fallback last, so it only sees what nobody else handled."""
    routers = [
        start.router,
        broadcasts.router,
        jobs_status.router,
        admin_only.router,  # after the operators' routers: it answers what their IsAdmin refused
        stats.router,
        leaderboard.router,
        preferences.router,
        membership.router,
        practice.router,
        fallback.router,
    ]
    return [_detached(router) for router in routers]


def update_numbering(settings: Settings) -> str:
    """The identity of the Bot API server's update_id sequence, part of every dedupe key."""
    if settings.telegram_api_base is None or settings.is_production:
        return TELEGRAM_NUMBERING
    # A development Bot API server (the sandbox `mluv serve` starts, or one started by hand for this run)
    # numbers updates from 1 at each start: a random id per bot process never outlives it, no handshake.
    return f"dev-{uuid.uuid4().hex}"


def create_dispatcher(resources: Resources, routers: list[Router] | None = None) -> Dispatcher:
    # Workflow data: handlers receive these as named parameters.
    dispatcher = Dispatcher(resources=resources, settings=resources.settings, pool=resources.pool)
    bot = resources.bot

    async def flood_notice(event: TelegramObject, data: dict[str, Any]) -> None:
        user: TelegramUser = data["event_from_user"]
        await bot.send_message(
            user.id, t(language_of(user.language_code), "too-many-messages", seconds=NOTICE_PAUSE)
        )

    # Order matters (see mluv.bot.middlewares): private chats only → dedupe → throttle → session → learner.
    dispatcher.update.outer_middleware(PrivateChatsOnly())
    dispatcher.update.outer_middleware(
        DedupeMiddleware(resources.pool, bot.id, update_numbering(resources.settings))
    )
    dispatcher.update.outer_middleware(
        ThrottleMiddleware(
            resources.pool, limit=FLOOD_LIMIT, window=FLOOD_WINDOW_SECONDS, notice=flood_notice
        )
    )
    dispatcher.update.outer_middleware(DbSessionMiddleware(resources.session_factory))
    dispatcher.update.outer_middleware(LearnerMiddleware())
    dispatcher.include_routers(*(routers if routers is not None else get_routers()))
    dispatcher.errors.register(on_error)
    return dispatcher


async def on_error(event: ErrorEvent, bot: Bot, lang: str = "ru") -> None:
    """Nothing crashes a handler silently: log it and tell the learner something went wrong."""
    log.error("handler failed", update_id=event.update.update_id, exc_info=event.exception)
    update = event.update
    message = update.message or (update.callback_query.message if update.callback_query else None)
    if message is not None:
        try:
            await bot.send_message(message.chat.id, t(lang, "error-generic"))
        except Exception as error:  # the error reply is best effort; the original error is logged above
            log.warning("could not send the error reply", error=str(error))
