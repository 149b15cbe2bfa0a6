"""Operators' /jobs end to end (the bot polling the sandbox, real PostgreSQL and Redis): a job counts as
running only while a worker runs it. arq keeps a cron job's in-progress key for 60 s after an attempt ended
(cancelled by a deploy, or retried): such a job, due again in its queue, is waiting, not running."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Literal

import pytest
from arq.constants import in_progress_key_prefix
from redis.asyncio import Redis

from mluv.bot.dispatcher import create_dispatcher
from mluv.bot.runner import BotRunner
from mluv.i18n import t
from mluv.jobs.arq_state import queue_states, read_workers
from mluv.jobs.presence import WorkerPresence
from mluv.jobs.queues import Queue
from mluv.resources import Resources
from mluv.settings import Settings
from mluv.telegram.sandbox import SandboxClient, SandboxConfig, run_sandbox

pytestmark = [pytest.mark.integration, pytest.mark.e2e]

ADMINS = {"ru": 557_000_001, "uk": 557_000_002}


@dataclass
class Stack:
    sandbox: SandboxClient
    resources: Resources


@pytest.fixture
async def stack(settings: Settings, clean_tables: None, redis: object) -> AsyncIterator[Stack]:
    # No workers: the test writes what a worker leaves in Redis, so the figures are exactly known.
    async with (
        run_sandbox(port=0, config=SandboxConfig(auto_create_chats=False)) as url,
        SandboxClient(url) as sandbox,
    ):
        configured = settings.model_copy(
            update={"telegram_api_base": url, "admin_ids": list(ADMINS.values())}
        )
        resources = await Resources.create(configured)
        runner = BotRunner(create_dispatcher(resources), resources.bot, configured)
        await runner.start()
        for language, admin in ADMINS.items():
            await sandbox.create_user(admin, "Ops", language_code=language)  # type: ignore[arg-type]
        try:
            yield Stack(sandbox, resources)
        finally:
            await runner.stop()
            await resources.close()


async def plant(redis: Redis) -> None:
    """A worker running one job; a cron job whose attempt ended (its kept in-progress key); a deferred job."""
    now_ms = time.time() * 1000
    running, cron_left = "dashboard_test_sleep-1", "reconcile_deliveries:1796285730000"
    await redis.zadd(
        Queue.FAST.value, {running: now_ms - 2000, cron_left: now_ms - 1000, "later": now_ms + 60_000}
    )
    await redis.set(in_progress_key_prefix + running, b"1", px=60_000)
    await redis.set(in_progress_key_prefix + cron_left, b"1", px=60_000)  # arq's keep_cronjob_progress
    presence = WorkerPresence(Queue.FAST.value, max_jobs=10, heartbeat_seconds=15, worker_id="ops:1:fast")
    presence.job_started(running, 1)
    await presence.flush(redis)


@pytest.mark.parametrize(
    ("listed", "running", "waiting"),
    [(True, 1, 1), (False, 2, 0)],
    ids=["with the workers' presence", "in-progress keys alone"],
)
async def test_queue_states_count_a_job_as_running_only_while_a_worker_runs_it(
    redis: Redis, listed: bool, running: int, waiting: int
) -> None:
    await plant(redis)
    fast = next(
        s
        for s in await queue_states(redis, await read_workers(redis) if listed else None)
        if s.queue is Queue.FAST
    )
    assert (fast.running, fast.waiting, fast.deferred) == (running, waiting, 1)


@pytest.mark.parametrize("language", ["ru", "uk"])
async def test_jobs_does_not_count_a_finished_cron_attempt_as_running(
    stack: Stack, language: Literal["ru", "uk"]
) -> None:
    await plant(stack.resources.pool)
    admin = ADMINS[language]
    await stack.sandbox.send_text(admin, "/jobs")
    (reply,) = await stack.sandbox.messages(admin, wait_for=1, within=10)
    expected = t(language, "jobs-summary", queued=1, running=1, scheduled=1, failed=0)
    assert (reply["text"] or "").startswith(expected)
