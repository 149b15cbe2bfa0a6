"""A broadcast's lifecycle once confirmed: every statement that changes a running `broadcasts` row, its plan
in Redis and the operator's progress message. Drafts and scheduled posts: mluv.telegram.posts.

    confirmed ──start──▶ running ──complete_if_done──▶ completed
        └────── cancel ─────┴──▶ cancelled    failed: a text Telegram refuses (start), stalling (give_up)

`start` snapshots the audience into the delivery ledger (one row per recipient, kind `broadcast`, business
key `broadcast:{id}`), so it is fixed and a re-run or a resumption sends only rows still pending. `cancel`
also cancels the unsent rows; a cancellation that only set the status is settled by the batches when
they notice it (`settle_cancelled`). The plan (`mluv:broadcast:<id>:plan`, `:resume`) says how the
current round is batched and which round it is, so the reconciler finds its jobs. Progress: the
operator's message is edited at most every PROGRESS_SECONDS while running (a lease,
`mluv:broadcast:<id>:progress`) and once at the end, serialised by an advisory lock.
The jobs that run, resume and restart a broadcast (they enqueue jobs) are in workers/broadcasts.py.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any

from sqlalchemy import ColumnElement, Select, exists, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from mluv.db.models import Broadcast, BroadcastStatus, DeliveryStatus, User
from mluv.domain.telegram_text import TELEGRAM_TEXT_LIMIT, fits_one_message
from mluv.i18n import DEFAULT_LANGUAGE, t
from mluv.jobs.deployment import namespace_of
from mluv.logs import get_logger
from mluv.telegram import audiences, ledger
from mluv.telegram.ledger import FinishHook

if TYPE_CHECKING:
    from redis.asyncio import Redis

    from mluv.telegram.sender import Sender

log = get_logger(__name__)

BROADCAST_KIND = "broadcast"  # the ledger's kind of a broadcast's rows
IN_FLIGHT = (BroadcastStatus.CONFIRMED, BroadcastStatus.RUNNING)
_CANCELLABLE = (BroadcastStatus.DRAFT, *IN_FLIGHT)
REJECTED = "rejected"  # not a status: the progress message of a text Telegram would refuse
MAX_RESUMES = 5  # automatic resumptions of a stalled broadcast before it is marked failed
PROGRESS_SECONDS = 3.0  # at most one progress edit per broadcast this often, across all workers


def broadcast_key(broadcast_id: int) -> str:
    """The ledger's business key of the broadcast's rows (one per recipient)."""
    return f"broadcast:{broadcast_id}"


def _plan_key(redis: Redis, broadcast_id: int) -> str:
    return namespace_of(redis).key(f"broadcast:{broadcast_id}:plan")


def _resume_key(redis: Redis, broadcast_id: int) -> str:
    return namespace_of(redis).key(f"broadcast:{broadcast_id}:resume")


def _progress_lease_key(redis: Redis, broadcast_id: int) -> str:
    return namespace_of(redis).key(f"broadcast:{broadcast_id}:progress")


def _progress_lock(broadcast_id: int) -> int:
    # A bigint advisory lock per broadcast ("mluv" in the high half) serialises its progress edits.
    return (0x6D6C7576 << 32) | (broadcast_id & 0xFFFFFFFF)


@dataclass(frozen=True)
class BroadcastInfo:
    id: int
    status: BroadcastStatus
    text: str
    parse_mode: str | None
    total: int
    paid: bool = False  # sent with allow_paid_broadcast, on the limiter's paid schedule

    @classmethod
    def of(cls, row: Broadcast) -> BroadcastInfo:
        return cls(row.id, BroadcastStatus(row.status), row.text, row.parse_mode, row.total, bool(row.paid))


# --- running ------------------------------------------------------------------------------------------------


async def start(
    session_factory: async_sessionmaker[AsyncSession], broadcast_id: int
) -> tuple[BroadcastInfo | None, bool]:
    """confirmed → running with the audience snapshotted into the ledger, in one transaction; a re-run
    finds it running and keeps the snapshot. Returns the broadcast and whether its text was rejected."""
    now = dt.datetime.now(dt.UTC)
    async with session_factory.begin() as session:
        row = await session.get(Broadcast, broadcast_id, with_for_update=True, populate_existing=True)
        if row is None:
            return None, False
        if row.status != BroadcastStatus.CONFIRMED:
            return BroadcastInfo.of(row), False
        if not fits_one_message(row.text, row.parse_mode):
            # Checked once for all recipients: a text Telegram refuses would fail every row.
            row.status, row.finished_at = BroadcastStatus.FAILED, now
            return BroadcastInfo.of(row), True
        recipients: list[int] | Select[tuple[int]]
        if row.target == "channels":
            recipients = sorted(set(row.channel_ids or []))
        else:
            # The query the draft's size was counted with (mluv.telegram.audiences), taken now.
            recipients = audiences.learners(audiences.of_broadcast(row), now=now)
        total = await ledger.snapshot(
            session,
            kind=BROADCAST_KIND,
            business_key=broadcast_key(broadcast_id),
            recipients=recipients,
            payload={"broadcast_id": broadcast_id},
        )
        row.status, row.started_at, row.total = BroadcastStatus.RUNNING, now, total
        return BroadcastInfo.of(row), False


async def info(session_factory: async_sessionmaker[AsyncSession], broadcast_id: int) -> BroadcastInfo | None:
    async with session_factory() as session:
        row = await session.get(Broadcast, broadcast_id)
    return BroadcastInfo.of(row) if row is not None else None


async def status_of(
    session_factory: async_sessionmaker[AsyncSession], broadcast_id: int
) -> BroadcastStatus | None:
    async with session_factory() as session:
        status = await session.scalar(select(Broadcast.status).where(Broadcast.id == broadcast_id))
    return BroadcastStatus(status) if status is not None else None


def counter(broadcast_id: int) -> FinishHook:
    """Counts rows' final states into the broadcast, in the transaction that records them: exact under
    crashes and re-runs, because a row reaches a final state once. One UPDATE for a group of rows."""
    columns = {
        DeliveryStatus.SENT: Broadcast.sent,
        DeliveryStatus.BLOCKED: Broadcast.blocked,
        DeliveryStatus.FAILED: Broadcast.failed,
    }

    async def count(session: AsyncSession, statuses: Sequence[DeliveryStatus]) -> None:
        added = Counter(columns[status] for status in statuses if status in columns)
        if added:
            values = {column: column + n for column, n in added.items()}
            await session.execute(update(Broadcast).where(Broadcast.id == broadcast_id).values(values))

    return count


@dataclass(frozen=True)
class Batch:
    size: int  # recipients in the batch
    pending: list[tuple[int, int]]  # (delivery id, chat id) still to send
    orphaned: int  # claims an earlier try of this job left in flight, now unknown


async def take_batch(
    session_factory: async_sessionmaker[AsyncSession],
    broadcast_id: int,
    *,
    batch: int,
    batch_size: int,
    job_id: str,
) -> Batch:
    """Recipients [batch·size, +size) by id, with what this job's earlier try left in flight settled."""
    async with session_factory.begin() as session:
        # The snapshot never changes once the broadcast runs, so the same offset is the same recipients.
        rows = await ledger.recipients(
            session,
            kind=BROADCAST_KIND,
            business_key=broadcast_key(broadcast_id),
            offset=batch * batch_size,
            limit=batch_size,
        )
        in_flight = [row.id for row in rows if row.status is DeliveryStatus.SENDING]
        orphaned = await ledger.settle_own_claims(session, in_flight, job_id)
    pending = [(row.id, row.recipient_id) for row in rows if row.status is DeliveryStatus.PENDING]
    return Batch(len(rows), pending, len(orphaned))


# --- ending -------------------------------------------------------------------------------------------------


async def complete_if_done(
    session_factory: async_sessionmaker[AsyncSession], redis: Redis, sender: Sender, broadcast_id: int
) -> bool:
    """running → completed once no recipient is pending or in flight; the final progress edit."""
    in_flight = ledger.unsettled(BROADCAST_KIND, broadcast_key(broadcast_id))
    async with session_factory.begin() as session:
        done = await session.scalar(
            update(Broadcast)
            .where(Broadcast.id == broadcast_id, Broadcast.status == BroadcastStatus.RUNNING, ~in_flight)
            .values(status=BroadcastStatus.COMPLETED, finished_at=dt.datetime.now(dt.UTC))
            .returning(Broadcast.id)
        )
    if done is None:
        return False
    await redis.delete(_plan_key(redis, broadcast_id), _resume_key(redis, broadcast_id))
    await edit_progress(session_factory, sender, broadcast_id, final=True)
    log.info("broadcast completed", broadcast_id=broadcast_id)
    return True


async def cancel(
    session_factory: async_sessionmaker[AsyncSession], redis: Redis, sender: Sender, broadcast_id: int
) -> bool:
    """Cancel a broadcast (dashboard, admin): no new sends start; rows not yet sent become cancelled.

    Sends already in flight finish and are counted. Returns False if it had already ended.
    """
    async with session_factory.begin() as session:
        cancelled = await session.scalar(
            update(Broadcast)
            .where(Broadcast.id == broadcast_id, Broadcast.status.in_(_CANCELLABLE))
            .values(status=BroadcastStatus.CANCELLED, cancelled_at=dt.datetime.now(dt.UTC))
            .returning(Broadcast.id)
        )
        if cancelled is not None:
            await _cancel_unsent(session, broadcast_id)
    if cancelled is None:
        return False
    await redis.delete(_plan_key(redis, broadcast_id), _resume_key(redis, broadcast_id))
    await edit_progress(session_factory, sender, broadcast_id, final=True)
    log.info("broadcast cancelled", broadcast_id=broadcast_id)
    return True


async def _cancel_unsent(
    session: AsyncSession, broadcast_id: int, *, when: ColumnElement[bool] | None = None
) -> None:
    # Batches claim only pending rows, so this stops them row by row even before they notice.
    await ledger.cancel_pending(
        session,
        kind=BROADCAST_KIND,
        business_key=broadcast_key(broadcast_id),
        reason="broadcast cancelled",
        when=when,
    )


async def settle_cancelled(
    session_factory: async_sessionmaker[AsyncSession], sender: Sender, broadcast_id: int
) -> None:
    """A broadcast cancelled by someone who only changed its status (the dashboard): its unsent rows
    become cancelled and the operator's message shows the final state (both idempotent)."""
    async with session_factory.begin() as session:
        cancelled = exists().where(
            Broadcast.id == broadcast_id, Broadcast.status == BroadcastStatus.CANCELLED
        )
        await _cancel_unsent(session, broadcast_id, when=cancelled)
    await edit_progress(session_factory, sender, broadcast_id, final=True)


async def give_up(
    session_factory: async_sessionmaker[AsyncSession], sender: Sender, broadcast_id: int
) -> None:
    """A broadcast that kept stalling → failed; its unsent rows → cancelled."""
    async with session_factory.begin() as session:
        await session.execute(
            update(Broadcast)
            .where(Broadcast.id == broadcast_id, Broadcast.status.in_(IN_FLIGHT))
            .values(status=BroadcastStatus.FAILED, finished_at=dt.datetime.now(dt.UTC))
        )
        await ledger.cancel_pending(
            session,
            kind=BROADCAST_KIND,
            business_key=broadcast_key(broadcast_id),
            reason=f"broadcast failed after {MAX_RESUMES} resumptions",
        )
    log.error("broadcast failed: it kept stalling", broadcast_id=broadcast_id)
    await edit_progress(session_factory, sender, broadcast_id, final=True)


# --- the plan of the running round, and the reconciler's checks ------------------------------------------


@dataclass(frozen=True)
class Plan:
    resume: int  # the round: 0 for the first run, n for the n-th resumption
    batch_size: int | None = None
    window: int | None = None
    batches: int = 0


async def save_plan(redis: Redis, broadcast_id: int, plan: Plan) -> None:
    values = {name: value for name, value in asdict(plan).items() if value is not None}
    await redis.hset(_plan_key(redis, broadcast_id), mapping=values)  # type: ignore[misc]


async def _read_plan(redis: Redis, broadcast_id: int) -> dict[str, int]:
    plan: dict[Any, Any] = await redis.hgetall(_plan_key(redis, broadcast_id))  # type: ignore[misc]
    return {(k.decode() if isinstance(k, bytes) else str(k)): int(v) for k, v in plan.items()}


async def current_plan(redis: Redis, broadcast_id: int) -> Plan:
    """The round the broadcast's jobs run under now (a queued resumption counts before its parent runs)."""
    values = await _read_plan(redis, broadcast_id)
    resume = values.get("resume", int(await redis.get(_resume_key(redis, broadcast_id)) or 0))
    return Plan(resume, values.get("batch_size"), values.get("window"), values.get("batches", 0))


async def new_round(redis: Redis, broadcast_id: int) -> Plan:
    """The next round of a resumption, recorded as the one to watch; batched as the last one was."""
    resume = int(await redis.incr(_resume_key(redis, broadcast_id)))
    values = await _read_plan(redis, broadcast_id)
    # The plan names the round to watch: a queued resume counts as alive before its parent runs.
    await redis.hset(_plan_key(redis, broadcast_id), mapping={"resume": resume})  # type: ignore[misc]
    return Plan(resume, values.get("batch_size"), values.get("window"))


@dataclass(frozen=True)
class Stalled:
    id: int
    status: BroadcastStatus  # confirmed: its job was never run; running: its batches stopped
    resumes: int  # automatic resumptions so far


async def check_in_flight(
    session_factory: async_sessionmaker[AsyncSession],
    redis: Redis,
    sender: Sender,
    *,
    quiet_for: float,
) -> tuple[int, list[Stalled]]:
    """Complete running broadcasts whose last rows were settled (by the ledger's reconciler), and list
    the confirmed or running ones older than `quiet_for` seconds: the caller restarts those whose jobs
    are gone. Returns (how many were completed, the quiet ones)."""
    now = dt.datetime.now(dt.UTC)
    async with session_factory() as session:
        rows = (
            await session.execute(
                select(Broadcast.id, Broadcast.status, Broadcast.created_at, Broadcast.started_at).where(
                    Broadcast.status.in_(IN_FLIGHT)
                )
            )
        ).all()
    completed, quiet = 0, []
    for row in rows:
        if row.status == BroadcastStatus.RUNNING and await complete_if_done(
            session_factory, redis, sender, row.id
        ):
            completed += 1
            continue
        since = row.started_at or row.created_at
        if since is None or now - since < dt.timedelta(seconds=quiet_for):
            continue
        resumes = int(await redis.get(_resume_key(redis, row.id)) or 0)
        quiet.append(Stalled(row.id, BroadcastStatus(row.status), resumes))
    return completed, quiet


# --- the operator's progress message -----------------------------------------------------------------------


async def take_progress_turn(redis: Redis, broadcast_id: int) -> bool:
    """One progress edit per PROGRESS_SECONDS across every worker: whoever takes the lease edits."""
    lease = int(PROGRESS_SECONDS * 1000)
    return bool(await redis.set(_progress_lease_key(redis, broadcast_id), b"1", nx=True, px=lease))


async def edit_progress(
    session_factory: async_sessionmaker[AsyncSession],
    sender: Sender,
    broadcast_id: int,
    *,
    final: bool,
    rejected: bool = False,
) -> bool:
    """Show the broadcast's state in the operator's message (progress_chat_id / progress_message_id).

    Edits of one broadcast are serialised by an advisory lock, and a non-final edit reads the status
    under it and gives up unless still running: so a late progress edit never overwrites the final one.
    """
    async with session_factory.begin() as session:
        lock = _progress_lock(broadcast_id)
        if final:
            await session.execute(select(func.pg_advisory_xact_lock(lock)))
        elif not await session.scalar(select(func.pg_try_advisory_xact_lock(lock))):
            return False
        row = await session.scalar(select(Broadcast).where(Broadcast.id == broadcast_id))
        if row is None or row.progress_chat_id is None or row.progress_message_id is None:
            return False
        if not final and row.status != BroadcastStatus.RUNNING:
            return False
        language = await session.scalar(select(User.language).where(User.id == row.created_by))
        unknown = 0
        if final:
            unknown = await ledger.count(
                session,
                kind=BROADCAST_KIND,
                business_key=broadcast_key(broadcast_id),
                status=DeliveryStatus.UNKNOWN,
            )
        text = progress_text(
            language or DEFAULT_LANGUAGE,
            REJECTED if rejected else row.status,
            total=row.total,
            sent=row.sent,
            blocked=row.blocked,
            failed=row.failed,
            unknown=unknown,
        )
        return await sender.edit_message_text(
            chat_id=row.progress_chat_id, message_id=row.progress_message_id, text=text
        )


def progress_text(
    language: str, status: str, *, total: int, sent: int, blocked: int, failed: int, unknown: int = 0
) -> str:
    """The operator's progress message for a broadcast in `status` or REJECTED (pure)."""
    done = sent + blocked + failed + unknown
    if status == REJECTED:
        return t(language, "broadcast-progress-rejected", limit=TELEGRAM_TEXT_LIMIT)
    heads: dict[str, str] = {
        BroadcastStatus.COMPLETED: t(language, "broadcast-progress-completed", count=total),
        BroadcastStatus.CANCELLED: t(language, "broadcast-progress-cancelled", done=done, count=total),
        BroadcastStatus.FAILED: t(language, "broadcast-progress-failed", done=done, count=total),
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


# --- listing (the dashboard, /metrics) ----------------------------------------------------------------------


async def recent(session_factory: async_sessionmaker[AsyncSession], *, limit: int = 20) -> list[Broadcast]:
    """In-flight broadcasts first, then the most recent others (finished, cancelled, drafts)."""
    async with session_factory() as session:
        in_flight = Broadcast.status.in_(IN_FLIGHT)
        query = select(Broadcast).order_by(in_flight.desc(), Broadcast.id.desc()).limit(limit)
        return list((await session.scalars(query)).all())


async def counts_by_status(session_factory: async_sessionmaker[AsyncSession]) -> dict[str, int]:
    async with session_factory() as session:
        rows = await session.execute(select(Broadcast.status, func.count()).group_by(Broadcast.status))
        return {status: int(count) for status, count in rows.tuples()}
