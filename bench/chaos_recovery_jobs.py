"""A job that exists only for bench/chaos_recovery.py's `blocking-job-past-timeout`; workers load it through
EXTRA_JOB_MODULES=bench.chaos_recovery_jobs. Each run leaves a trace in Redis (the scenario's db), so runs
and their outcomes are counted from outside the workers."""

from __future__ import annotations

import json
import os
import time
from collections.abc import Awaitable, Callable
from typing import Any, Literal

from aiogram import Bot
from aiogram.client.session.middlewares.base import BaseRequestMiddleware
from aiogram.methods import SendMessage, TelegramMethod

from mluv.jobs import JobContext, Queue, job
from mluv.resources import Resources
from mluv.telegram import ledger

BLOCKING_KIND = "chaos-blocking"
BLOCKING_TEXT = "Mluv.Me: jedna zpráva, jednou."


def runs_key(token: str) -> str:
    return f"mluv:chaos:{token}:runs"


def blocker_key(token: str) -> str:
    return f"mluv:chaos:{token}:blocker"


class BlockOnce(BaseRequestMiddleware):
    """Blocks the event loop (time.sleep) once, in the sendMessage request to `chat_id` (row claimed)."""

    def __init__(self, chat_id: int, seconds: float) -> None:
        self.chat_id, self.seconds, self.fired = chat_id, seconds, False

    async def __call__(
        self, make_request: Callable[..., Awaitable[Any]], bot: Bot, method: TelegramMethod[Any]
    ) -> Any:
        if not self.fired and isinstance(method, SendMessage) and method.chat_id == self.chat_id:
            self.fired = True
            time.sleep(self.seconds)  # noqa: ASYNC251 — the fault under test: a synchronous call in a job
        return await make_request(bot, method)


@job(queue=Queue.FAST, job_id="chaos:blocking:{token}")
async def chaos_blocking_send(
    ctx: JobContext[Resources],
    token: str,
    chat_id: int,
    block_seconds: float,
    where: Literal["before-claim", "in-request"],
) -> dict[str, Any]:
    """Send one message through the Sender; the first run blocks its worker's whole event loop past the
    job's timeout and arq's in-progress key: with the ledger row pending (`before-claim`) or claimed, inside
    the Telegram request (`in-request`)."""
    resources = ctx.resources
    first = bool(await ctx.redis.set(blocker_key(token), os.getpid(), nx=True))
    trace = {"pid": os.getpid(), "try": ctx.job_try, "blocker": first}
    await ctx.redis.rpush(runs_key(token), json.dumps({**trace, "event": "started"}))  # type: ignore[misc]
    key = f"chaos:{token}"
    if first and where == "before-claim":
        # The delivery is this job's (a pending row with its id) before the loop stops.
        await ledger.prepare(
            resources.session_factory,
            kind=BLOCKING_KIND,
            recipient_id=chat_id,
            business_key=key,
            payload=ledger.text_payload(BLOCKING_TEXT, None),
            job_id=ctx.job_id,
        )
        time.sleep(block_seconds)  # noqa: ASYNC251 — the fault under test
    elif first:
        resources.bot.session.middleware(BlockOnce(chat_id, block_seconds))
    result = await resources.sender.send_message(
        kind=BLOCKING_KIND, chat_id=chat_id, business_key=key, text=BLOCKING_TEXT, job_id=ctx.job_id
    )
    outcome = {**trace, "event": "finished", "status": result.status.value, "duplicate": result.duplicate}
    await ctx.redis.rpush(runs_key(token), json.dumps(outcome))  # type: ignore[misc]
    return outcome
