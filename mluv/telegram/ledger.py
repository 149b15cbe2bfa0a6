"""The delivery ledger (`deliveries`): every statement that creates a row or changes its state.

One row per (kind, recipient, business key), unique, so a business key is sent at most once. States
(DeliveryStatus, beside the table in mluv.db.models):

    pending ──claim──▶ sending ──finish──▶ sent | blocked | failed | unknown
       ▲                  │
       └──── release ─────┘   nothing reached Telegram (429, 5xx, a refused connection, the limiter)
    pending ──cancel_pending──▶ cancelled   a broadcast's rows not yet sent when it ends

Rows are created `pending`: one at a time by the Sender (`prepare`), in bulk for a broadcast's audience
(`snapshot`), or as an outbox in the caller's transaction (`add_pending`: a milestone's congratulation
commits together with its stars). `sendMessage` has no idempotency key, so a row left `sending` by a try
that died may have been delivered: it becomes `unknown` and is never sent again (`settle_crashed`) — at
once when the same job runs again (`settle_own_claim`, `settle_own_claims`), or by the reconciler once
the crash window has passed (mluv.telegram.reconcile, which holds the reconciler's other statements).

Functions taking an AsyncSession run in the caller's transaction (their rows commit with other work);
those taking a session factory are one transaction each.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Awaitable, Callable, Collection, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import ColumnElement, Exists, Select, Text, cast, exists, func, literal, select, update
from sqlalchemy.dialects.postgresql import ARRAY, JSONB, insert
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlalchemy.types import BigInteger

from mluv.db.models import Delivery, DeliveryStatus
from mluv.logs import get_logger

log = get_logger(__name__)

FINAL_STATUSES = frozenset(
    {DeliveryStatus.SENT, DeliveryStatus.BLOCKED, DeliveryStatus.FAILED, DeliveryStatus.UNKNOWN}
)

# Work that must commit together with deliveries' final states (e.g. a broadcast's counters): it runs in
# the transaction that records sent/blocked/failed/unknown, once per transaction with the final states of
# the rows it was given for (one per row: a group commit holds many, mluv.telegram.finishing).
FinishHook = Callable[[AsyncSession, Sequence[DeliveryStatus]], Awaitable[None]]

_UNIQUE = ["kind", "recipient_id", "business_key"]
_OWN_CRASH = "an earlier try of the job died while sending"


@dataclass(frozen=True)
class Row:
    """The columns a send decides on."""

    id: int
    status: DeliveryStatus
    job_id: str | None
    telegram_message_id: int | None
    error: str | None


_ROW_COLUMNS = (Delivery.id, Delivery.status, Delivery.job_id, Delivery.telegram_message_id, Delivery.error)


def _row(values: Any) -> Row:
    return Row(
        values.id, DeliveryStatus(values.status), values.job_id, values.telegram_message_id, values.error
    )


@dataclass(frozen=True)
class Stored:
    """A row with what sending it again takes: its recipient and the stored payload."""

    row: Row
    recipient_id: int
    payload: dict[str, Any]


@dataclass(frozen=True)
class Recipient:
    """One recipient of a bulk-created key (a broadcast's audience)."""

    id: int
    recipient_id: int
    status: DeliveryStatus
    job_id: str | None


@dataclass(frozen=True)
class PendingText:
    business_key: str
    text: str


# --- payloads: a row can be (re)sent from the ledger alone -----------------------------------------------


def text_payload(
    text: str,
    parse_mode: str | None = None,
    *,
    reply_to_message_id: int | None = None,
    reply_markup: dict[str, Any] | None = None,
    part: tuple[int, int] | None = None,
) -> dict[str, Any]:
    """The stored form of a sendMessage (reply_markup as JSON; `part` of a split text: (index, count))."""
    payload: dict[str, Any] = {
        "method": "sendMessage",
        "text": text,
        "parse_mode": parse_mode,
        "reply_to_message_id": reply_to_message_id,
        "reply_markup": reply_markup,
    }
    if part is not None:
        payload["part"] = list(part)
    return payload


def photo_payload(
    photo: bytes | str, caption: str | None, parse_mode: str | None, reply_markup: dict[str, Any] | None
) -> dict[str, Any]:
    """The stored form of a sendPhoto: bytes are not kept (a chart is tens of kB), only their size, so
    only a file_id or a URL can be sent again from the ledger."""
    return {
        "method": "sendPhoto",
        "photo": photo if isinstance(photo, str) else None,
        "photo_bytes": len(photo) if isinstance(photo, bytes) else None,
        "caption": caption,
        "parse_mode": parse_mode,
        "reply_markup": reply_markup,
    }


# --- creating rows -----------------------------------------------------------------------------------------


async def prepare(
    session_factory: async_sessionmaker[AsyncSession],
    *,
    kind: str,
    recipient_id: int,
    business_key: str,
    payload: dict[str, Any],
    job_id: str | None,
) -> Row:
    """Create the row if it is new (pending) and return its current state."""
    async with session_factory.begin() as session:
        row = {"recipient_id": recipient_id, "business_key": business_key, "payload": payload}
        await _insert_new(session, kind, [row], job_id)
        found = (
            await session.execute(
                select(*_ROW_COLUMNS).where(
                    Delivery.kind == kind,
                    Delivery.recipient_id == recipient_id,
                    Delivery.business_key == business_key,
                )
            )
        ).one()
    return _row(found)


async def add_pending(
    session: AsyncSession,
    *,
    kind: str,
    recipient_id: int,
    payloads: Mapping[str, dict[str, Any]],
    job_id: str | None,
) -> None:
    """Queue messages (business key → payload) in the caller's transaction: a transactional outbox, so
    they exist exactly when the caller's other work commits; a job then sends them (`pending_texts`)."""
    rows = [
        {"recipient_id": recipient_id, "business_key": key, "payload": payload}
        for key, payload in payloads.items()
    ]
    await _insert_new(session, kind, rows, job_id)


async def snapshot(
    session: AsyncSession,
    *,
    kind: str,
    business_key: str,
    recipients: Sequence[int] | Select[tuple[int]],
    payload: dict[str, Any],
) -> int:
    """One pending row per recipient (ids, or a query of them) in the caller's transaction; rows already
    there are kept, so a re-run keeps the first snapshot. Returns the number of rows of the key."""
    if isinstance(recipients, Select):
        audience = recipients.subquery()
        selected = select(
            literal(kind, Text),
            audience.c[0],
            literal(business_key, Text),
            cast(literal(json.dumps(payload), Text), JSONB),
        )
        await session.execute(
            insert(Delivery)
            .from_select(["kind", "recipient_id", "business_key", "payload"], selected)
            .on_conflict_do_nothing(index_elements=_UNIQUE)
        )
    else:
        rows = [{"recipient_id": r, "business_key": business_key, "payload": payload} for r in recipients]
        await _insert_new(session, kind, rows, None)
    return await count(session, kind=kind, business_key=business_key)


async def _insert_new(
    session: AsyncSession, kind: str, rows: list[dict[str, Any]], job_id: str | None
) -> None:
    """Insert pending rows of `kind`; a row whose (kind, recipient, business key) exists is left as it is."""
    if rows:
        values = [{**row, "kind": kind, "job_id": job_id} for row in rows]
        await session.execute(insert(Delivery).values(values).on_conflict_do_nothing(index_elements=_UNIQUE))


# --- a send: claim, then finish or release ---------------------------------------------------------------


async def claim_many(
    session_factory: async_sessionmaker[AsyncSession], claims: Sequence[tuple[int, str | None]]
) -> set[int]:
    """Claim (delivery id, job id) rows in one statement, pending → sending atomically: the ids claimed."""
    ids, job_ids = zip(*claims, strict=True) if claims else ((), ())
    wanted = (
        func.unnest(literal(list(ids), ARRAY(BigInteger)), literal(list(job_ids), ARRAY(Text)))
        .table_valued("id", "job_id")
        .render_derived(name="claims")
    )
    # A transaction, not autocommit: behind PgBouncer in transaction mode, a statement prepared outside
    # one may run on another server ("prepared statement ... does not exist": tests/db/test_pgbouncer.py).
    async with session_factory.begin() as session:
        claimed = await session.scalars(
            update(Delivery)
            .where(Delivery.id == wanted.c.id, Delivery.status == DeliveryStatus.PENDING)
            .values(
                status=DeliveryStatus.SENDING,
                attempts=Delivery.attempts + 1,
                claimed_at=dt.datetime.now(dt.UTC),
                job_id=wanted.c.job_id,
            )
            .returning(Delivery.id)
        )
        return set(claimed.all())


@dataclass(frozen=True)
class Final:
    """A row's final state (sent, blocked, failed, unknown) as a send's answer decided it."""

    delivery_id: int
    status: DeliveryStatus
    telegram_message_id: int | None = None
    error: str | None = None

    def __post_init__(self) -> None:
        if self.status not in FINAL_STATUSES:
            raise ValueError(f"{self.status} is not a final state")


async def record_final(session: AsyncSession, finals: Sequence[Final]) -> None:
    """Final states of many rows in the caller's transaction, in one executemany (SQLAlchemy's bulk
    UPDATE by primary key): mluv.telegram.finishing writes a group of sends' answers per commit."""
    now = dt.datetime.now(dt.UTC)
    values = [
        {
            "id": final.delivery_id,
            "status": final.status,
            "telegram_message_id": final.telegram_message_id,
            "error": final.error,
            "sent_at": now if final.status is DeliveryStatus.SENT else None,
        }
        for final in finals
    ]
    if values:
        await session.execute(update(Delivery), values)


async def finish(
    session_factory: async_sessionmaker[AsyncSession], final: Final, on_finish: FinishHook | None = None
) -> None:
    """Record one final state, with `on_finish` in the same transaction (the Sender groups them instead)."""
    async with session_factory.begin() as session:
        await record_final(session, [final])
        if on_finish is not None:
            await on_finish(session, [final.status])


async def release(session_factory: async_sessionmaker[AsyncSession], delivery_id: int, error: str) -> None:
    """sending → pending: nothing reached Telegram, so the job's retry (or the reconciler) sends it."""
    async with session_factory.begin() as session:
        await session.execute(
            update(Delivery)
            .where(Delivery.id == delivery_id)
            .values(status=DeliveryStatus.PENDING, telegram_message_id=None, error=error, sent_at=None)
        )


# --- claims left by a try that died ------------------------------------------------------------------------


async def settle_crashed(
    session: AsyncSession, condition: ColumnElement[bool], reason: str
) -> Sequence[tuple[int, str, str]]:
    """sending → unknown for the rows `condition` shows a dead try left in flight: the request may have
    reached Telegram, so they are never sent again. Returns their (id, kind, business_key)."""
    settled = await session.execute(
        update(Delivery)
        .where(Delivery.status == DeliveryStatus.SENDING, condition)
        .values(status=DeliveryStatus.UNKNOWN, error=reason)
        .returning(Delivery.id, Delivery.kind, Delivery.business_key)
    )
    return [(row.id, row.kind, row.business_key) for row in settled]


async def settle_own_claims(session: AsyncSession, delivery_ids: Collection[int], job_id: str) -> list[int]:
    """Rows an earlier try of this very job left `sending`: that try died mid-send (arq re-runs a job only
    after its previous run ended), so their outcome is unknown at once."""
    if not delivery_ids:
        return []
    condition = Delivery.id.in_(list(delivery_ids)) & (Delivery.job_id == job_id)
    settled = [row_id for row_id, _, _ in await settle_crashed(session, condition, _OWN_CRASH)]
    if settled:
        log.warning("delivery outcome unknown after a crashed try", delivery_ids=settled, job_id=job_id)
    return settled


async def settle_own_claim(
    session_factory: async_sessionmaker[AsyncSession], row: Row, job_id: str | None
) -> Row:
    """`row` as this job finds it: unknown if an earlier try of the same job left it `sending`."""
    if row.status is not DeliveryStatus.SENDING or job_id is None or row.job_id != job_id:
        return row
    async with session_factory.begin() as session:
        await settle_own_claims(session, [row.id], job_id)
    return await load(session_factory, row.id)


# --- cancelling ---------------------------------------------------------------------------------------------


async def cancel_pending(
    session: AsyncSession,
    *,
    kind: str,
    business_key: str,
    reason: str,
    when: ColumnElement[bool] | None = None,
) -> None:
    """pending → cancelled for the key's rows not sent yet, in the caller's transaction; `when` is an
    extra condition checked by the same statement. Rows in flight finish and are counted."""
    condition = (
        (Delivery.kind == kind)
        & (Delivery.business_key == business_key)
        & (Delivery.status == DeliveryStatus.PENDING)
    )
    if when is not None:
        condition = condition & when
    await session.execute(
        update(Delivery).where(condition).values(status=DeliveryStatus.CANCELLED, error=reason)
    )


# --- reading ------------------------------------------------------------------------------------------------


async def load(session_factory: async_sessionmaker[AsyncSession], delivery_id: int) -> Row:
    async with session_factory() as session:
        found = (await session.execute(select(*_ROW_COLUMNS).where(Delivery.id == delivery_id))).one()
    return _row(found)


async def stored(session_factory: async_sessionmaker[AsyncSession], delivery_id: int) -> Stored | None:
    """The row with its recipient and payload; None if there is no such row."""
    async with session_factory() as session:
        found = (
            await session.execute(
                select(*_ROW_COLUMNS, Delivery.recipient_id, Delivery.payload).where(
                    Delivery.id == delivery_id
                )
            )
        ).one_or_none()
    if found is None:
        return None
    return Stored(_row(found), found.recipient_id, found.payload or {})


async def pending_texts(session: AsyncSession, *, kind: str, recipient_id: int) -> list[PendingText]:
    """Texts queued for the recipient and not sent yet (also those a crashed run left), oldest first."""
    rows = await session.execute(
        select(Delivery.business_key, Delivery.payload)
        .where(
            Delivery.kind == kind,
            Delivery.recipient_id == recipient_id,
            Delivery.status == DeliveryStatus.PENDING,
        )
        .order_by(Delivery.id)
    )
    return [
        PendingText(key, str(payload["text"]))
        for key, payload in rows.tuples()
        if payload and payload.get("text")
    ]


async def recipients(
    session: AsyncSession, *, kind: str, business_key: str, offset: int, limit: int
) -> list[Recipient]:
    """A page of a bulk-created key's rows by recipient id (a snapshot never changes: same page, same
    recipients)."""
    rows = await session.execute(
        select(Delivery.id, Delivery.recipient_id, Delivery.status, Delivery.job_id)
        .where(Delivery.kind == kind, Delivery.business_key == business_key)
        .order_by(Delivery.recipient_id)
        .offset(offset)
        .limit(limit)
    )
    return [Recipient(row.id, row.recipient_id, DeliveryStatus(row.status), row.job_id) for row in rows]


async def count(
    session: AsyncSession, *, kind: str, business_key: str, status: DeliveryStatus | None = None
) -> int:
    query = select(func.count()).where(Delivery.kind == kind, Delivery.business_key == business_key)
    if status is not None:
        query = query.where(Delivery.status == status)
    return int(await session.scalar(query) or 0)


def unsettled(kind: str, business_key: str) -> Exists:
    """A condition: some row of the key is still pending or in flight."""
    return exists().where(
        Delivery.kind == kind,
        Delivery.business_key == business_key,
        Delivery.status.in_((DeliveryStatus.PENDING, DeliveryStatus.SENDING)),
    )


async def counts_by_kind_and_status(
    session_factory: async_sessionmaker[AsyncSession],
) -> dict[tuple[str, str], int]:
    """Rows per (kind, status): the dashboard's and /metrics' figures."""
    async with session_factory() as session:
        rows = await session.execute(
            select(Delivery.kind, Delivery.status, func.count()).group_by(Delivery.kind, Delivery.status)
        )
        return {(kind, status): int(count) for kind, status, count in rows.tuples()}
