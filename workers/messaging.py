"""Messaging: single sends, operators' scheduled posts and broadcasts, and the delivery reconciler.

- `send_message(chat_id, text, kind, business_key, parse_mode)`: fast queue, 5 tries (backoff 10 → 160 s),
  id `message:{kind}:{chat_id}:{business_key}` (or a fresh one without a key);
- `redeliver_delivery(delivery_id, attempt)`: fast, 5 tries, id `redeliver:{delivery_id}:{attempt}`;
- `broadcast(broadcast_id, resume, batch_size, window)`: long, 5 tries, id `broadcast:{id}` (`:resume:{n}`);
- `broadcast_batch(broadcast_id, batch, ...)`: long, 5 tries, id `broadcast:{id}:batch:{n}` (`:r{n}:` on a
  resume);
- `send_scheduled_messages`: fast cron, every minute at :00; `reconcile_deliveries`: fast cron, at :30.

Every send goes through the Sender (rate limit shared by all workers, delivery ledger). A broadcast
snapshots its recipients into the ledger when it starts (one `deliveries` row each, kind `broadcast`,
business key `broadcast:{id}`), so the audience is fixed and a re-run or a resume sends only rows still
pending. Batches of `batch_size` recipients (by id) run as separate jobs, `window` at a time: each batch
enqueues the one `window` places after it when it ends, which bounds the work in flight (and the
limiter's queue) whatever the audience size, and spreads batches over every long worker. See
docs/delivery.md.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import time
import uuid
from collections import Counter, deque
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Annotated, Any, cast

from aiogram.exceptions import TelegramRetryAfter
from pydantic import BaseModel, Field
from sqlalchemy import BigInteger, Text, exists, func, literal, select, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from mluv.db.models import Broadcast, Delivery, DeliveryStatus, ScheduledMessage, User
from mluv.i18n import DEFAULT_LANGUAGE, t
from mluv.jobs import CronRun, JobContext, Queue, RetryableError, cron, job
from mluv.jobs.arq_state import jobs_alive
from mluv.jobs.retry import BROADCAST_RETRY, DELIVERY_RETRY
from mluv.logs import get_logger
from mluv.resources import Resources
from mluv.telegram.ratelimit import RateLimited
from mluv.telegram.sender import (
    TELEGRAM_TEXT_LIMIT,
    FinishHook,
    visible_length,
)

if TYPE_CHECKING:
    from redis.asyncio import Redis

    from mluv.settings import Settings
    from mluv.telegram.sender import Sender

log = get_logger(__name__)

BROADCAST_KIND = "broadcast"
SCHEDULED_KIND = "scheduled"
MESSAGE_KIND = "message"

# A batch must finish within WORKER_COMPLETION_WAIT (25 s) so a deploy lets it end instead of cutting sends
# in flight: 100 rows at 25/s shared by WINDOW batches take ~12 s (bench/chaos.py found 500 took ~60 s).
BATCH_SIZE = 100
WINDOW = 3  # batches of one broadcast running at once
BATCH_CONCURRENCY = 8  # sends in flight per batch: enough to keep the limiter's schedule full
ROW_TRIES = 5  # sends of one row within one batch run before the batch itself is retried
STATUS_POLL_SECONDS = 1.0  # how quickly a running batch notices a cancellation
PROGRESS_SECONDS = 3.0  # at most one progress edit per broadcast this often, across all workers
PENDING_AFTER = 300.0  # a pending row untouched this long, with no live job, is picked up again
MAX_RESUMES = 5  # automatic resumptions of a stalled broadcast before it is marked failed
DUE_POSTS_PER_RUN = 100


def broadcast_key(broadcast_id: int) -> str:
    return f"broadcast:{broadcast_id}"


def _plan_key(broadcast_id: int) -> str:
    return f"mluv:broadcast:{broadcast_id}:plan"


def _resume_key(broadcast_id: int) -> str:
    return f"mluv:broadcast:{broadcast_id}:resume"


def _progress_lease_key(broadcast_id: int) -> str:
    return f"mluv:broadcast:{broadcast_id}:progress"


def _progress_lock(broadcast_id: int) -> int:
    # A bigint advisory lock per broadcast ("mluv" in the high half) serialises its progress edits.
    return (0x6D6C7576 << 32) | (broadcast_id & 0xFFFFFFFF)


# --- send_message -------------------------------------------------------------------------------------


def _message_job_id(values: BaseModel) -> str:
    args = cast(Any, values)
    if args.business_key:
        return f"message:{args.kind}:{args.chat_id}:{args.business_key}"
    # No business key: each enqueue is a new message; the ledger key then comes from this id.
    return f"message:{uuid.uuid4().hex}"


@job(queue=Queue.FAST, retry=DELIVERY_RETRY, job_id=_message_job_id)
async def send_message(
    ctx: JobContext[Resources],
    chat_id: int,
    text: Annotated[str, Field(min_length=1)],
    kind: Annotated[str, Field(min_length=1, max_length=64)] = MESSAGE_KIND,
    business_key: str | None = None,
    parse_mode: str | None = None,
) -> dict[str, Any]:
    """Send one message once: idempotent through the ledger; delay it with `.options(defer_by=...)`."""
    result = await ctx.resources.sender.send_message(
        kind=kind,
        chat_id=chat_id,
        business_key=business_key or f"job:{ctx.job_id}",
        text=text,
        parse_mode=parse_mode,
        job_id=ctx.job_id,
    )
    return {
        "status": result.status.value,
        "duplicate": result.duplicate,
        "delivery_id": result.delivery_id,
        "parts": len(result.parts) or 1,
    }


@job(queue=Queue.FAST, retry=DELIVERY_RETRY, job_id="redeliver:{delivery_id}:{attempt}")
async def redeliver_delivery(
    ctx: JobContext[Resources], delivery_id: int, attempt: int = 0
) -> dict[str, Any]:
    """Send a pending ledger row from its stored payload (the reconciler found its job gone)."""
    result = await ctx.resources.sender.redeliver(delivery_id, job_id=ctx.job_id)
    if result is None:
        return {"skipped": "no such delivery"}
    return {"status": result.status.value, "duplicate": result.duplicate}


# --- broadcasts -----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class BroadcastInfo:
    id: int
    status: str
    text: str
    parse_mode: str | None
    total: int

    @classmethod
    def of(cls, row: Broadcast) -> BroadcastInfo:
        return cls(row.id, row.status, row.text, row.parse_mode, row.total)


def _parent_job_id(values: BaseModel) -> str:
    args = cast(Any, values)
    base = f"broadcast:{args.broadcast_id}"
    return base if args.resume == 0 else f"{base}:resume:{args.resume}"


def _batch_job_id(values: BaseModel) -> str:
    args = cast(Any, values)
    return batch_job_id(args.broadcast_id, args.batch, args.resume)


def batch_job_id(broadcast_id: int, batch: int, resume: int = 0) -> str:
    if resume == 0:
        return f"broadcast:{broadcast_id}:batch:{batch}"
    return f"broadcast:{broadcast_id}:r{resume}:batch:{batch}"


def _text_problem(text: str, parse_mode: str | None) -> bool:
    return not text.strip() or visible_length(text, parse_mode) > TELEGRAM_TEXT_LIMIT


async def _start(resources: Resources, broadcast_id: int) -> tuple[BroadcastInfo | None, bool]:
    """confirmed → running with the audience snapshotted into the ledger, in one transaction; a re-run
    finds it running and keeps the snapshot. Returns the broadcast and whether its text was rejected."""
    now = dt.datetime.now(dt.UTC)
    key = broadcast_key(broadcast_id)
    async with resources.session_factory.begin() as session:
        row = await session.get(Broadcast, broadcast_id, with_for_update=True, populate_existing=True)
        if row is None:
            return None, False
        if row.status != "confirmed":
            return BroadcastInfo.of(row), False
        if _text_problem(row.text, row.parse_mode):
            # Checked once for all recipients: a text Telegram refuses would fail every row.
            row.status, row.finished_at = "failed", now
            return BroadcastInfo.of(row), True
        if row.target == "channels":
            channels = sorted(set(row.channel_ids or []))
            if channels:
                await session.execute(
                    insert(Delivery)
                    .values(
                        [
                            {
                                "kind": BROADCAST_KIND,
                                "recipient_id": channel,
                                "business_key": key,
                                "payload": {"broadcast_id": broadcast_id},
                            }
                            for channel in channels
                        ]
                    )
                    .on_conflict_do_nothing(index_elements=["kind", "recipient_id", "business_key"])
                )
        else:
            audience = select(
                literal(BROADCAST_KIND, Text),
                User.id,
                literal(key, Text),
                func.jsonb_build_object(literal("broadcast_id", Text), literal(broadcast_id, BigInteger)),
            ).where(User.is_active.is_(True), User.is_blocked.is_(False))
            await session.execute(
                insert(Delivery)
                .from_select(["kind", "recipient_id", "business_key", "payload"], audience)
                .on_conflict_do_nothing(index_elements=["kind", "recipient_id", "business_key"])
            )
        total = await session.scalar(
            select(func.count()).where(Delivery.kind == BROADCAST_KIND, Delivery.business_key == key)
        )
        row.status, row.started_at, row.total = "running", now, int(total or 0)
        return BroadcastInfo.of(row), False


@job(queue=Queue.LONG, retry=BROADCAST_RETRY, job_id=_parent_job_id)
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
    resources = ctx.resources
    info, rejected = await _start(resources, broadcast_id)
    if info is None:
        return {"skipped": "no such broadcast"}
    if rejected:
        await edit_progress(resources, broadcast_id, final=True, rejected=True)
        return {"status": "failed", "reason": "text empty or too long"}
    if info.status != "running":
        return {"skipped": info.status}
    batches = -(-info.total // batch_size)
    await ctx.redis.hset(  # type: ignore[misc]
        _plan_key(broadcast_id),
        mapping={"resume": resume, "batch_size": batch_size, "window": window, "batches": batches},
    )
    for batch in range(min(window, batches)):
        await broadcast_batch.enqueue(
            ctx.redis,
            broadcast_id=broadcast_id,
            batch=batch,
            batch_size=batch_size,
            window=window,
            resume=resume,
        )
    if batches == 0:
        await complete_if_done(resources, ctx.redis, broadcast_id)
    else:
        await edit_progress(resources, broadcast_id, final=False)
    return {"total": info.total, "batches": batches, "resume": resume}


def _counter(broadcast_id: int) -> FinishHook:
    """Counts each row's final state into the broadcast, in the transaction that records it: exact under
    crashes and re-runs, because a row reaches a final state once."""
    columns = {
        DeliveryStatus.SENT: Broadcast.sent,
        DeliveryStatus.BLOCKED: Broadcast.blocked,
        DeliveryStatus.FAILED: Broadcast.failed,
    }

    async def count(session: AsyncSession, status: DeliveryStatus) -> None:
        column = columns.get(status)
        if column is not None:
            await session.execute(
                update(Broadcast).where(Broadcast.id == broadcast_id).values({column: column + 1})
            )

    return count


@dataclass
class _BatchRun:
    rows: deque[tuple[int, int]]
    tries: Counter[int] = field(default_factory=Counter)
    outcomes: Counter[str] = field(default_factory=Counter)
    stop: bool = False
    stopped_by: str | None = None  # the broadcast's status when it stopped being "running"
    error: BaseException | None = None
    finished: asyncio.Event = field(default_factory=asyncio.Event)


@job(queue=Queue.LONG, retry=BROADCAST_RETRY, job_id=_batch_job_id)
async def broadcast_batch(
    ctx: JobContext[Resources],
    broadcast_id: int,
    batch: Annotated[int, Field(ge=0)],
    batch_size: Annotated[int, Field(ge=1, le=10_000)] = BATCH_SIZE,
    window: Annotated[int, Field(ge=1, le=100)] = WINDOW,
    resume: Annotated[int, Field(ge=0)] = 0,
) -> dict[str, Any]:
    """Send one batch of a broadcast: the rows still pending among recipients [batch·size, +size)."""
    resources = ctx.resources
    async with resources.session_factory() as session:
        row = await session.get(Broadcast, broadcast_id)
    if row is None or row.status != "running":
        if row is not None and row.status == "cancelled":
            await _settle_cancelled(resources, broadcast_id)
        return {"skipped": row.status if row else "no such broadcast"}
    info = BroadcastInfo.of(row)
    key = broadcast_key(broadcast_id)
    async with resources.session_factory.begin() as session:
        # The snapshot never changes once the broadcast runs, so the same offset is the same recipients.
        rows = (
            await session.execute(
                select(Delivery.id, Delivery.recipient_id, Delivery.status, Delivery.job_id)
                .where(Delivery.kind == BROADCAST_KIND, Delivery.business_key == key)
                .order_by(Delivery.recipient_id)
                .offset(batch * batch_size)
                .limit(batch_size)
            )
        ).all()
        # Claims an earlier try of this job left in flight: it died mid-send (arq re-runs a job only after
        # the previous run ended), so these may have been delivered: unknown, never resent.
        orphaned = [r.id for r in rows if r.status == DeliveryStatus.SENDING and r.job_id == ctx.job_id]
        if orphaned:
            await session.execute(
                update(Delivery)
                .where(Delivery.id.in_(orphaned), Delivery.status == DeliveryStatus.SENDING)
                .values(status=DeliveryStatus.UNKNOWN, error="an earlier try of the batch died while sending")
            )
    pending = deque((r.id, r.recipient_id) for r in rows if r.status == DeliveryStatus.PENDING)
    run = _BatchRun(pending)
    if pending:
        await _send_rows(ctx, info, run)
    if run.stopped_by is not None:
        if run.stopped_by == "cancelled":
            await _settle_cancelled(resources, broadcast_id)
        return {"stopped": run.stopped_by, **run.outcomes}
    if run.error is not None:
        raise run.error
    successor = batch + window
    if successor * batch_size < info.total:
        await broadcast_batch.enqueue(
            ctx.redis,
            broadcast_id=broadcast_id,
            batch=successor,
            batch_size=batch_size,
            window=window,
            resume=resume,
        )
    completed = await complete_if_done(resources, ctx.redis, broadcast_id)
    return {"rows": len(rows), "orphaned": len(orphaned), "completed": completed, **run.outcomes}


async def _send_rows(ctx: JobContext[Resources], info: BroadcastInfo, run: _BatchRun) -> None:
    sender = ctx.resources.sender
    count = _counter(info.id)

    async def worker() -> None:
        while run.rows and not run.stop:
            delivery_id, chat_id = run.rows.popleft()
            try:
                result = await sender.deliver_text(
                    delivery_id,
                    chat_id=chat_id,
                    text=info.text,
                    parse_mode=info.parse_mode,
                    job_id=ctx.job_id,
                    on_finish=count,
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
        await asyncio.gather(*(worker() for _ in range(BATCH_CONCURRENCY)))
    finally:
        run.finished.set()
        await watcher


async def _watch(ctx: JobContext[Resources], broadcast_id: int, run: _BatchRun) -> None:
    """While the batch runs: notice a cancellation within a second, and report progress now and then."""
    resources = ctx.resources
    while not run.finished.is_set():
        try:
            async with asyncio.timeout(STATUS_POLL_SECONDS):
                await run.finished.wait()
            return
        except TimeoutError:
            pass
        try:
            async with resources.session_factory() as session:
                status = await session.scalar(select(Broadcast.status).where(Broadcast.id == broadcast_id))
            if status != "running":
                run.stop, run.stopped_by = True, str(status)
                return
            # One progress edit per PROGRESS_SECONDS across every worker: whoever takes the lease edits.
            lease = int(PROGRESS_SECONDS * 1000)
            if await ctx.redis.set(_progress_lease_key(broadcast_id), b"1", nx=True, px=lease):
                await edit_progress(resources, broadcast_id, final=False)
        except Exception as error:  # progress is best effort; the sends go on
            log.warning("broadcast watcher hiccup", broadcast_id=broadcast_id, error=str(error))


async def complete_if_done(resources: Resources, redis: Redis, broadcast_id: int) -> bool:
    """running → completed once no recipient is pending or in flight; the final progress edit."""
    in_flight = exists().where(
        Delivery.kind == BROADCAST_KIND,
        Delivery.business_key == broadcast_key(broadcast_id),
        Delivery.status.in_((DeliveryStatus.PENDING, DeliveryStatus.SENDING)),
    )
    async with resources.session_factory.begin() as session:
        done = await session.scalar(
            update(Broadcast)
            .where(Broadcast.id == broadcast_id, Broadcast.status == "running", ~in_flight)
            .values(status="completed", finished_at=dt.datetime.now(dt.UTC))
            .returning(Broadcast.id)
        )
    if done is None:
        return False
    await redis.delete(_plan_key(broadcast_id), _resume_key(broadcast_id))
    await edit_progress(resources, broadcast_id, final=True)
    log.info("broadcast completed", broadcast_id=broadcast_id)
    return True


async def cancel_broadcast(resources: Resources, broadcast_id: int) -> bool:
    """Cancel a broadcast (dashboard, admin): no new sends start; rows not yet sent become cancelled.

    Sends already in flight finish and are counted. Returns False if it had already ended.
    """
    now = dt.datetime.now(dt.UTC)
    async with resources.session_factory.begin() as session:
        cancelled = await session.scalar(
            update(Broadcast)
            .where(Broadcast.id == broadcast_id, Broadcast.status.in_(("draft", "confirmed", "running")))
            .values(status="cancelled", cancelled_at=now)
            .returning(Broadcast.id)
        )
        if cancelled is not None:
            # Batches claim only pending rows, so this stops them row by row even before they notice.
            await session.execute(
                update(Delivery)
                .where(
                    Delivery.kind == BROADCAST_KIND,
                    Delivery.business_key == broadcast_key(broadcast_id),
                    Delivery.status == DeliveryStatus.PENDING,
                )
                .values(status=DeliveryStatus.CANCELLED, error="broadcast cancelled")
            )
    if cancelled is None:
        return False
    await resources.pool.delete(_plan_key(broadcast_id), _resume_key(broadcast_id))
    await edit_progress(resources, broadcast_id, final=True)
    log.info("broadcast cancelled", broadcast_id=broadcast_id)
    return True


async def _settle_cancelled(resources: Resources, broadcast_id: int) -> None:
    """A broadcast cancelled by someone who only changed its status (the dashboard): its unsent rows
    become cancelled and the operator's message shows the final state (both idempotent)."""
    async with resources.session_factory.begin() as session:
        await session.execute(
            update(Delivery)
            .where(
                Delivery.kind == BROADCAST_KIND,
                Delivery.business_key == broadcast_key(broadcast_id),
                Delivery.status == DeliveryStatus.PENDING,
                exists().where(Broadcast.id == broadcast_id, Broadcast.status == "cancelled"),
            )
            .values(status=DeliveryStatus.CANCELLED, error="broadcast cancelled")
        )
    await edit_progress(resources, broadcast_id, final=True)


async def resume_broadcast(resources: Resources, broadcast_id: int) -> str | None:
    """Run a running broadcast again from the ledger (after lost jobs or a dead-lettered batch): a new
    round of job ids, sending only rows still pending. Returns the new parent job's id."""
    pool = resources.pool
    resume = int(await pool.incr(_resume_key(broadcast_id)))
    plan: dict[Any, Any] = await pool.hgetall(_plan_key(broadcast_id))  # type: ignore[misc]
    values = {_text(k): int(v) for k, v in plan.items()}
    # The plan names the round to watch: a queued resume counts as alive before its parent runs.
    await pool.hset(_plan_key(broadcast_id), mapping={"resume": resume})  # type: ignore[misc]
    job = await broadcast.enqueue(
        pool,
        broadcast_id=broadcast_id,
        resume=resume,
        batch_size=values.get("batch_size", BATCH_SIZE),
        window=values.get("window", WINDOW),
    )
    log.warning("broadcast resumed", broadcast_id=broadcast_id, resume=resume)
    return job.job_id if job is not None else None


async def edit_progress(
    resources: Resources, broadcast_id: int, *, final: bool, rejected: bool = False
) -> bool:
    """Show the broadcast's state in the operator's message (progress_chat_id / progress_message_id).

    Edits of one broadcast are serialised by an advisory lock, and a non-final edit reads the status
    under it and gives up unless still running: so a late progress edit never overwrites the final one.
    """
    async with resources.session_factory.begin() as session:
        lock = _progress_lock(broadcast_id)
        if final:
            await session.execute(select(func.pg_advisory_xact_lock(lock)))
        elif not await session.scalar(select(func.pg_try_advisory_xact_lock(lock))):
            return False
        row = (
            await session.execute(select(Broadcast).where(Broadcast.id == broadcast_id))
        ).scalar_one_or_none()
        if row is None or row.progress_chat_id is None or row.progress_message_id is None:
            return False
        if not final and row.status != "running":
            return False
        language = await session.scalar(select(User.language).where(User.id == row.created_by))
        unknown = 0
        if final:
            unknown = int(
                await session.scalar(
                    select(func.count()).where(
                        Delivery.kind == BROADCAST_KIND,
                        Delivery.business_key == broadcast_key(broadcast_id),
                        Delivery.status == DeliveryStatus.UNKNOWN,
                    )
                )
                or 0
            )
        text = progress_text(
            language or DEFAULT_LANGUAGE,
            "rejected" if rejected else row.status,
            total=row.total,
            sent=row.sent,
            blocked=row.blocked,
            failed=row.failed,
            unknown=unknown,
        )
        return await resources.sender.edit_message_text(
            chat_id=row.progress_chat_id, message_id=row.progress_message_id, text=text
        )


def progress_text(
    language: str, status: str, *, total: int, sent: int, blocked: int, failed: int, unknown: int = 0
) -> str:
    """The operator's progress message for a broadcast in `status` (pure)."""
    done = sent + blocked + failed + unknown
    if status == "rejected":
        return t(language, "broadcast-progress-rejected", limit=TELEGRAM_TEXT_LIMIT)
    heads = {
        "completed": t(language, "broadcast-progress-completed", count=total),
        "cancelled": t(language, "broadcast-progress-cancelled", done=done, count=total),
        "failed": t(language, "broadcast-progress-failed", done=done, count=total),
    }
    lines = [
        heads.get(status) or t(language, "broadcast-progress-running", done=done, count=total),
        t(language, "broadcast-progress-sent", count=sent),
        t(language, "broadcast-progress-blocked", count=blocked),
        t(language, "broadcast-progress-errors", count=failed),
    ]
    if unknown:
        lines.append(t(language, "broadcast-progress-unknown", count=unknown))
    return "\n".join(lines)


async def reconcile_broadcasts(resources: Resources, redis: Redis) -> dict[str, int]:
    """Finish broadcasts whose last rows were settled by the reconciler, and restart stalled ones: a
    confirmed or running broadcast older than PENDING_AFTER with no job of it queued or running."""
    now = dt.datetime.now(dt.UTC)
    outcome: Counter[str] = Counter()
    async with resources.session_factory() as session:
        rows = (
            await session.execute(
                select(Broadcast.id, Broadcast.status, Broadcast.created_at, Broadcast.started_at).where(
                    Broadcast.status.in_(("confirmed", "running"))
                )
            )
        ).all()
    for row in rows:
        if row.status == "running" and await complete_if_done(resources, redis, row.id):
            outcome["completed"] += 1
            continue
        since = row.started_at or row.created_at
        if since is None or now - since < dt.timedelta(seconds=PENDING_AFTER):
            continue
        if await jobs_alive(redis, await _broadcast_job_ids(redis, row.id)):
            continue
        # A confirmed one whose enqueue was lost (Redis): the admin's id again, so a live one is not doubled.
        if (
            row.status == "confirmed"
            and await broadcast.enqueue(resources.pool, broadcast_id=row.id) is not None
        ):
            outcome["started"] += 1
            continue
        resumes = int(await redis.get(_resume_key(row.id)) or 0)
        if resumes >= MAX_RESUMES:
            await _give_up(resources, row.id)
            outcome["failed"] += 1
        elif await resume_broadcast(resources, row.id) is not None:
            outcome["resumed"] += 1
    return dict(outcome)


async def _broadcast_job_ids(redis: Redis, broadcast_id: int) -> list[str]:
    """Every job id the broadcast's current round may be running under."""
    plan: dict[Any, Any] = await redis.hgetall(_plan_key(broadcast_id))  # type: ignore[misc]
    values = {_text(k): int(v) for k, v in plan.items()}
    resume = values.get("resume", int(await redis.get(_resume_key(broadcast_id)) or 0))
    parent = f"broadcast:{broadcast_id}" + (f":resume:{resume}" if resume else "")
    return [parent] + [batch_job_id(broadcast_id, n, resume) for n in range(values.get("batches", 0))]


async def _give_up(resources: Resources, broadcast_id: int) -> None:
    now = dt.datetime.now(dt.UTC)
    async with resources.session_factory.begin() as session:
        await session.execute(
            update(Broadcast)
            .where(Broadcast.id == broadcast_id, Broadcast.status.in_(("confirmed", "running")))
            .values(status="failed", finished_at=now)
        )
        await session.execute(
            update(Delivery)
            .where(
                Delivery.kind == BROADCAST_KIND,
                Delivery.business_key == broadcast_key(broadcast_id),
                Delivery.status == DeliveryStatus.PENDING,
            )
            .values(
                status=DeliveryStatus.CANCELLED, error=f"broadcast failed after {MAX_RESUMES} resumptions"
            )
        )
    log.error("broadcast failed: it kept stalling", broadcast_id=broadcast_id)
    await edit_progress(resources, broadcast_id, final=True)


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


# --- scheduled posts ----------------------------------------------------------------------------------


@cron(queue=Queue.FAST, second=0)  # every minute, UTC
async def send_scheduled_messages(ctx: JobContext[Resources], run: CronRun) -> dict[str, int]:
    """Send the posts whose time has come, each once: claimed (scheduled → sending) with SKIP LOCKED, then
    sent while holding the post's row lock; a post left `sending` by a dead run is picked up again, and
    the ledger (business key `scheduled:{id}`) keeps it from being sent twice."""
    resources = ctx.resources
    now = dt.datetime.now(dt.UTC)
    due = (
        select(ScheduledMessage.id)
        .where(ScheduledMessage.status == "scheduled", ScheduledMessage.send_at <= now)
        .order_by(ScheduledMessage.send_at)
        .limit(DUE_POSTS_PER_RUN)
        .with_for_update(skip_locked=True)
    )
    async with resources.session_factory.begin() as session:
        claimed = (
            await session.scalars(
                update(ScheduledMessage)
                .where(ScheduledMessage.id.in_(due))
                .values(status="sending")
                .returning(ScheduledMessage.id)
            )
        ).all()
        stranded = (
            await session.scalars(
                select(ScheduledMessage.id)
                .where(ScheduledMessage.status == "sending", ScheduledMessage.id.not_in(claimed or [0]))
                .limit(DUE_POSTS_PER_RUN)
            )
        ).all()
    outcomes: Counter[str] = Counter()
    for post_id in [*sorted(claimed), *stranded]:
        outcomes[await _send_post(ctx, post_id)] += 1
    return dict(outcomes)


async def _send_post(ctx: JobContext[Resources], post_id: int) -> str:
    resources = ctx.resources
    async with resources.session_factory.begin() as session:
        # The row lock marks the post as being handled: a concurrent run skips it; a dead run's lock is gone.
        post = (
            await session.execute(
                select(ScheduledMessage)
                .where(ScheduledMessage.id == post_id, ScheduledMessage.status == "sending")
                .with_for_update(skip_locked=True)
            )
        ).scalar_one_or_none()
        if post is None:
            return "skipped"
        now = dt.datetime.now(dt.UTC)
        if post.target == "all":
            broadcast_id = await _broadcast_for_post(resources, post)
            # Deterministic id broadcast:{id}: a repeated run cannot start it twice.
            await broadcast.enqueue(ctx.redis, broadcast_id=broadcast_id)
            post.status, post.sent_at = "sent", now
            return "broadcast"
        assert post.chat_id is not None  # a CHECK constraint: chat_id is required unless target = 'all'
        try:
            result = await resources.sender.send_message(
                kind=SCHEDULED_KIND,
                chat_id=post.chat_id,
                business_key=f"scheduled:{post.id}",
                text=post.text,
                parse_mode=post.parse_mode,
                job_id=ctx.job_id,
            )
        except (TelegramRetryAfter, RateLimited, RetryableError) as error:
            # The post stays `sending`; the next run tries again, and the ledger keeps it to one send.
            log.warning("scheduled post deferred", post_id=post_id, error=f"{type(error).__name__}: {error}")
            return "deferred"
        if result.status is DeliveryStatus.SENT:
            post.status, post.sent_at, post.error = "sent", now, None
            return "sent"
        if result.status in (DeliveryStatus.PENDING, DeliveryStatus.SENDING):
            return "in_flight"  # another run holds the ledger row; a later run records the outcome
        post.status, post.error = "failed", f"{result.status.value}: {result.error or ''}".strip(": ")
        return "failed"


async def _broadcast_for_post(resources: Resources, post: ScheduledMessage) -> int:
    """The post's broadcast, created once (idempotency key `scheduled:{id}`) and committed before its job
    is enqueued, so the job always finds it."""
    key = f"scheduled:{post.id}"
    async with resources.session_factory.begin() as session:
        created = await session.scalar(
            insert(Broadcast)
            .values(
                created_by=post.created_by,
                text=post.text,
                parse_mode=post.parse_mode,
                target="all",
                status="confirmed",
                idempotency_key=key,
            )
            .on_conflict_do_nothing(index_elements=["idempotency_key"])
            .returning(Broadcast.id)
        )
        if created is not None:
            return int(created)
        existing = await session.scalar(select(Broadcast.id).where(Broadcast.idempotency_key == key))
    assert existing is not None
    return int(existing)


# --- the reconciler -----------------------------------------------------------------------------------


def crash_window(settings: Settings, sender: Sender) -> float:
    """How long a row may legitimately stay `sending`: the request timeout bounds a send, and a fast
    job's timeout bounds the job around it; twice the larger is safely past both."""
    return 2.0 * max(float(settings.fast_job_timeout), float(sender.request_timeout))


@cron(queue=Queue.FAST, second=30)  # every minute, half a minute after the scheduled posts
async def reconcile_deliveries(ctx: JobContext[Resources], run: CronRun) -> dict[str, Any]:
    """Repair the ledger after crashes and lost jobs (Sender.reconcile) and restart stalled broadcasts."""
    resources = ctx.resources
    sender = resources.sender

    async def requeue(delivery_id: int, attempts: int) -> None:
        await redeliver_delivery.enqueue(ctx.redis, delivery_id=delivery_id, attempt=attempts)

    started = time.perf_counter()
    report = await sender.reconcile(
        ctx.redis,
        stuck_after=crash_window(resources.settings, sender),
        pending_after=PENDING_AFTER,
        requeue=requeue,
        skip_kinds=(BROADCAST_KIND,),
    )
    broadcasts = await reconcile_broadcasts(resources, ctx.redis)
    return {
        "unknown": len(report.unknown),
        "requeued": len(report.requeued),
        "expired": len(report.expired),
        "gave_up": len(report.gave_up),
        "broadcasts": broadcasts,
        "ms": round((time.perf_counter() - started) * 1000, 1),
    }
