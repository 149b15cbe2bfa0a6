"""The expiry policy (mluv.jobs.declare): each delayable job is must-run (kept in Redis POLICY_KEEP past its
due time, sent however late) or stale after a window (skipped at start, logged, with a result saying so).

The end-to-end test enqueues through a pool whose arq expiry is half a second (the "old expiry": a day in
production), keeps every worker stopped until a job without a policy has expired, then starts one: the
must-run message is sent once, the stale reminder skipped, and the job without a policy given up.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import re
import time
from collections.abc import AsyncIterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from arq.jobs import JobStatus
from redis.asyncio import Redis
from sqlalchemy import select

from mluv.db.models import JobFailure
from mluv.domain.progress import local_date
from mluv.jobs import DeclaredJob, JobContext, Queue, registry
from mluv.jobs.connections import redis_settings
from mluv.jobs.declare import POLICY_KEEP
from mluv.jobs.run import CTX_RESOURCES, execute
from mluv.jobs.serializer import deserialize, serialize
from mluv.jobs.wake import WakingRedis, WakingWorker, create_waking_pool
from mluv.jobs.worker import on_given_up
from mluv.settings import Settings
from tests.workers.job_harness import Harness, eventually, job_harness
from workers.messaging import send_message
from workers.notifications import REMINDER_KIND, send_streak_reminder

REPO = Path(__file__).resolve().parents[2]
LEARNER = 861_000_001
OLD_EXPIRY_MS = 500  # arq's expires_extra_ms for the enqueueing pool: a day in production

# --- the catalogue's policy, pinned --------------------------------------------------------------------

POLICIES = {
    "review_message": "must run",
    "generate_weekly_report": "must run",
    "send_recent_report": "must run",
    "award_streak_milestones": "must run",
    "send_message": "must run",
    "redeliver_delivery": "must run",
    "broadcast": "must run",
    "broadcast_batch": "must run",
    "send_streak_reminder": "stale after 1 h",
    "send_daily_challenge_notification": "stale after 30 min",
    "ping": "stale after 5 min",
    "ping_long": "stale after 5 min",
}


def _catalogue() -> dict[str, DeclaredJob[Any, Any]]:
    import workers  # noqa: F401 - importing the catalogue registers its jobs

    return {name: job for name, job in registry.jobs.items() if job.fn.__module__.startswith("workers.")}


def test_every_job_of_the_catalogue_states_a_policy() -> None:
    assert sorted(_catalogue()) == sorted(POLICIES)


@pytest.mark.parametrize(("name", "policy"), sorted(POLICIES.items()))
def test_policy_of_each_job_is_declared_and_documented(name: str, policy: str) -> None:
    assert _catalogue()[name].expiry_policy == policy
    rows = [line for line in (REPO / "docs" / "jobs.md").read_text().splitlines() if line.startswith("| `")]
    row = next(line for line in rows if re.search(rf"`{name}[(`]", line.split(" | ")[0]))
    assert policy in row, row


# --- declaring and enqueueing --------------------------------------------------------------------------


async def _body(ctx: JobContext[Any]) -> str:
    return "ran"


def declared(**policy: Any) -> DeclaredJob[Any, Any]:
    """A job outside the registry (not `@job`), so tests may declare it as often as they like."""
    return DeclaredJob(_body, name="expiry_sample", **policy)


@pytest.mark.parametrize(
    ("policy", "message"),
    [
        ({"must_run": True, "stale_after": 60}, "contradict"),
        ({"stale_after": 0}, "positive"),
        ({"stale_after": dt.timedelta(seconds=-1)}, "positive"),
    ],
    ids=["both", "zero", "negative"],
)
def test_contradictory_or_empty_policies_are_refused(policy: dict[str, Any], message: str) -> None:
    with pytest.raises(TypeError, match=message):
        declared(**policy)


KEEP = POLICY_KEEP.total_seconds()


@pytest.mark.parametrize(
    ("policy", "options", "expires"),
    [
        ({}, {}, None),
        ({}, {"defer_by": 30}, None),
        ({"must_run": True}, {}, KEEP),
        ({"must_run": True}, {"defer_by": 30}, KEEP + 30),
        ({"must_run": True}, {"defer_by": dt.timedelta(minutes=2)}, KEEP + 120),
        ({"stale_after": 60}, {"defer_by": 30}, KEEP + 30),
        ({"must_run": True}, {"defer_by": 30, "expires": 90}, 90),
        ({"stale_after": 60}, {"expires": dt.timedelta(hours=1)}, dt.timedelta(hours=1)),
    ],
    ids=["none", "none-deferred", "must-run", "must-run-deferred", "delta", "stale", "own", "own-delta"],
)
def test_arq_expiry_follows_the_policy(
    policy: dict[str, Any], options: dict[str, Any], expires: float | dt.timedelta | None
) -> None:
    assert declared(**policy).options(**options).expires_for() == expires


@pytest.mark.parametrize(("in_minutes", "expires"), [(10, KEEP + 600), (-10, KEEP)], ids=["future", "past"])
def test_a_due_time_counts_from_now(in_minutes: int, expires: float) -> None:
    due = dt.datetime.now(dt.UTC) + dt.timedelta(minutes=in_minutes)
    got = declared(must_run=True).options(defer_until=due).expires_for()
    assert isinstance(got, float)
    assert expires - 5 <= got <= expires


# --- stale at start ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("stale_after", "late", "ran"),
    [
        (None, 86_400 * 3, True),  # no policy: however late
        (60.0, 0, True),
        (60.0, 30, True),
        (60.0, 90, False),
        (3600.0, 7200, False),
    ],
    ids=["no-policy", "on-time", "within", "past", "hours-past"],
)
async def test_a_try_that_starts_past_its_window_is_skipped(
    stale_after: float | None, late: float, ran: bool
) -> None:
    calls: list[str] = []

    async def call(ctx: JobContext[Any]) -> str:
        calls.append(ctx.job_id)
        return "ran"

    ctx = {
        CTX_RESOURCES: SimpleNamespace(),
        "job_id": "j1",
        "job_try": 1,
        "score": (time.time() - late) * 1000,
    }
    result = await execute(
        ctx,
        name="expiry_sample",
        queue=Queue.FAST,
        policy=declared().retry,
        time_limit=5,
        arguments={},
        call=call,
        stale_after=stale_after,
    )
    if ran:
        assert (result, calls) == ("ran", ["j1"])
    else:
        assert calls == []
        assert result["skipped"] == "stale" and result["stale_after_seconds"] == stale_after
        assert result["late_seconds"] >= late - 1


# --- workers down past the old expiry ------------------------------------------------------------------

CONTROL = DeclaredJob(_body, name="expiry_control")  # no policy: arq's expiry (OLD_EXPIRY_MS here)


@pytest.fixture
async def harness(settings: Settings, clean_tables: None, redis: Redis) -> AsyncIterator[Harness]:
    async with job_harness(settings) as prepared:
        yield prepared


@pytest.fixture
async def short_expiry_pool(settings: Settings) -> AsyncIterator[WakingRedis]:
    assert settings.redis_url is not None
    pool = await create_waking_pool(
        redis_settings(settings.redis_url),
        default_queue_name=Queue.FAST.value,
        expires_extra_ms=OLD_EXPIRY_MS,
    )
    try:
        yield pool
    finally:
        await pool.aclose()


@contextlib.asynccontextmanager
async def fast_worker(harness: Harness) -> AsyncIterator[WakingWorker]:
    """A fast-queue worker as deployed (WakingWorker, the given-up hook) with only these jobs, no crons."""
    settings = harness.settings
    assert settings.redis_url is not None
    timeout = Queue.FAST.default_timeout(settings)
    worker = WakingWorker(
        functions=[job.arq_function(timeout) for job in (send_message, send_streak_reminder, CONTROL)],
        queue_name=Queue.FAST.value,
        redis_settings=redis_settings(settings.redis_url),
        job_serializer=serialize,
        job_deserializer=deserialize,
        ctx={CTX_RESOURCES: harness.resources},
        handle_signals=False,
        on_given_up=on_given_up,
        idle_poll=0.2,
        poll_delay=0.02,
        job_timeout=timeout,
        log_results=False,
    )
    task = asyncio.create_task(worker.async_run())
    try:
        yield worker
    finally:
        worker.allow_pick_jobs = False
        running = [job for job in worker.tasks.values() if not job.done()]
        if running:
            await asyncio.wait(running, timeout=15)
        await worker.close()
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


async def test_workers_down_past_the_old_expiry(harness: Harness, short_expiry_pool: WakingRedis) -> None:
    await harness.add_learner(LEARNER, timezone="UTC", reminders_enabled=True)
    pool = short_expiry_pool
    # The outage began two hours ago for the reminder (its hour is long past); now for the others.
    message = await send_message.options(defer_by=0.2).enqueue(
        pool, chat_id=LEARNER, text="Zítra je lekce v 18:00.", business_key="lesson:1"
    )
    reminder = await send_streak_reminder.options(
        defer_until=dt.datetime.now(dt.UTC) - dt.timedelta(hours=2)
    ).enqueue(pool, user_id=LEARNER, day=local_date(dt.datetime.now(dt.UTC), "UTC"))
    control = await CONTROL.options(defer_by=0.2).enqueue(pool)
    assert message is not None and reminder is not None and control is not None

    async def control_expired() -> bool:
        return await control.info() is None  # its arq key gone; the queue's zset still lists it

    # No worker runs until arq's expiry has dropped the job without a policy.
    await eventually(control_expired, within=10, what="the control job to expire")
    assert await message.status() == JobStatus.queued

    async with fast_worker(harness):
        sent = await message.result(timeout=15)
        skipped = await reminder.result(timeout=15)

        async def given_up() -> list[JobFailure]:
            async with harness.resources.session_factory() as session:
                return list(
                    await session.scalars(select(JobFailure).where(JobFailure.job_id == control.job_id))
                )

        failures = await eventually(given_up, within=10, what="the control job's dead letter")
    assert sent["status"] == "sent" and not sent["duplicate"]
    assert await harness.texts(LEARNER) == ["Zítra je lekce v 18:00."]
    assert skipped["skipped"] == "stale" and skipped["late_seconds"] >= 7200
    assert await harness.deliveries(LEARNER, REMINDER_KIND) == []
    # What arq's expiry does to a job without a policy: dropped unrun (its name gone with its key).
    assert [failure.error for failure in failures] == ["JobExecutionFailed: job expired"]
    # Enqueued again (a producer's retry): its kept result refuses it, and the ledger would anyway.
    again = await send_message.enqueue(
        pool, chat_id=LEARNER, text="Zítra je lekce v 18:00.", business_key="lesson:1"
    )
    assert again is None


async def test_must_run_key_outlives_the_old_expiry(short_expiry_pool: WakingRedis, redis: Redis) -> None:
    job = await send_message.options(defer_by=1).enqueue(short_expiry_pool, chat_id=LEARNER, text="Ahoj")
    control = await CONTROL.options(defer_by=1).enqueue(short_expiry_pool)
    assert job is not None and control is not None
    ttls = {
        name: await redis.pttl(f"arq:job:{found.job_id}")
        for name, found in (("job", job), ("control", control))
    }
    assert KEEP * 1000 < ttls["job"] <= (KEEP + 1) * 1000
    assert 0 < ttls["control"] <= 1000 + OLD_EXPIRY_MS
