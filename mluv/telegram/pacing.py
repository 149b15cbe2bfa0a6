"""Sends that bypass the Sender still take their turn in the shared rate limiter.

`PacedRequests` is an aiogram request middleware (mluv.resources installs it on the process's Bot): a
message or an edit to a chat that its caller did not pace itself (a handler's reply, the flood notice)
waits for its turn in the shared limiter too, however long the queue (up to DIRECT_MAX_WAIT: a burst of
200 learners' /start queues 8 s at 25/s; none is dropped for speed), and a 429 it gets penalizes the
limiter and is sent again once `retry_after` has passed (at most RETRY_TRIES tries and RETRY_BUDGET
seconds of waiting in all, then the 429 propagates). In webhook mode the update is answered after the
handler (mluv.bot.runner), so a waiting reply holds one of Telegram's webhook connections: that is the
backpressure Telegram expects, and a redelivery meanwhile is dropped by the dedupe middleware.
The Sender paces its own requests and marks them with `paced()`, so they are never held twice (its jobs
retry 429s themselves).
"""

from __future__ import annotations

import contextlib
import math
from collections.abc import Iterator
from contextvars import ContextVar
from typing import Any

from aiogram import Bot, methods
from aiogram.client.session.middlewares.base import BaseRequestMiddleware, NextRequestMiddlewareType
from aiogram.exceptions import TelegramRetryAfter
from aiogram.methods import Response, TelegramMethod
from aiogram.methods.base import TelegramType

from mluv.telegram.ratelimit import RateLimited, RateLimiter

_PACED: ContextVar[bool] = ContextVar("mluv_paced", default=False)

# Messages to a chat count against Telegram's limits; edits count against the chat's only.
SENDS: tuple[type[TelegramMethod[Any]], ...] = (
    methods.SendMessage,
    methods.SendPhoto,
    methods.SendDocument,
    methods.SendMediaGroup,
    methods.CopyMessage,
    methods.ForwardMessage,
)
EDITS: tuple[type[TelegramMethod[Any]], ...] = (
    methods.EditMessageText,
    methods.EditMessageCaption,
    methods.EditMessageReplyMarkup,
)
# A handler's reply waits this long for its turn: 1500 replies queued at 25/s, far past a realistic burst.
DIRECT_MAX_WAIT = 60.0
# A reply Telegram answered 429 is tried again, within these bounds, so that a learner is never ignored.
RETRY_TRIES = 3
RETRY_BUDGET = 90.0  # seconds of waiting (turns and retry_after) over all tries of one reply


@contextlib.contextmanager
def paced() -> Iterator[None]:
    """Requests in this block were paced by their caller (the Sender): PacedRequests lets them through."""
    token = _PACED.set(True)
    try:
        yield
    finally:
        _PACED.reset(token)


class PacedRequests(BaseRequestMiddleware):
    """aiogram request middleware: a send the Sender did not pace (a handler's reply, the flood notice)
    waits for its turn in the shared limiter too, and a 429 it gets penalizes the limiter.

    Without it a learner flooding the bot got replies outside the schedule, Telegram answered the next
    worker send to that chat 429, and since the Sender reads a 429 as bot-wide, every broadcast paused
    (bench/chaos.py flooding-learner). A turn further than DIRECT_MAX_WAIT raises TelegramRetryAfter, as
    Telegram would have (no realistic burst reaches it; bench/burst.py, tests/bot/test_burst.py). A 429
    from Telegram itself penalizes the limiter (as the Sender does) and the request waits for its next
    turn, which lies past the penalty, and goes again: RETRY_TRIES tries at most, while the waits stay
    within RETRY_BUDGET.
    """

    def __init__(
        self,
        limiter: RateLimiter,
        max_wait: float = DIRECT_MAX_WAIT,
        *,
        tries: int = RETRY_TRIES,
        budget: float = RETRY_BUDGET,
    ) -> None:
        if tries < 1:
            raise ValueError("a request is tried at least once")
        self.limiter = limiter
        self.max_wait = max_wait
        self.tries = tries
        self.budget = budget

    async def __call__(
        self,
        make_request: NextRequestMiddlewareType[TelegramType],
        bot: Bot,
        method: TelegramMethod[TelegramType],
    ) -> Response[TelegramType]:
        chat_id = getattr(method, "chat_id", None)
        edit = isinstance(method, EDITS)
        if _PACED.get() or not isinstance(chat_id, int) or not (edit or isinstance(method, SENDS)):
            return await make_request(bot, method)
        waited, max_wait = 0.0, min(self.max_wait, self.budget)
        for attempt in range(1, self.tries + 1):
            try:
                waited += await self.limiter.acquire(chat_id, use_global=not edit, max_wait=max_wait)
            except RateLimited as error:
                raise TelegramRetryAfter(method, str(error), math.ceil(error.retry_after)) from error
            try:
                return await make_request(bot, method)
            except TelegramRetryAfter as error:
                await self.limiter.penalize(error.retry_after, chat_id, everyone=not edit)
                if attempt == self.tries or waited + error.retry_after > self.budget:
                    raise
                # The next turn lies past the penalty: allow for it, plus the usual wait, within budget.
                max_wait = min(error.retry_after + self.max_wait, self.budget - waited)
        raise AssertionError("unreachable: the last try returns or raises")
