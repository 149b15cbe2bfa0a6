"""A Czech text is acknowledged with a "typing…" chat action, so the feedback is the learner's first message.

Real aiogram over HTTP against the sandbox, the in-process workers, real PostgreSQL and Redis; a request
middleware on the bot records what the bot asked Telegram to do in the learner's chat, in order.
"""

from __future__ import annotations

from typing import Any, Literal

import pytest
from aiogram import Bot
from aiogram.client.session.middlewares.base import BaseRequestMiddleware, NextRequestMiddlewareType
from aiogram.methods import Response, TelegramMethod
from aiogram.methods.base import TelegramType

from mluv.bot.dispatcher import create_dispatcher
from mluv.bot.runner import BotRunner
from mluv.resources import Resources
from mluv.settings import Settings
from mluv.telegram.sandbox import SandboxClient, SandboxConfig, run_sandbox
from mluv.worker import InProcessWorkers

pytestmark = [pytest.mark.integration, pytest.mark.e2e]

LEARNER = 555_000_201


class Recorder(BaseRequestMiddleware):
    """Records (method, action) of every request to LEARNER's chat."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, Any]] = []

    async def __call__(
        self,
        make_request: NextRequestMiddlewareType[TelegramType],
        bot: Bot,
        method: TelegramMethod[TelegramType],
    ) -> Response[TelegramType]:
        if getattr(method, "chat_id", None) == LEARNER:
            self.calls.append((method.__api_method__, getattr(method, "action", None)))
        return await make_request(bot, method)


@pytest.mark.parametrize("lang", ["ru", "uk"])
async def test_the_acknowledgement_is_a_chat_action_and_the_feedback_the_first_message(
    settings: Settings, clean_tables: None, redis: object, lang: Literal["ru", "uk"]
) -> None:
    async with (
        run_sandbox(port=0, config=SandboxConfig(auto_create_chats=False)) as url,
        SandboxClient(url) as sandbox,
    ):
        resources = await Resources.create(settings.model_copy(update={"telegram_api_base": url}))
        recorder = Recorder()
        resources.bot.session.middleware(recorder)
        runner = BotRunner(create_dispatcher(resources), resources.bot, resources.settings)
        workers = InProcessWorkers(resources)
        await workers.start()
        await runner.start()
        try:
            await sandbox.create_user(LEARNER, "Olga", language_code=lang)
            sent = await sandbox.send_text(LEARNER, "Dobry den, jak se mas?")
            first = (await sandbox.messages(LEARNER, wait_for=1, within=20))[0]
        finally:
            await runner.stop()
            await workers.stop()
            await resources.close()
    assert first["reply_to_message_id"] == sent["message"]["message_id"]  # the review's feedback
    assert recorder.calls[:2] == [("sendChatAction", "typing"), ("sendMessage", None)]
