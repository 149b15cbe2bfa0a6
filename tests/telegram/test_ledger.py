"""The delivery ledger (mluv.telegram.ledger) on real PostgreSQL: a business key is sent once, claims are
atomic, a claim left by a crashed try of the same job ends unknown; bulk rows, the outbox, cancelling."""

from __future__ import annotations

import asyncio
import datetime as dt

import pytest
from aiogram.types import InlineKeyboardButton, InlineKeyboardMarkup
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from mluv.db.models import Delivery, DeliveryStatus, User
from mluv.telegram import ledger
from mluv.telegram.sandbox import SandboxClient
from mluv.telegram.sender import Sender
from tests.telegram.sender_harness import LEARNERS, OLGA, received, rows


async def test_a_business_key_is_sent_once(
    sender: Sender, control: SandboxClient, session_factory: async_sessionmaker[AsyncSession]
) -> None:
    keyboard = InlineKeyboardMarkup(inline_keyboard=[[InlineKeyboardButton(text="OK", callback_data="ok")]])
    first = await sender.send_message(
        kind="reminder", chat_id=OLGA, business_key="2026-11-21", text="Ahoj!", reply_markup=keyboard
    )
    second = await sender.send_message(kind="reminder", chat_id=OLGA, business_key="2026-11-21", text="Ahoj!")
    assert first.status is DeliveryStatus.SENT and not first.duplicate
    assert second.status is DeliveryStatus.SENT and second.duplicate
    assert second.telegram_message_id == first.telegram_message_id
    assert await received(control, OLGA) == ["Ahoj!"]
    (row,) = await rows(session_factory)
    assert (row.status, row.attempts, row.sent_at is not None) == ("sent", 1, True)
    assert row.payload and row.payload["text"] == "Ahoj!" and row.payload["reply_markup"]
    # Another kind or key is another message.
    await sender.send_message(kind="reminder", chat_id=OLGA, business_key="2026-11-22", text="Ahoj!")
    assert len(await received(control, OLGA)) == 2


async def test_concurrent_sends_of_one_key_deliver_once(sender: Sender, control: SandboxClient) -> None:
    results = await asyncio.gather(
        *(
            sender.send_message(kind="k", chat_id=OLGA, business_key="same", text="Jen jednou")
            for _ in range(8)
        )
    )
    assert sum(not r.duplicate for r in results) == 1
    assert await received(control, OLGA) == ["Jen jednou"]


async def test_a_claim_left_by_an_earlier_try_of_the_same_job_is_unknown(
    sender: Sender, control: SandboxClient, session_factory: async_sessionmaker[AsyncSession]
) -> None:
    async with session_factory.begin() as db:
        db.add(
            Delivery(
                kind="k",
                recipient_id=OLGA,
                business_key="crash",
                status="sending",
                job_id="job-1",
                claimed_at=dt.datetime.now(dt.UTC),
            )
        )
    other = await sender.send_message(kind="k", chat_id=OLGA, business_key="crash", text="x", job_id="job-2")
    assert other.duplicate and other.status is DeliveryStatus.SENDING  # someone else's: still in flight
    same = await sender.send_message(kind="k", chat_id=OLGA, business_key="crash", text="x", job_id="job-1")
    assert same.duplicate and same.status is DeliveryStatus.UNKNOWN
    assert await received(control, OLGA) == []


async def test_bulk_rows_outbox_rows_and_cancelling(
    sender: Sender, session_factory: async_sessionmaker[AsyncSession]
) -> None:
    active = select(User.id).where(User.id.in_(LEARNERS[:3]))
    async with session_factory.begin() as db:
        total = await ledger.snapshot(
            db, kind="bulk", business_key="b:1", recipients=active, payload={"broadcast_id": 1}
        )
        again = await ledger.snapshot(
            db, kind="bulk", business_key="b:1", recipients=LEARNERS[:5], payload={"broadcast_id": 1}
        )
        await ledger.add_pending(
            db,
            kind="outbox",
            recipient_id=OLGA,
            payloads={"m:1": ledger.text_payload("Ahoj"), "m:2": ledger.text_payload("Čau")},
            job_id="job-1",
        )
    assert (total, again) == (3, 5)  # rows already there are kept; new recipients are added
    bulk = await rows(session_factory, kind="bulk")
    assert {row.payload["broadcast_id"] for row in bulk if row.payload} == {1}
    async with session_factory() as db:
        pending = await ledger.pending_texts(db, kind="outbox", recipient_id=OLGA)
        page = await ledger.recipients(db, kind="bulk", business_key="b:1", offset=1, limit=2)
    assert [(p.business_key, p.text) for p in pending] == [("m:1", "Ahoj"), ("m:2", "Čau")]
    assert [r.recipient_id for r in page] == LEARNERS[1:3]
    assert bulk[0].id in await ledger.claim_many(session_factory, [(bulk[0].id, "job-2")])
    assert bulk[0].id not in await ledger.claim_many(session_factory, [(bulk[0].id, "job-3")])  # claimed once
    async with session_factory.begin() as db:
        await ledger.cancel_pending(db, kind="bulk", business_key="b:1", reason="stopped")
    statuses = [row.status for row in await rows(session_factory, kind="bulk")]
    assert statuses == ["sending"] + ["cancelled"] * 4  # the row in flight finishes on its own
    assert await ledger.counts_by_kind_and_status(session_factory) == {
        ("bulk", "sending"): 1,
        ("bulk", "cancelled"): 4,
        ("outbox", "pending"): 2,
    }
    with pytest.raises(ValueError, match="not a final state"):
        ledger.Final(bulk[0].id, DeliveryStatus.PENDING)
