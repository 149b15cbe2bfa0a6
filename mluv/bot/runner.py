"""How updates reach the dispatcher: a webhook route on the web server, or long polling.

Webhook when WEBHOOK_URL is set: Telegram POSTs to its path with X-Telegram-Bot-Api-Secret-Token, and a
request without the right secret (malformed ones included) gets 401. The update is handled before the
answer (not in the background), so a crash makes Telegram redeliver it, and the dedupe middleware drops
repeats. The URL registered with Telegram and the route served are built from one path, WEBHOOK_URL's
(or /webhook when it has none), so they always agree. Production requires WEBHOOK_URL (mluv.settings):
two machines long polling would take turns getting 409 Conflict from getUpdates.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import hmac
import secrets
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from aiogram import Bot, Dispatcher
from aiogram.methods import TelegramMethod
from aiogram.types import BotCommand, BotCommandScopeDefault
from aiogram.webhook.aiohttp_server import SimpleRequestHandler
from aiohttp import web

from mluv.bot.middlewares import WEBHOOK_OUTCOME, WebhookOutcome
from mluv.i18n import SUPPORTED_LANGUAGES, t
from mluv.logs import get_logger
from mluv.settings import Settings

log = get_logger(__name__)

COMMANDS = ("start", "stats", "report", "top", "settings", "help")
# How long stop() lets updates already taken from getUpdates finish (a reply waits up to 60 s for the
# shared limiter under a burst; a deploy's grace period is shorter, so this is a bound, not a promise).
HANDLERS_DRAIN_SECONDS = 20.0


class SharedBotWebhookHandler(SimpleRequestHandler):
    """aiogram's handler closes the bot session on shutdown; here the process's Resources own it."""

    async def close(self) -> None:
        return None

    async def _handle_request(self, bot: Bot, request: web.Request) -> web.Response:
        outcome = WebhookOutcome()
        update = await request.json(loads=bot.session.json_loads)
        data: dict[str, Any] = {**self.data, WEBHOOK_OUTCOME: outcome}
        result: TelegramMethod[Any] | None = await self.dispatcher.feed_webhook_update(bot, update, **data)
        if outcome.retry_later:
            # Telegram redelivers an update it got no 2xx for, with growing delays: by then the first
            # delivery has finished (dropped as done) or died (its "running" key expired: handled again).
            return web.Response(status=503, text="this update is being handled", headers={"Retry-After": "5"})
        return web.Response(body=self._build_response_writer(bot=bot, result=result))

    def verify_secret(self, telegram_secret_token: str, bot: Bot) -> bool:
        # aiogram's compare_digest raises TypeError on a non-ASCII header: that was a 500, not a 401.
        if self.secret_token is None:
            return True
        given = hashlib.sha256(telegram_secret_token.encode("utf-8", "surrogateescape")).digest()
        return hmac.compare_digest(given, hashlib.sha256(self.secret_token.encode()).digest())


class BotRunner:
    def __init__(self, dispatcher: Dispatcher, bot: Bot, settings: Settings) -> None:
        self.dispatcher = dispatcher
        self.bot = bot
        self.settings = settings
        # Without a configured secret (development), a random one still keeps strangers out.
        configured = settings.webhook_secret.get_secret_value() if settings.webhook_secret else None
        self.webhook_secret = configured or secrets.token_urlsafe(32)
        self._polling: asyncio.Task[None] | None = None

    @property
    def webhook_path(self) -> str | None:
        if not self.settings.webhook_url:
            return None
        return urlsplit(self.settings.webhook_url).path.rstrip("/") or "/webhook"

    @property
    def webhook_target(self) -> str | None:
        """The URL given to setWebhook: WEBHOOK_URL with exactly the path the route serves."""
        if not self.settings.webhook_url or self.webhook_path is None:
            return None
        parts = urlsplit(self.settings.webhook_url)
        return urlunsplit((parts.scheme, parts.netloc, self.webhook_path, parts.query, ""))

    def register_webhook_route(self, app: web.Application) -> None:
        """Add the webhook route (before the app starts: aiohttp freezes its router)."""
        if self.webhook_path:
            handler = SharedBotWebhookHandler(
                self.dispatcher, self.bot, handle_in_background=False, secret_token=self.webhook_secret
            )
            handler.register(app, path=self.webhook_path)

    async def start(self) -> None:
        await self._set_commands()
        allowed = self.dispatcher.resolve_used_update_types()
        if self.webhook_target:
            await self.bot.set_webhook(
                self.webhook_target, secret_token=self.webhook_secret, allowed_updates=allowed
            )
            log.info("receiving updates by webhook", path=self.webhook_path)
            return
        # Telegram refuses getUpdates while a webhook is set.
        await self.bot.delete_webhook(drop_pending_updates=False)
        self._polling = asyncio.create_task(
            self.dispatcher.start_polling(
                self.bot, handle_signals=False, close_bot_session=False, allowed_updates=allowed
            ),
            name="bot-polling",
        )
        log.info("receiving updates by long polling")

    async def stop(self) -> None:
        if self._polling is not None:
            with contextlib.suppress(RuntimeError):  # polling may not have started yet
                await self.dispatcher.stop_polling()
            with contextlib.suppress(asyncio.CancelledError):
                await self._polling
            self._polling = None
            await self._finish_handlers()

    async def _finish_handlers(self) -> None:
        """Wait for the updates polling already took: aiogram handles each in a task of its own
        (Dispatcher._handle_update_tasks) and stop_polling does not wait for them, so one still running
        would reply through a Bot session and a Redis pool the process is about to close (a lost reply,
        and a connection that outlives the event loop)."""
        running = set(self.dispatcher._handle_update_tasks)
        if not running:
            return
        _, pending = await asyncio.wait(running, timeout=HANDLERS_DRAIN_SECONDS)
        for task in pending:
            task.cancel()
        await asyncio.gather(*pending, return_exceptions=True)
        if pending:
            # getUpdates already confirmed them (the next call's offset): Telegram will not resend them.
            log.warning("updates cut short by the shutdown", count=len(pending))

    async def _set_commands(self) -> None:
        for language in SUPPORTED_LANGUAGES:
            commands = [
                BotCommand(command=name, description=t(language, f"command-{name}")) for name in COMMANDS
            ]
            await self.bot.set_my_commands(commands, scope=BotCommandScopeDefault(), language_code=language)
