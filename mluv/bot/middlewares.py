"""Middlewares, in the order they run on every update (registered in mluv.bot.dispatcher):

0. PrivateChatsOnly     — outer, update: updates from groups, supergroups and channels are dropped.
1. DedupeMiddleware     — outer, update: an update_id in progress or done is dropped; one that crashed is not.
2. ThrottleMiddleware   — outer, update: one learner's flood is dropped before it costs a DB round trip.
3. DbSessionMiddleware  — outer, update: one session per update; commit on success, rollback on error.
4. LearnerMiddleware    — outer, update: loads/creates the learner; handlers get `user` and `lang`.

Dedupe and throttling must run before the session so floods and redeliveries stay cheap; the learner
middleware needs the session, so it runs after it. aiogram's own UserContextMiddleware runs before all of
ours and puts `event_from_user` into the data.

Updates are processed at least once. The dedupe key `mluv:update:<bot id>:<numbering>:<update id>` is
"running" (DEDUPE_RUNNING_SECONDS) while the handler runs and "done" (DEDUPE_DONE_SECONDS) once it
returned; if the handler raises, the key is deleted, so Telegram's redelivery is processed again. A
duplicate arriving while the first is running is dropped, never run twice at once. `<numbering>` names the
Bot API server's update numbering: "telegram" for Telegram, the instance id of a development sandbox, which
numbers updates from 1 again after each start. Handlers are idempotent for what a redelivery repeats (a
learner's message is stored once: `mluv.db.learners.record_practice`).
"""

from __future__ import annotations

import contextlib
import datetime as dt
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from aiogram import BaseMiddleware
from aiogram.enums import ChatType
from aiogram.exceptions import TelegramAPIError
from aiogram.types import Chat, TelegramObject, Update
from aiogram.types import User as TelegramUser
from redis.asyncio import Redis
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from mluv.db.learners import TelegramProfile, upsert_user
from mluv.i18n import language_of
from mluv.jobs.deployment import namespace_of
from mluv.logs import get_logger

log = get_logger(__name__)

Handler = Callable[[TelegramObject, dict[str, Any]], Awaitable[Any]]

# Telegram redelivers an update it got no 200 for; a day covers its retry window many times over.
DEDUPE_DONE_SECONDS = 86_400
# Handlers answer in milliseconds; a process killed mid-handler frees its updates for redelivery after this.
DEDUPE_RUNNING_SECONDS = 60
# Telegram's own update numbering, the same across every restart of the bot.
TELEGRAM_NUMBERING = "telegram"
# Workflow data key of the webhook's WebhookOutcome (absent when polling: getUpdates cannot redeliver).
WEBHOOK_OUTCOME = "webhook_outcome"


@dataclass
class WebhookOutcome:
    """What the webhook answers Telegram beyond the handler's result: `retry_later` when the update is a
    duplicate of one still running, so that Telegram delivers it again instead of forgetting it."""

    retry_later: bool = False


class PrivateChatsOnly(BaseMiddleware):
    """Mluv talks to each learner in their private chat; nothing from a group or channel is handled.

    Without this, someone removing the bot from a group marked themselves blocked, and group messages were
    stored as practice. Broadcasts to channels only send there: nothing received from a channel is needed.
    """

    async def __call__(self, handler: Handler, event: TelegramObject, data: dict[str, Any]) -> Any:
        chat: Chat | None = data.get("event_chat")
        if chat is not None and chat.type != ChatType.PRIVATE:
            log.info(
                "update from a non-private chat ignored",
                update_id=getattr(event, "update_id", None),
                chat_type=chat.type,
            )
            return None
        return await handler(event, data)


class DedupeMiddleware(BaseMiddleware):
    """Each update_id of one numbering is handled to completion once (see the module docstring)."""

    def __init__(self, redis: Redis, bot_id: int, numbering: str = TELEGRAM_NUMBERING) -> None:
        self.redis = redis
        self.bot_id = bot_id
        self.numbering = numbering

    def key(self, update_id: int) -> str:
        return namespace_of(self.redis).key(f"update:{self.bot_id}:{self.numbering}:{update_id}")

    async def __call__(self, handler: Handler, event: TelegramObject, data: dict[str, Any]) -> Any:
        if not isinstance(event, Update):
            return await handler(event, data)
        key = self.key(event.update_id)
        if not await self.redis.set(key, "running", nx=True, ex=DEDUPE_RUNNING_SECONDS):
            running = await self.redis.get(key) in (b"running", "running")
            outcome: WebhookOutcome | None = data.get(WEBHOOK_OUTCOME)
            if running and outcome is not None:
                # The first delivery may die with its process: a 200 now would make Telegram forget the
                # update, so the webhook asks for a later redelivery instead (mluv.bot.runner).
                outcome.retry_later = True
            log.info("duplicate update dropped", update_id=event.update_id, first_still_running=running)
            return None
        try:
            result = await handler(event, data)
        except BaseException:
            # Not done: Telegram's redelivery of this update must be processed, not dropped.
            await self.redis.delete(key)
            raise
        await self.redis.set(key, "done", ex=DEDUPE_DONE_SECONDS)
        return result


class ThrottleMiddleware(BaseMiddleware):
    """At most `limit` messages per learner per `window` seconds, counted in Redis across processes."""

    def __init__(
        self, redis: Redis, *, limit: int, window: int = 1, notice: Callable[..., Awaitable[None]]
    ) -> None:
        self.redis = redis
        self.limit = limit
        self.window = window
        self.notice = notice

    async def __call__(self, handler: Handler, event: TelegramObject, data: dict[str, Any]) -> Any:
        user: TelegramUser | None = data.get("event_from_user")
        # Only messages count: button presses and membership changes are not what floods.
        if user is None or user.is_bot or not (isinstance(event, Update) and event.message):
            return await handler(event, data)
        bucket = int(dt.datetime.now(dt.UTC).timestamp()) // self.window
        namespace = namespace_of(self.redis)
        key = namespace.key(f"flood:{user.id}:{bucket}")
        async with self.redis.pipeline(transaction=False) as pipe:
            pipe.incr(key)
            pipe.expire(key, self.window * 2)
            count, _ = await pipe.execute()
        if count <= self.limit:
            return await handler(event, data)
        # Tell the learner once per minute, not once per dropped message; best effort, since the chat is
        # likely at Telegram's per-chat limit right now.
        if await self.redis.set(namespace.key(f"flood-notice:{user.id}"), 1, nx=True, ex=60):
            with contextlib.suppress(TelegramAPIError):
                await self.notice(event, data)
        return None


class DbSessionMiddleware(BaseMiddleware):
    def __init__(self, session_factory: async_sessionmaker[AsyncSession]) -> None:
        self.session_factory = session_factory

    async def __call__(self, handler: Handler, event: TelegramObject, data: dict[str, Any]) -> Any:
        async with self.session_factory() as session:
            data["session"] = session
            try:
                result = await handler(event, data)
            except BaseException:
                await session.rollback()
                raise
            await session.commit()
            return result


class LearnerMiddleware(BaseMiddleware):
    """Creates the learner on first contact (language from Telegram's language_code) and loads them."""

    async def __call__(self, handler: Handler, event: TelegramObject, data: dict[str, Any]) -> Any:
        tg_user: TelegramUser | None = data.get("event_from_user")
        session: AsyncSession = data["session"]
        if tg_user is None or tg_user.is_bot:
            data["user"], data["lang"] = None, "ru"
            return await handler(event, data)
        profile = TelegramProfile(
            id=tg_user.id,
            first_name=tg_user.first_name,
            last_name=tg_user.last_name,
            username=tg_user.username,
            language=language_of(tg_user.language_code),
        )
        user, created = await upsert_user(session, profile, dt.datetime.now(dt.UTC))
        data["user"], data["lang"], data["user_created"] = user, user.language, created
        return await handler(event, data)
