"""Messaging jobs on real PostgreSQL and Redis with the Bot API sandbox: send_message's retries and dead
letter, delayed sends, scheduled posts, broadcasts (workers/broadcasts.py: progress, cancellation,
resumption), the reconciler, and a worker process SIGKILLed mid-broadcast.

In-process tests run an arq worker with only the messaging jobs (so other modules' crons cannot write to
these learners); the crash test starts `arq tests.workers.test_messaging.MessagingLongWorkerSettings`, the
long-queue settings restricted the same way.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import os
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest
from arq import Retry
from arq.worker import Worker
from redis.asyncio import Redis
from sqlalchemy import func, select, update
from sqlalchemy.dialects.postgresql import insert

from mluv.db.models import Broadcast, Delivery, JobFailure, ScheduledMessage, User
from mluv.jobs import DeclaredJob, Queue, RetryableError
from mluv.jobs.connections import redis_settings
from mluv.jobs.run import CTX_RESOURCES
from mluv.jobs.serializer import deserialize, serialize
from mluv.resources import Resources
from mluv.settings import Settings
from mluv.telegram import broadcasts
from mluv.telegram.broadcasts import BROADCAST_KIND, progress_text
from mluv.telegram.ratelimit import Limits, RateLimiter
from mluv.telegram.sandbox import SandboxClient, SandboxConfig, run_sandbox
from mluv.telegram.sender import DeliveryResult
from workers.broadcasts import broadcast, broadcast_batch, reconcile_broadcasts
from workers.messaging import (
    reconcile_deliveries,
    redeliver_delivery,
    send_message,
    send_scheduled_messages,
)

pytestmark = pytest.mark.integration

REPO_ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
OLGA = 820_000_001
ADMIN = 820_000_009
GROUP = -100_820_000_001
BASE = 830_000_000
UTC = dt.UTC


# --- fixtures -------------------------------------------------------------------------------------------


@pytest.fixture
async def sandbox_url() -> AsyncIterator[str]:
    async with run_sandbox(port=0, config=SandboxConfig()) as url:
        yield url


@pytest.fixture
async def control(sandbox_url: str) -> AsyncIterator[SandboxClient]:
    async with SandboxClient(sandbox_url) as client:
        # Our limiter paces the sends; the sandbox's own limits would only add noise (429s are injected).
        await client.set_limits(enabled=False)
        for user_id, language in ((OLGA, "uk"), (ADMIN, "uk")):
            await client.create_user(user_id, f"User {user_id}", language_code=language)  # type: ignore[arg-type]
        await client.create_group(GROUP, "Mluv channel")
        yield client


@pytest.fixture
async def resources(
    settings: Settings, sandbox_url: str, control: SandboxClient, clean_tables: None, redis: Redis
) -> AsyncIterator[Resources]:
    configured = settings.model_copy(
        update={
            "telegram_api_base": sandbox_url,
            "rate_limit_global_per_second": 200.0,
            "rate_limit_per_chat_per_second": 20.0,
        }
    )
    created = await Resources.create(configured)
    created.sender.limiter = RateLimiter.from_settings(created.pool, configured)
    created.sender.request_timeout = 5
    await add_users(created, [(OLGA, "uk"), (ADMIN, "uk")])
    try:
        yield created
    finally:
        await created.close()


async def add_users(resources: Resources, users: list[tuple[int, str]]) -> None:
    # Long inactive, reminders off: no other job of the catalogue has a reason to write to them.
    month_ago = dt.datetime.now(UTC) - dt.timedelta(days=30)
    async with resources.session_factory.begin() as session:
        await session.execute(
            insert(User).values(
                [
                    {
                        "id": user_id,
                        "first_name": f"User {user_id}",
                        "language": language,
                        "reminders_enabled": False,
                        "last_active_at": month_ago,
                    }
                    for user_id, language in users
                ]
            )
        )


async def add_learners(resources: Resources, control: SandboxClient, count: int) -> list[int]:
    await control.create_users(count, base_id=BASE)
    ids = list(range(BASE, BASE + count))
    await add_users(resources, [(user_id, "ru") for user_id in ids])
    return ids


def ctx(resources: Resources, job_id: str, job_try: int = 1) -> dict[str, Any]:
    """What arq hands a job: the process's resources (set by on_startup), the job's id and try."""
    return {CTX_RESOURCES: resources, "job_id": job_id, "job_try": job_try, "redis": resources.pool}


async def run_job(
    resources: Resources, declared: DeclaredJob[Any, Any], job_try: int = 1, **kwargs: Any
) -> Any:
    job_id = declared.job_id_for(declared.validate(**kwargs)) or f"test:{declared.name}"
    return await declared.run(ctx(resources, job_id, job_try), **kwargs)


@contextlib.asynccontextmanager
async def worker(resources: Resources, queue: Queue, *jobs: DeclaredJob[Any, Any]) -> AsyncIterator[Worker]:
    """An arq worker in this event loop with only `jobs` (and no cron), sharing the test's Resources."""
    assert resources.settings.redis_url is not None
    timeout = queue.default_timeout(resources.settings)
    arq_worker = Worker(
        functions=[declared.arq_function(timeout) for declared in jobs],
        queue_name=queue.value,
        redis_settings=redis_settings(resources.settings.redis_url),
        job_serializer=serialize,
        job_deserializer=deserialize,
        ctx={CTX_RESOURCES: resources},
        handle_signals=False,
        poll_delay=0.02,
        max_jobs=20,
        job_timeout=timeout,
        log_results=False,
    )
    task = asyncio.create_task(arq_worker.async_run())
    try:
        yield arq_worker
    finally:
        arq_worker.allow_pick_jobs = False
        # A job may still be storing its result: arq's close() would cancel it and re-raise its
        # CancelledError before closing the pool, whose connections then leak into a later test.
        running = [job for job in arq_worker.tasks.values() if not job.done()]
        if running:
            await asyncio.wait(running, timeout=15)
        await arq_worker.close()
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


async def eventually(check: Callable[[], Awaitable[Any]], within: float, what: str) -> Any:
    deadline = time.monotonic() + within
    while True:
        value = await check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {within} s waiting for {what}")
        await asyncio.sleep(0.05)


async def texts(control: SandboxClient, chat_id: int) -> list[str]:
    return [record["text"] or "" for record in await control.messages(chat_id)]


async def received_by_chat(control: SandboxClient) -> dict[int, int]:
    return {int(chat["id"]): int(chat["received"]) for chat in await control.chats()}


async def broadcast_row(resources: Resources, broadcast_id: int) -> Broadcast:
    async with resources.session_factory() as session:
        row = (await session.execute(select(Broadcast).where(Broadcast.id == broadcast_id))).scalar_one()
    return row


async def ledger(resources: Resources, broadcast_id: int) -> dict[int, str]:
    async with resources.session_factory() as session:
        rows = await session.execute(
            select(Delivery.recipient_id, Delivery.status).where(
                Delivery.kind == BROADCAST_KIND, Delivery.business_key == f"broadcast:{broadcast_id}"
            )
        )
    return {int(recipient): str(status) for recipient, status in rows.all()}


async def new_broadcast(
    resources: Resources, control: SandboxClient, text: str = "Ahoj všichni!", **values: Any
) -> int:
    """A confirmed broadcast whose progress shows in a message the bot sent the admin (as /broadcast does)."""
    progress = await resources.bot.send_message(ADMIN, "📣 …")
    async with resources.session_factory.begin() as session:
        row = Broadcast(
            created_by=ADMIN,
            text=text,
            target=values.pop("target", "all"),
            status="confirmed",
            progress_chat_id=ADMIN,
            progress_message_id=progress.message_id,
            **values,
        )
        session.add(row)
        await session.flush()
        return row.id


async def progress_message(control: SandboxClient, broadcast: Broadcast) -> tuple[str, int]:
    for record in await control.messages(ADMIN):
        if record["message_id"] == broadcast.progress_message_id:
            return record["text"] or "", len(record["edits"])
    raise AssertionError("no progress message")


# --- send_message ---------------------------------------------------------------------------------------


async def test_send_message_retries_on_the_backoff_schedule_then_dead_letters(
    resources: Resources, control: SandboxClient
) -> None:
    await control.set_faults(error_rate=1.0)  # Telegram answers 500 to every send
    arguments = {"chat_id": OLGA, "text": "Ahoj", "business_key": "notice-1"}
    defers = []
    for job_try in range(1, 5):
        with pytest.raises(Retry) as raised:
            await run_job(resources, send_message, job_try, **arguments)
        defers.append((raised.value.defer_score or 0) / 1000)
    for defer, expected in zip(defers, [10, 20, 40, 80], strict=True):
        assert expected * 0.9 <= defer <= expected * 1.1, defers  # exponential backoff, ±10% jitter
    with pytest.raises(RetryableError):
        await run_job(resources, send_message, 5, **arguments)
    async with resources.session_factory() as session:
        (failure,) = (await session.scalars(select(JobFailure))).all()
        (row,) = (await session.scalars(select(Delivery))).all()
    assert failure.job_id == "message:message:820000001:notice-1" and failure.tries == 5
    assert failure.job_name == "send_message" and failure.arguments["chat_id"] == OLGA
    assert "TelegramServerError" in failure.error
    assert (row.status, row.attempts) == ("pending", 5)  # never sent: `mluv jobs retry` can still send it
    await control.set_faults(error_rate=0.0)
    assert (await run_job(resources, send_message, 1, **arguments))["status"] == "sent"
    assert await texts(control, OLGA) == ["Ahoj"]


async def test_send_message_retries_after_exactly_retry_after(
    resources: Resources, control: SandboxClient
) -> None:
    await control.set_faults(rate_limit_rate=1.0, rate_limit_retry_after=7)
    with pytest.raises(Retry) as raised:
        await run_job(resources, send_message, 1, chat_id=OLGA, text="Ahoj", business_key="k")
    assert raised.value.defer_score == 7000
    assert await resources.sender.limiter.penalty_left(None) == pytest.approx(7, abs=0.5)


async def test_send_message_is_idempotent_by_business_key_and_by_job_id(
    resources: Resources, control: SandboxClient, redis: Redis
) -> None:
    first = await send_message.enqueue(resources.pool, chat_id=OLGA, text="Ahoj", business_key="once")
    assert first is not None and first.job_id == "message:message:820000001:once"
    assert await send_message.enqueue(resources.pool, chat_id=OLGA, text="Ahoj", business_key="once") is None
    for _ in range(2):  # arq is at-least-once: the same job may run twice
        await send_message.run(ctx(resources, first.job_id), chat_id=OLGA, text="Ahoj", business_key="once")
    # Without a business key each enqueue is a new message, keyed by its job id.
    for job_try in (1, 2):
        result = await send_message.run(ctx(resources, "message:abc", job_try), chat_id=OLGA, text="Čau")
    assert result["duplicate"] is True
    assert await texts(control, OLGA) == ["Ahoj", "Čau"]
    async with resources.session_factory() as session:
        keys = sorted((await session.scalars(select(Delivery.business_key))).all())
    assert keys == ["job:message:abc", "once"]


async def test_a_delayed_send_goes_out_after_its_delay(resources: Resources, control: SandboxClient) -> None:
    async with worker(resources, Queue.FAST, send_message):
        enqueued = time.time()
        job = await send_message.options(defer_by=1.5).enqueue(resources.pool, chat_id=OLGA, text="Později")
        assert job is not None
        (record,) = await control.messages(OLGA, wait_for=1, within=10)
    assert record["text"] == "Později"
    assert record["time"] - enqueued >= 1.5


async def test_a_long_text_is_split_by_the_job(resources: Resources, control: SandboxClient) -> None:
    text = "\n\n".join(["Odstavec. " * 300] * 3)  # ~9,000 characters
    result = await run_job(resources, send_message, 1, chat_id=OLGA, text=text, business_key="long")
    assert result["parts"] == 3 and result["status"] == "sent"
    assert len(await texts(control, OLGA)) == 3


# --- scheduled posts --------------------------------------------------------------------------------------


async def test_a_scheduled_post_is_sent_once_when_its_time_comes_even_if_the_cron_runs_twice(
    resources: Resources, control: SandboxClient, redis: Redis
) -> None:
    now = dt.datetime.now(UTC)
    async with resources.session_factory.begin() as session:
        session.add_all(
            [
                ScheduledMessage(
                    created_by=ADMIN, target="user", chat_id=OLGA, text="Dobré ráno!", send_at=now
                ),
                ScheduledMessage(
                    created_by=ADMIN, target="channel", chat_id=GROUP, text="Novinky", send_at=now
                ),
                ScheduledMessage(created_by=ADMIN, target="all", text="Všem!", send_at=now),
                ScheduledMessage(
                    created_by=ADMIN,
                    target="user",
                    chat_id=OLGA,
                    text="Zítra",
                    send_at=now + dt.timedelta(hours=1),
                ),
            ]
        )
    tick = now.replace(second=0, microsecond=0)
    ticks = [tick, tick + dt.timedelta(minutes=1)]
    # Two ticks at once (a late worker, an overlap), then both again (arq's at-least-once).
    runs = [send_scheduled_messages.run(ctx(resources, send_scheduled_messages.job_id_for(t))) for t in ticks]
    outcomes = await asyncio.gather(*runs)
    assert sum(outcome.get("sent", 0) for outcome in outcomes) == 2
    assert sum(outcome.get("broadcast", 0) for outcome in outcomes) == 1
    for again in ticks:
        await send_scheduled_messages.run(
            ctx(resources, send_scheduled_messages.job_id_for(again) + ":again")
        )
    assert await texts(control, OLGA) == ["Dobré ráno!"]
    assert await texts(control, GROUP) == ["Novinky"]
    async with resources.session_factory() as session:
        posts = {
            p.text: (p.status, p.sent_at is not None)
            for p in (await session.scalars(select(ScheduledMessage)))
        }
        broadcasts = (
            await session.scalars(select(Broadcast).where(Broadcast.idempotency_key.is_not(None)))
        ).all()
    assert posts == {
        "Dobré ráno!": ("sent", True),
        "Novinky": ("sent", True),
        "Všem!": ("sent", True),
        "Zítra": ("scheduled", False),
    }
    # "all" became one confirmed broadcast and its job (the admin's job id: enqueued once).
    (made,) = broadcasts
    assert (made.text, made.status, made.target) == ("Všem!", "confirmed", "all")
    assert await redis.exists(f"arq:job:broadcast:{made.id}")


async def test_a_post_stranded_in_sending_by_a_dead_run_is_sent_once(
    resources: Resources, control: SandboxClient
) -> None:
    async with resources.session_factory.begin() as session:
        session.add(
            ScheduledMessage(
                created_by=ADMIN,
                target="user",
                chat_id=OLGA,
                text="Přežil jsem pád",
                send_at=dt.datetime.now(UTC),
                status="sending",  # claimed by a run that then died
            )
        )
    outcome = await send_scheduled_messages.run(ctx(resources, "send_scheduled_messages:1"))
    assert outcome == {"sent": 1}
    assert await texts(control, OLGA) == ["Přežil jsem pád"]


# --- broadcasts -------------------------------------------------------------------------------------------


async def test_a_broadcast_reaches_300_learners_once_with_live_progress(
    resources: Resources, control: SandboxClient
) -> None:
    learners = await add_learners(resources, control, 300)
    blocked = learners[10:13]
    for user_id in blocked:
        await control.set_chat_flags(user_id, blocked=True)
    broadcast_id = await new_broadcast(resources, control)
    async with worker(resources, Queue.LONG, broadcast, broadcast_batch):
        # As the admin handler does; small batches so that the fan-out runs several windows.
        assert await broadcast.enqueue(resources.pool, broadcast_id=broadcast_id, batch_size=40) is not None

        async def completed() -> bool:
            return (await broadcast_row(resources, broadcast_id)).status == "completed"

        await eventually(completed, 60, "the broadcast to complete")
        # A second start of the same broadcast (a double enqueue, a re-run) sends nothing.
        await run_job(resources, broadcast, 1, broadcast_id=broadcast_id, batch_size=40)
        await run_job(resources, broadcast_batch, 2, broadcast_id=broadcast_id, batch=0, batch_size=40)
    row = await broadcast_row(resources, broadcast_id)
    recipients = 302  # the learners, Olga and the admin
    assert (row.total, row.sent, row.blocked, row.failed) == (recipients, recipients - 3, 3, 0)
    assert row.started_at is not None and row.finished_at is not None
    received = await received_by_chat(control)
    assert all(received[user_id] == 1 for user_id in learners if user_id not in blocked)
    assert all(received[user_id] == 0 for user_id in blocked)
    assert set((await ledger(resources, broadcast_id)).values()) == {"sent", "blocked"}
    async with resources.session_factory() as session:
        inactive = set((await session.scalars(select(User.id).where(User.is_active.is_(False)))).all())
    assert inactive == set(blocked)
    text, _ = await progress_message(control, row)
    assert text == progress_text(
        "uk", "completed", total=recipients, sent=recipients - 3, blocked=3, failed=0
    )


async def test_a_batch_hands_over_to_its_successor_once_its_last_row_is_taken(
    resources: Resources, control: SandboxClient, redis: Redis, monkeypatch: pytest.MonkeyPatch
) -> None:
    await add_learners(resources, control, 30)
    broadcast_id = await new_broadcast(resources, control)
    await broadcast.run(
        ctx(resources, f"broadcast:{broadcast_id}"), broadcast_id=broadcast_id, batch_size=10, window=1
    )
    successor = f"arq:job:broadcast:{broadcast_id}:batch:1"
    queued_at_send: list[bool] = []
    deliver = resources.sender.deliver_text

    async def watched(delivery_id: int, **arguments: Any) -> DeliveryResult:
        queued_at_send.append(bool(await redis.exists(successor)))
        return await deliver(delivery_id, **arguments)

    monkeypatch.setattr(resources.sender, "deliver_text", watched)
    await broadcast_batch.run(
        ctx(resources, f"broadcast:{broadcast_id}:batch:0"),
        broadcast_id=broadcast_id,
        batch=0,
        batch_size=10,
        window=1,
    )
    # The first sends go before the hand-over; the last row's send finds the next batch already queued,
    # so the window never lacks a batch while this one's last sends are in flight.
    assert len(queued_at_send) == 10
    assert not queued_at_send[0] and queued_at_send[-1]


async def test_progress_is_edited_while_a_broadcast_runs(
    resources: Resources, control: SandboxClient
) -> None:
    await add_learners(resources, control, 150)
    resources.sender.limiter.limits = Limits(global_per_second=40, per_chat_per_second=20)
    broadcast_id = await new_broadcast(resources, control)
    async with worker(resources, Queue.LONG, broadcast, broadcast_batch):
        await broadcast.enqueue(resources.pool, broadcast_id=broadcast_id, batch_size=50)

        async def completed() -> bool:
            return (await broadcast_row(resources, broadcast_id)).status == "completed"

        await eventually(completed, 30, "the broadcast to complete")

        # The status is committed before the final edit is sent: wait for it with the worker still up.
        async def final_edit() -> bool:
            text, _ = await progress_message(control, await broadcast_row(resources, broadcast_id))
            return text.startswith("✅")

        await eventually(final_edit, 10, "the final progress edit")
    row = await broadcast_row(resources, broadcast_id)
    text, edits = await progress_message(control, row)
    assert row.sent == 152 and text.startswith("✅")
    # ~4 s of sending: progress every 3 s at most, plus the start and the final edit.
    assert 2 <= edits <= 5, edits
    records = await control.messages(ADMIN)
    progress = next(r for r in records if r["message_id"] == row.progress_message_id)
    running = [edit["text"] for edit in progress["edits"] if (edit["text"] or "").startswith("📣")]
    assert running, progress["edits"]


@pytest.mark.parametrize("how", ["cancel_broadcast", "status only"])
async def test_cancelling_a_broadcast_stops_it(
    resources: Resources, control: SandboxClient, how: str
) -> None:
    learners = await add_learners(resources, control, 300)
    resources.sender.limiter.limits = Limits(global_per_second=40, per_chat_per_second=20)
    broadcast_id = await new_broadcast(resources, control)
    async with worker(resources, Queue.LONG, broadcast, broadcast_batch):
        await broadcast.enqueue(resources.pool, broadcast_id=broadcast_id, batch_size=50)

        async def some_sent() -> bool:
            return (await control.counters())["sent"] >= 40

        await eventually(some_sent, 20, "the first sends")
        if how == "cancel_broadcast":
            cancel = (resources.session_factory, resources.pool, resources.sender, broadcast_id)
            assert await broadcasts.cancel(*cancel)
            assert not await broadcasts.cancel(*cancel)
        else:  # as the dashboard does: only the status; the batches settle the rest
            async with resources.session_factory.begin() as session:
                await session.execute(
                    update(Broadcast)
                    .where(Broadcast.id == broadcast_id)
                    .values(status="cancelled", cancelled_at=func.now())
                )
        await asyncio.sleep(1.5)  # in-flight sends finish; batches notice within a second
        settled = await received_by_chat(control)
        await asyncio.sleep(1.5)
        assert await received_by_chat(control) == settled  # nothing more goes out
    row = await broadcast_row(resources, broadcast_id)
    assert row.status == "cancelled" and row.cancelled_at is not None
    statuses = await ledger(resources, broadcast_id)
    sent = [user for user, status in statuses.items() if status == "sent"]
    assert 30 <= len(sent) < 250 and row.sent == len(sent)
    assert set(statuses.values()) == {"sent", "cancelled"}
    assert all(settled.get(user, 0) == (1 if statuses[user] == "sent" else 0) for user in learners)
    text, _ = await progress_message(control, row)
    assert text.startswith("⏹") and f"{len(sent)}" in text


async def test_a_stalled_broadcast_is_resumed_from_the_ledger(
    resources: Resources, control: SandboxClient, redis: Redis
) -> None:
    learners = await add_learners(resources, control, 120)
    broadcast_id = await new_broadcast(resources, control)
    job_id = f"broadcast:{broadcast_id}"
    await broadcast.run(ctx(resources, job_id), broadcast_id=broadcast_id, batch_size=40, window=2)
    batch_zero = f"broadcast:{broadcast_id}:batch:0"
    await broadcast_batch.run(
        ctx(resources, batch_zero), broadcast_id=broadcast_id, batch=0, batch_size=40, window=2
    )
    # Then Redis is lost with every queued batch, and batch 1 had died mid-send on its first learner.
    await redis.flushdb()
    crashed = learners[40]
    async with resources.session_factory.begin() as session:
        await session.execute(
            update(Delivery)
            .where(Delivery.kind == BROADCAST_KIND, Delivery.recipient_id == crashed)
            .values(
                status="sending",
                job_id=f"broadcast:{broadcast_id}:batch:1",
                claimed_at=dt.datetime.now(UTC) - dt.timedelta(minutes=5),
            )
        )
        await session.execute(
            update(Broadcast)
            .where(Broadcast.id == broadcast_id)
            .values(started_at=dt.datetime.now(UTC) - dt.timedelta(minutes=10))
        )
    assert await reconcile_broadcasts(resources, redis) == {"resumed": 1}
    assert await redis.exists(f"arq:job:broadcast:{broadcast_id}:resume:1")
    async with worker(resources, Queue.LONG, broadcast, broadcast_batch):

        async def only_the_crashed_row_left() -> bool:
            statuses = await ledger(resources, broadcast_id)
            return sum(status == "sent" for status in statuses.values()) == 121

        await eventually(only_the_crashed_row_left, 30, "the resumed batches")
    # The crashed send is settled by the reconciler (unknown: it may have been delivered), which then
    # completes the broadcast.
    outcome = await reconcile_deliveries.run(
        ctx(resources, reconcile_deliveries.job_id_for(dt.datetime.now(UTC)))
    )
    assert outcome["unknown"] == 1 and outcome["broadcasts"] == {"completed": 1}
    row = await broadcast_row(resources, broadcast_id)
    assert (row.status, row.total, row.sent) == ("completed", 122, 121)
    received = await received_by_chat(control)
    assert received[crashed] == 0
    assert all(received[user] == 1 for user in learners if user != crashed)
    text, _ = await progress_message(control, row)
    assert text == progress_text("uk", "completed", total=122, sent=121, blocked=0, failed=0, unknown=1)


async def test_a_broadcast_to_channels_and_a_rejected_text(
    resources: Resources, control: SandboxClient
) -> None:
    to_channel = await new_broadcast(resources, control, target="channels", channel_ids=[GROUP, GROUP])
    await run_job(resources, broadcast, 1, broadcast_id=to_channel)
    await run_job(resources, broadcast_batch, 1, broadcast_id=to_channel, batch=0)
    assert await texts(control, GROUP) == ["Ahoj všichni!"]
    assert (await broadcast_row(resources, to_channel)).status == "completed"

    too_long = await new_broadcast(resources, control, text="x" * 5000)
    assert (await run_job(resources, broadcast, 1, broadcast_id=too_long))["status"] == "failed"
    row = await broadcast_row(resources, too_long)
    assert row.status == "failed" and row.total == 0
    text, _ = await progress_message(control, row)
    assert text == progress_text("uk", "rejected", total=0, sent=0, blocked=0, failed=0)


async def test_the_reconciler_requeues_a_message_whose_job_vanished(
    resources: Resources, control: SandboxClient, redis: Redis
) -> None:
    async with resources.session_factory.begin() as session:
        session.add(
            Delivery(
                kind="message",
                recipient_id=OLGA,
                business_key="lost-in-redis",
                payload={"method": "sendMessage", "text": "Ztracená zpráva"},
                job_id="message:gone",
            )
        )
    async with resources.session_factory.begin() as session:
        await session.execute(
            update(Delivery).values(updated_at=dt.datetime.now(UTC) - dt.timedelta(minutes=10))
        )
        delivery_id = await session.scalar(select(func.max(Delivery.id)))
    tick = dt.datetime.now(UTC).replace(second=30, microsecond=0)
    outcome = await reconcile_deliveries.run(ctx(resources, reconcile_deliveries.job_id_for(tick)))
    assert outcome["requeued"] == 1
    assert await redis.exists(f"arq:job:redeliver:{delivery_id}:0")
    result = await run_job(resources, redeliver_delivery, 1, delivery_id=delivery_id, attempt=0)
    assert result == {"status": "sent", "duplicate": False}
    assert await texts(control, OLGA) == ["Ztracená zpráva"]


# --- a worker process SIGKILLed mid-broadcast ---------------------------------------------------------------


def __getattr__(name: str) -> Any:
    """`arq tests.workers.test_messaging.MessagingLongWorkerSettings`: the long queue's settings with only
    the broadcast jobs, built on first access from the worker's environment (as workers/__init__ does)."""
    if name != "MessagingLongWorkerSettings":
        raise AttributeError(name)
    from mluv.settings import get_settings
    from mluv.worker import worker_settings

    settings = get_settings()
    base = worker_settings(Queue.LONG, settings)
    timeout = Queue.LONG.default_timeout(settings)
    attributes = {key: value for key, value in vars(base).items() if not key.startswith("__")}
    attributes["functions"] = [broadcast.arq_function(timeout), broadcast_batch.arq_function(timeout)]
    attributes["cron_jobs"] = []
    attributes["ctx"] = {**attributes["ctx"], "mluv_functions": ["broadcast", "broadcast_batch"]}
    return type(name, (), attributes)


class WorkerProcess:
    def __init__(self, env: dict[str, str], log_path: Path) -> None:
        self.log_path = log_path
        self._log = log_path.open("wb")
        self.process = subprocess.Popen(
            [str(BIN / "arq"), "tests.workers.test_messaging.MessagingLongWorkerSettings"],
            cwd=REPO_ROOT,
            env=env,
            stdout=self._log,
            stderr=subprocess.STDOUT,
        )

    def output(self) -> str:
        return self.log_path.read_text(errors="replace")

    async def started(self) -> None:
        async def ready() -> bool:
            assert self.process.poll() is None, self.output()
            return "worker started" in self.output()

        await eventually(ready, 30, "the worker to start")

    def kill(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait(10)
        self._log.close()


@pytest.mark.slow
async def test_a_worker_sigkilled_mid_broadcast_leaves_every_learner_one_message(
    resources: Resources,
    control: SandboxClient,
    sandbox_url: str,
    database_url: str,
    redis_url: str,
    tmp_path: Path,
) -> None:
    learners = await add_learners(resources, control, 300)
    broadcast_id = await new_broadcast(resources, control)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("BOT_", "WEBHOOK_", "TELEGRAM_"))}
    env.update(
        ENVIRONMENT="test",
        DATABASE_URL=database_url,
        REDIS_URL=redis_url,
        DATA_DIR=str(tmp_path / "data"),
        TELEGRAM_API_BASE=sandbox_url,
        LOG_JSON="true",
        PYTHONPATH=str(REPO_ROOT),
        # arq re-runs a killed job once its in-progress key expires: the longest timeout + 15 s.
        LONG_JOB_TIMEOUT="10",
        RATE_LIMIT_GLOBAL_PER_SECOND="40",
        WORKER_POLL_DELAY="0.02",
    )
    processes: list[WorkerProcess] = []
    try:
        first = WorkerProcess(env, tmp_path / "worker-1.log")
        processes.append(first)
        await first.started()
        await broadcast.enqueue(resources.pool, broadcast_id=broadcast_id, batch_size=50)

        async def under_way() -> bool:
            return (await control.counters())["sent"] >= 80

        await eventually(under_way, 30, "the broadcast to be under way")
        first.kill()  # SIGKILL: no cleanup, claims left in flight, batches left in progress
        killed_at = (await control.counters())["sent"]
        assert killed_at < 301, "the broadcast finished before the kill"

        second = WorkerProcess(env, tmp_path / "worker-2.log")
        processes.append(second)
        await second.started()

        async def completed() -> bool:
            return (await broadcast_row(resources, broadcast_id)).status == "completed"

        await eventually(completed, 55, "the broadcast to complete after the restart")
    finally:
        for process in processes:
            process.kill()
    statuses = await ledger(resources, broadcast_id)
    received = await received_by_chat(control)
    recipients = [*learners, OLGA, ADMIN]
    assert len(statuses) == len(recipients)
    # No one has two; everyone sent has exactly one; the only ones without are sends cut by the kill,
    # which are `unknown` (maybe delivered, never resent), never pending or lost silently.
    for user in learners:
        assert received.get(user, 0) <= 1, user
        if statuses[user] == "sent":
            assert received[user] == 1, user
        else:
            assert statuses[user] == "unknown", (user, statuses[user])
    unknown = [user for user in learners if statuses[user] == "unknown"]
    assert len(unknown) <= 24  # at most the sends in flight: window × concurrency per batch
    assert sum(received.get(user, 0) for user in learners) >= len(learners) - len(unknown)
    row = await broadcast_row(resources, broadcast_id)
    assert row.sent == sum(status == "sent" for status in statuses.values())
