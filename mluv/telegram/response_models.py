"""Keeps the response models aiogram parses answers with alive, so each is built once per process.

aiogram parses every answer with `Response[method.__returning__]` (BaseSession.check_response) and keeps
no reference to that parametrised model. pydantic 2.12+ caches parametrised generic models weakly only
(pydantic/_internal/_generics.py: `_GENERIC_TYPES_CACHE` is a WeakValueDictionary), so once the cyclic
garbage collector frees the class, the next answer builds it again with its whole validation schema:
12 % of a paid broadcast worker's CPU under py-spy (bench/broadcast.py --paid), 0.2 ms a build against
1 µs for a kept one.
"""

from __future__ import annotations

from typing import Any

from aiogram import Bot
from aiogram.client.session.middlewares.base import BaseRequestMiddleware, NextRequestMiddlewareType
from aiogram.methods import Response, TelegramMethod
from aiogram.methods.base import TelegramType


class KeepResponseModels(BaseRequestMiddleware):
    """aiogram request middleware: holds `Response[T]` for every T a request of this Bot returned."""

    def __init__(self) -> None:
        self.kept: dict[Any, type[Response[Any]]] = {}

    async def __call__(
        self,
        make_request: NextRequestMiddlewareType[TelegramType],
        bot: Bot,
        method: TelegramMethod[TelegramType],
    ) -> Response[TelegramType]:
        returning = method.__returning__
        if returning not in self.kept:
            self.kept[returning] = Response[returning]  # type: ignore[valid-type]
        return await make_request(bot, method)
