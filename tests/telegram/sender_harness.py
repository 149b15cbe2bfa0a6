"""What the Sender's tests share (fixtures in tests/telegram/conftest.py): the sandbox's learners, a Bot API
session that records every request, and readers of the ledger and of what each chat received."""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

from aiogram import Bot
from aiogram.client.session.aiohttp import AiohttpSession
from aiogram.exceptions import TelegramRetryAfter
from aiogram.methods.base import TelegramMethod, TelegramType
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from mluv.db.models import Delivery
from mluv.telegram.sandbox import SandboxClient

LEARNERS = [810_000_001 + i for i in range(8)]
OLGA = LEARNERS[0]
PNG = bytes.fromhex(
    "89504e470d0a1a0a0000000d49484452000000010000000108060000001f15c489"
    "0000000d4944415478da63f8cfc0f01f0005000201a5d1b4d10000000049454e44ae426082"
)


@dataclass
class Call:
    method: str
    started: float
    ended: float
    outcome: str
    retry_after: int | None = None


class RecordingSession(AiohttpSession):
    """aiogram's HTTP session, recording every Bot API request (without aiogram's 250 ms close grace)."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.calls: list[Call] = []

    async def make_request(
        self, bot: Bot, method: TelegramMethod[TelegramType], timeout: int | None = None
    ) -> TelegramType:
        started = time.monotonic()
        try:
            result = await super().make_request(bot, method, timeout)
        except Exception as error:
            retry_after = error.retry_after if isinstance(error, TelegramRetryAfter) else None
            self.calls.append(
                Call(method.__api_method__, started, time.monotonic(), type(error).__name__, retry_after)
            )
            raise
        self.calls.append(Call(method.__api_method__, started, time.monotonic(), "ok"))
        return result

    async def close(self) -> None:
        if self._session is not None and not self._session.closed:
            await self._session.close()


async def rows(session_factory: async_sessionmaker[AsyncSession], **where: Any) -> list[Delivery]:
    async with session_factory() as db:
        statement = select(Delivery).order_by(Delivery.id)
        for name, value in where.items():
            statement = statement.where(getattr(Delivery, name) == value)
        return list((await db.scalars(statement)).all())


async def received(control: SandboxClient, chat_id: int) -> list[str]:
    return [record["text"] or record["caption"] or "" for record in await control.messages(chat_id)]
