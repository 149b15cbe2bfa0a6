"""A harness for the notification, gamification and maintenance job tests: the Bot API sandbox, real
Resources (PostgreSQL, Redis, the Sender), and ways to run a job's body as a worker would.

`Harness.run(job, **kwargs)` calls the declared job's worker entry point (validation, timeout, retry
policy, dead letters) with a real ctx, so a retryable failure surfaces as arq's `Retry`, exactly as in a
worker. `Harness.run_cron(spec, tick)` runs a cron body for a given UTC tick under the scheduler's own id.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import secrets
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert

from mluv.bot.dispatcher import create_dispatcher
from mluv.bot.runner import BotRunner
from mluv.db.models import Delivery, Message, Streak, User
from mluv.jobs import DeclaredJob, Queue
from mluv.jobs.cron import CronJobSpec
from mluv.jobs.run import CTX_RESOURCES
from mluv.resources import Resources
from mluv.settings import Settings
from mluv.telegram.sandbox import MessageRecord, SandboxClient, SandboxConfig, run_sandbox
from mluv.worker import InProcessWorkers

UTC = dt.UTC


def utc(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> dt.datetime:
    return dt.datetime(year, month, day, hour, minute, tzinfo=UTC)


async def eventually(check: Callable[[], Awaitable[Any]], within: float = 10.0, what: str = "") -> Any:
    deadline = time.monotonic() + within
    while True:
        value = await check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what or check}")
        await asyncio.sleep(0.05)


@dataclass
class Harness:
    sandbox: SandboxClient
    resources: Resources
    settings: Settings

    def ctx(self, job_id: str | None = None, job_try: int = 1) -> dict[str, Any]:
        return {
            CTX_RESOURCES: self.resources,
            "job_id": job_id or f"test:{secrets.token_hex(4)}",
            "job_try": job_try,
            "redis": self.resources.pool,
        }

    async def run(self, declared: DeclaredJob[Any, Any], *, job_try: int = 1, **kwargs: Any) -> Any:
        job_id = declared.job_id_for(declared.validate(**kwargs))
        return await declared.run(self.ctx(job_id, job_try), **kwargs)

    async def run_cron(self, spec: CronJobSpec, tick: dt.datetime, *, job_try: int = 1) -> Any:
        return await spec.run(self.ctx(spec.job_id_for(tick), job_try))

    async def add_learner(
        self,
        user_id: int,
        *,
        language: str = "ru",
        timezone: str = "Europe/Prague",
        reminder_hour: int = 18,
        reminders_enabled: bool = True,
        is_active: bool = True,
        last_active_at: dt.datetime | None = None,
        streak: int = 0,
        longest: int | None = None,
        last_practice: dt.date | None = None,
        milestones: list[int] | None = None,
        in_sandbox: bool = True,
    ) -> None:
        """A learner row (and streak row when `streak` or `last_practice` is given), and their chat."""
        async with self.resources.session_factory.begin() as session:
            await session.execute(
                insert(User).values(
                    id=user_id,
                    first_name=f"Learner {user_id}",
                    language=language,
                    timezone=timezone,
                    reminder_hour=reminder_hour,
                    reminders_enabled=reminders_enabled,
                    is_active=is_active,
                    is_blocked=not is_active,
                    last_active_at=last_active_at or dt.datetime.now(UTC),
                )
            )
            if streak or last_practice or milestones:
                await session.execute(
                    insert(Streak).values(
                        user_id=user_id,
                        current=streak,
                        longest=max(streak, longest or 0),
                        last_active_date=last_practice,
                        milestones_awarded=milestones or [],
                    )
                )
        if in_sandbox:
            await self.sandbox.create_user(user_id, f"Learner {user_id}", language_code="ru")

    async def add_messages(
        self, user_id: int, at: dt.datetime, count: int = 1, *, words: int = 5, correctness: int | None = 90
    ) -> None:
        async with self.resources.session_factory.begin() as session:
            session.add_all(
                Message(
                    user_id=user_id,
                    text="Dnes je hezky.",
                    word_count=words,
                    correctness=correctness,
                    created_at=at + dt.timedelta(seconds=i),
                )
                for i in range(count)
            )

    async def user(self, user_id: int) -> User:
        async with self.resources.session_factory() as session:
            user = await session.get(User, user_id)
        assert user is not None
        return user

    async def streak(self, user_id: int) -> Streak:
        async with self.resources.session_factory() as session:
            streak = await session.get(Streak, user_id)
        assert streak is not None
        return streak

    async def deliveries(self, user_id: int, kind: str | None = None) -> list[Delivery]:
        query = select(Delivery).where(Delivery.recipient_id == user_id).order_by(Delivery.id)
        if kind is not None:
            query = query.where(Delivery.kind == kind)
        async with self.resources.session_factory() as session:
            return list(await session.scalars(query))

    async def texts(self, chat_id: int) -> list[str]:
        """What the bot sent to the chat, in order."""
        records: list[MessageRecord] = await self.sandbox.messages(chat_id)
        return [record["text"] or "" for record in records]

    async def job_ids(self, prefix: str, *, finished: bool = False) -> set[str]:
        """Ids of the jobs starting with `prefix` that are queued (or, `finished`, have a kept result)."""
        namespace = "arq:result:" if finished else "arq:job:"
        keys = await self.resources.pool.keys(f"{namespace}{prefix}*")
        return {key.decode().removeprefix(namespace) for key in keys}


@contextlib.asynccontextmanager
async def job_harness(settings: Settings, *, limits: bool = False) -> AsyncIterator[Harness]:
    """The sandbox and Resources pointed at it; Telegram's limits off unless `limits` (tests of pacing)."""
    config = SandboxConfig(auto_create_chats=False)
    async with run_sandbox(port=0, config=config) as url, SandboxClient(url) as sandbox:
        if not limits:
            await sandbox.set_limits(enabled=False)
        configured = settings.model_copy(update={"telegram_api_base": url})
        resources = await Resources.create(configured)
        try:
            yield Harness(sandbox, resources, configured)
        finally:
            await resources.close()


@contextlib.asynccontextmanager
async def bot_with_workers(
    harness: Harness, queues: tuple[Queue, ...] = (Queue.FAST,)
) -> AsyncIterator[None]:
    """The bot (polling the sandbox) and in-process workers in this process, sharing the harness's Resources.

    Only the fast queue by default: the long queue's workers would catch up daily crons at start.
    """
    runner = BotRunner(create_dispatcher(harness.resources), harness.resources.bot, harness.settings)
    workers = InProcessWorkers(harness.resources, queues=queues)
    await workers.start()
    await runner.start()
    try:
        yield
    finally:
        await runner.stop()
        await workers.stop()
