"""Broadcasts: the jobs that send one (a parent and its batches), its resumption, and the reconciler's
restarts of stalled ones. The broadcast's states, plan and progress are mluv.telegram.broadcasts.

- `broadcast(broadcast_id, resume, batch_size, window)`: long, 5 tries, id `broadcast:{id}` (`:resume:{n}`);
- `broadcast_batch(broadcast_id, batch, ...)`: long, 5 tries, id `broadcast:{id}:batch:{n}` (`:r{n}:` on a
  resume).

A broadcast snapshots its recipients into the ledger when it starts, so the audience is fixed and a re-run
or a resume sends only rows still pending. Batches of `batch_size` recipients (by id) run as separate
jobs, `window` at a time: each batch enqueues the one `window` places after it once its last row is taken
(the hand-over overlaps its last sends), which bounds the work in flight (and the limiter's queue)
whatever the audience size, and spreads batches over every long worker. See docs/delivery.md.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import Counter, deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Annotated, Any, cast

from pydantic import BaseModel, Field

from mluv.jobs import JobContext, Queue, RetryableError, job
from mluv.jobs.arq_state import jobs_alive
from mluv.jobs.retry import BROADCAST_RETRY
from mluv.logs import get_logger
from mluv.resources import Resources

# The ledger, models and aiogram are imported by the jobs: a worker starts without them (mluv.worker).
if TYPE_CHECKING:
    from arq.connections import ArqRedis
    from redis.asyncio import Redis

    from mluv.telegram.broadcasts import BroadcastInfo

log = get_logger(__name__)

# A batch must finish within WORKER_COMPLETION_WAIT (25 s) so a deploy lets it end instead of cutting sends
# in flight: 100 rows at 25/s shared by WINDOW batches take ~12 s (bench/chaos.py found 500 took ~60 s).
BATCH_SIZE = 100
WINDOW = 3  # batches of one broadcast running at once
BATCH_CONCURRENCY = 8  # sends in flight per batch: enough to keep the limiter's schedule full
# A paid broadcast's schedule is 40x denser: rate x a send's latency (bench/broadcast.py --paid).
PAID_BATCH_CONCURRENCY = 32
ROW_TRIES = 5  # sends of one row within one batch run before the batch itself is retried
STATUS_POLL_SECONDS = 1.0  # how quickly a running batch notices a cancellation


def parent_job_id(broadcast_id: int, resume: int = 0) -> str:
    base = f"broadcast:{broadcast_id}"
    return base if resume == 0 else f"{base}:resume:{resume}"


def batch_job_id(broadcast_id: int, batch: int, resume: int = 0) -> str:
    if resume == 0:
        return f"broadcast:{broadcast_id}:batch:{batch}"
    return f"broadcast:{broadcast_id}:r{resume}:batch:{batch}"


def _parent_job_id(values: BaseModel) -> str:
    args = cast(Any, values)
    return parent_job_id(args.broadcast_id, args.resume)


def _batch_job_id(values: BaseModel) -> str:
    args = cast(Any, values)
    return batch_job_id(args.broadcast_id, args.batch, args.resume)


@job(queue=Queue.LONG, retry=BROADCAST_RETRY, job_id=_parent_job_id, must_run=True)
async def broadcast(
    ctx: JobContext[Resources],
    broadcast_id: int,
    resume: Annotated[int, Field(ge=0)] = 0,
    batch_size: Annotated[int, Field(ge=1, le=10_000)] = BATCH_SIZE,
    window: Annotated[int, Field(ge=1, le=100)] = WINDOW,
) -> dict[str, Any]:
    """Start (or resume) a broadcast: snapshot the audience, then enqueue the first `window` batches.

    The admin handler enqueues `broadcast(broadcast_id=...)` after setting the status to confirmed.
    """
    from mluv.db.models import BroadcastStatus
    from mluv.telegram import broadcasts
    from mluv.telegram.broadcasts import Plan

    resources = ctx.resources
    factory, sender = resources.session_factory, resources.sender
    info, rejected = await broadcasts.start(factory, broadcast_id)
    if info is None:
        return {"skipped": "no such broadcast"}
    if rejected:
        await broadcasts.edit_progress(factory, sender, broadcast_id, final=True, rejected=True)
        return {"status": BroadcastStatus.FAILED.value, "reason": "text empty or too long"}
    if info.status != BroadcastStatus.RUNNING:
        return {"skipped": info.status.value}
    batches = -(-info.total // batch_size)
    await broadcasts.save_plan(ctx.redis, broadcast_id, Plan(resume, batch_size, window, batches))
    for batch in range(min(window, batches)):
        await _enqueue_batch(ctx.redis, broadcast_id, batch, batch_size, window, resume)
    if batches == 0:
        await broadcasts.complete_if_done(factory, ctx.redis, sender, broadcast_id)
    else:
        await broadcasts.edit_progress(factory, sender, broadcast_id, final=False)
    return {"total": info.total, "batches": batches, "resume": resume}


@dataclass
class _BatchRun:
    rows: deque[tuple[int, int]]
    tries: Counter[int] = field(default_factory=Counter)
    outcomes: Counter[str] = field(default_factory=Counter)
    stop: bool = False
    stopped_by: str | None = None  # the broadcast's status when it stopped being running
    error: BaseException | None = None
    finished: asyncio.Event = field(default_factory=asyncio.Event)
    successor: Callable[[], Awaitable[None]] | None = None  # enqueues the next batch; None once done

    async def start_successor(self) -> None:
        """Enqueue the batch `window` places on, once (a failure leaves it to the batch's end)."""
        if self.successor is not None:
            await self.successor()
            self.successor = None


@job(queue=Queue.LONG, retry=BROADCAST_RETRY, job_id=_batch_job_id, must_run=True)
async def broadcast_batch(
    ctx: JobContext[Resources],
    broadcast_id: int,
    batch: Annotated[int, Field(ge=0)],
    batch_size: Annotated[int, Field(ge=1, le=10_000)] = BATCH_SIZE,
    window: Annotated[int, Field(ge=1, le=100)] = WINDOW,
    resume: Annotated[int, Field(ge=0)] = 0,
) -> dict[str, Any]:
    """Send one batch of a broadcast: the rows still pending among recipients [batch·size, +size)."""
    from mluv.db.models import BroadcastStatus
    from mluv.telegram import broadcasts

    resources = ctx.resources
    factory, sender = resources.session_factory, resources.sender
    info = await broadcasts.info(factory, broadcast_id)
    if info is None or info.status != BroadcastStatus.RUNNING:
        if info is not None and info.status == BroadcastStatus.CANCELLED:
            await broadcasts.settle_cancelled(factory, sender, broadcast_id)
        return {"skipped": info.status.value if info else "no such broadcast"}
    taken = await broadcasts.take_batch(
        factory, broadcast_id, batch=batch, batch_size=batch_size, job_id=ctx.job_id
    )
    successor = batch + window

    async def enqueue_successor() -> None:
        if successor * batch_size < info.total:
            await _enqueue_batch(ctx.redis, broadcast_id, successor, batch_size, window, resume)

    run = _BatchRun(deque(taken.pending), successor=enqueue_successor)
    if taken.pending:
        await _send_rows(ctx, info, run)
    if run.stopped_by is not None:
        if run.stopped_by == BroadcastStatus.CANCELLED:
            await broadcasts.settle_cancelled(factory, sender, broadcast_id)
        return {"stopped": run.stopped_by, **run.outcomes}
    if run.error is not None:
        raise run.error
    await run.start_successor()  # unless its last row's sender already did
    completed = await broadcasts.complete_if_done(factory, ctx.redis, sender, broadcast_id)
    return {"rows": taken.size, "orphaned": taken.orphaned, "completed": completed, **run.outcomes}


async def _enqueue_batch(
    redis: ArqRedis, broadcast_id: int, batch: int, batch_size: int, window: int, resume: int
) -> None:
    await broadcast_batch.enqueue(
        redis, broadcast_id=broadcast_id, batch=batch, batch_size=batch_size, window=window, resume=resume
    )


async def _send_rows(ctx: JobContext[Resources], info: BroadcastInfo, run: _BatchRun) -> None:
    from aiogram.exceptions import TelegramRetryAfter

    from mluv.telegram import broadcasts

    sender = ctx.resources.sender
    count = broadcasts.counter(info.id)
    paid = info.paid and sender.limiter.limits.paid_per_second > 0  # turned off since: sent free

    async def worker() -> None:
        while run.rows and not run.stop:
            delivery_id, chat_id = run.rows.popleft()
            if not run.rows:
                # The last row is taken: the next batch starts while this one's last sends are in flight,
                # so a broadcast keeps `window` batches sending instead of dipping at every hand-over.
                with contextlib.suppress(Exception):  # Redis unreachable: the batch's end tries again
                    await run.start_successor()
            try:
                result = await sender.deliver_text(
                    delivery_id,
                    chat_id=chat_id,
                    text=info.text,
                    parse_mode=info.parse_mode,
                    job_id=ctx.job_id,
                    on_finish=count,
                    paid=paid,
                )
            except (TelegramRetryAfter, RetryableError) as error:
                # The Sender put the row back to pending (and, for a 429, pushed the shared schedule,
                # so the next acquire waits it out); try the row again later in this run.
                run.tries[delivery_id] += 1
                if run.tries[delivery_id] >= ROW_TRIES:
                    run.stop, run.error = True, run.error or error
                    return
                run.rows.append((delivery_id, chat_id))
                if isinstance(error, RetryableError):
                    await asyncio.sleep(min(2.0 ** run.tries[delivery_id], 10.0))  # backoff for a 5xx
                continue
            except Exception as error:  # RateLimited, database errors: the job's retry policy decides
                run.stop, run.error = True, run.error or error
                return
            run.outcomes["duplicate" if result.duplicate else result.status.value] += 1

    watcher = asyncio.create_task(_watch(ctx, info.id, run))
    try:
        # Workers stop taking rows on an error or a cancellation and finish the send they are in, so no
        # row is left `sending` by our own doing (a cancelled send would end `unknown`).
        concurrency = PAID_BATCH_CONCURRENCY if info.paid else BATCH_CONCURRENCY
        await asyncio.gather(*(worker() for _ in range(concurrency)))
    finally:
        run.finished.set()
        await watcher


async def _watch(ctx: JobContext[Resources], broadcast_id: int, run: _BatchRun) -> None:
    """While the batch runs: notice a cancellation within a second, and report progress now and then."""
    from mluv.db.models import BroadcastStatus
    from mluv.telegram import broadcasts

    resources = ctx.resources
    while not run.finished.is_set():
        try:
            async with asyncio.timeout(STATUS_POLL_SECONDS):
                await run.finished.wait()
            return
        except TimeoutError:
            pass
        try:
            status = await broadcasts.status_of(resources.session_factory, broadcast_id)
            if status != BroadcastStatus.RUNNING:
                run.stop, run.stopped_by = True, str(status)
                return
            if await broadcasts.take_progress_turn(ctx.redis, broadcast_id):
                await broadcasts.edit_progress(
                    resources.session_factory, resources.sender, broadcast_id, final=False
                )
        except Exception as error:  # progress is best effort; the sends go on
            log.warning("broadcast watcher hiccup", broadcast_id=broadcast_id, error=str(error))


async def resume_broadcast(resources: Resources, broadcast_id: int) -> str | None:
    """Run a running broadcast again from the ledger (after lost jobs or a dead-lettered batch): a new
    round of job ids, sending only rows still pending. Returns the new parent job's id."""
    from mluv.telegram import broadcasts

    plan = await broadcasts.new_round(resources.pool, broadcast_id)
    job = await broadcast.enqueue(
        resources.pool,
        broadcast_id=broadcast_id,
        resume=plan.resume,
        batch_size=plan.batch_size or BATCH_SIZE,
        window=plan.window or WINDOW,
    )
    log.warning("broadcast resumed", broadcast_id=broadcast_id, resume=plan.resume)
    return job.job_id if job is not None else None


async def reconcile_broadcasts(resources: Resources, redis: Redis) -> dict[str, int]:
    """Finish broadcasts whose last rows were settled by the reconciler, and restart stalled ones: a
    confirmed or running broadcast older than PENDING_AFTER with no job of it queued or running."""
    from mluv.db.models import BroadcastStatus
    from mluv.telegram import broadcasts
    from mluv.telegram.broadcasts import MAX_RESUMES
    from mluv.telegram.reconcile import PENDING_AFTER

    outcome: Counter[str] = Counter()
    completed, quiet = await broadcasts.check_in_flight(
        resources.session_factory, redis, resources.sender, quiet_for=PENDING_AFTER
    )
    if completed:
        outcome["completed"] += completed
    for stalled in quiet:
        if await jobs_alive(redis, await _round_job_ids(redis, stalled.id)):
            continue
        # A confirmed one whose enqueue was lost (Redis): the admin's id again, so a live one is not doubled.
        if (
            stalled.status == BroadcastStatus.CONFIRMED
            and await broadcast.enqueue(resources.pool, broadcast_id=stalled.id) is not None
        ):
            outcome["started"] += 1
            continue
        if stalled.resumes >= MAX_RESUMES:
            await broadcasts.give_up(resources.session_factory, resources.sender, stalled.id)
            outcome["failed"] += 1
        elif await resume_broadcast(resources, stalled.id) is not None:
            outcome["resumed"] += 1
    return dict(outcome)


async def _round_job_ids(redis: Redis, broadcast_id: int) -> list[str]:
    """Every job id the broadcast's current round may be running under."""
    from mluv.telegram import broadcasts

    plan = await broadcasts.current_plan(redis, broadcast_id)
    parent = parent_job_id(broadcast_id, plan.resume)
    return [parent] + [batch_job_id(broadcast_id, n, plan.resume) for n in range(plan.batches)]
