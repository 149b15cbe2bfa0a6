"""Final states written in group commits (mluv.telegram.finishing), on the real database."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import Any

import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from mluv.db.models import DeliveryStatus, User
from mluv.telegram import ledger
from mluv.telegram.finishing import Claimer, Finisher
from tests.telegram.sender_harness import LEARNERS, rows

pytestmark = pytest.mark.integration


class CountingFinisher(Finisher):
    def __init__(self, session_factory: async_sessionmaker[AsyncSession], max_group: int = 200) -> None:
        super().__init__(session_factory, max_group)
        self.groups: list[int] = []

    async def _commit(self, group: list) -> None:  # type: ignore[type-arg]
        self.groups.append(len(group))
        await super()._commit(group)


async def pending_rows(session_factory: async_sessionmaker[AsyncSession], count: int) -> list[int]:
    async with session_factory.begin() as db:
        db.add_all(User(id=user_id, first_name="Learner") for user_id in LEARNERS[:count])
        await db.flush()
        await ledger.snapshot(
            db, kind="broadcast", business_key="b:1", recipients=LEARNERS[:count], payload={}
        )
    async with session_factory() as db:
        found = await ledger.recipients(db, kind="broadcast", business_key="b:1", offset=0, limit=count)
    return [row.id for row in found]


async def claimed_rows(session_factory: async_sessionmaker[AsyncSession], count: int) -> list[int]:
    ids = await pending_rows(session_factory, count)
    assert await ledger.claim_many(session_factory, [(i, "job") for i in ids]) == set(ids)
    return ids


@pytest.mark.parametrize(
    ("max_group", "groups"), [(200, [5]), (2, [2, 2, 1])], ids=["one-transaction", "bounded-groups"]
)
async def test_finishes_that_arrive_together_commit_together_with_their_hooks(
    session_factory: async_sessionmaker[AsyncSession], clean_tables: None, max_group: int, groups: list[int]
) -> None:
    ids = await claimed_rows(session_factory, 5)
    finisher = CountingFinisher(session_factory, max_group)
    hooked: list[list[DeliveryStatus]] = []

    async def hook(session: AsyncSession, statuses: Sequence[DeliveryStatus]) -> None:
        hooked.append(list(statuses))

    statuses = [DeliveryStatus.SENT, DeliveryStatus.BLOCKED, DeliveryStatus.SENT, DeliveryStatus.FAILED]
    statuses.append(DeliveryStatus.UNKNOWN)
    finals = [ledger.Final(i, status, telegram_message_id=i) for i, status in zip(ids, statuses, strict=True)]
    await asyncio.gather(*(finisher.finish(final, hook) for final in finals))
    assert finisher.groups == groups
    # The hook runs once per transaction, with the statuses of every row it was given for there.
    assert [len(call) for call in hooked] == groups
    assert sorted(status for call in hooked for status in call) == sorted(statuses)
    stored = await rows(session_factory, business_key="b:1")
    assert [row.status for row in stored] == statuses
    assert [row.sent_at is not None for row in stored] == [s is DeliveryStatus.SENT for s in statuses]


async def test_a_failed_transaction_fails_every_send_it_held_and_leaves_them_sending(
    session_factory: async_sessionmaker[AsyncSession], clean_tables: None
) -> None:
    ids = await claimed_rows(session_factory, 3)
    finisher = Finisher(session_factory)

    async def broken(session: AsyncSession, statuses: Sequence[DeliveryStatus]) -> None:
        raise RuntimeError("the counter's table is gone")

    finals = [ledger.Final(i, DeliveryStatus.SENT) for i in ids]
    results = await asyncio.gather(
        *(finisher.finish(final, broken) for final in finals), return_exceptions=True
    )
    assert [type(result) for result in results] == [RuntimeError] * 3
    assert [row.status for row in await rows(session_factory, business_key="b:1")] == ["sending"] * 3
    with pytest.raises(ValueError, match="not a final state"):
        ledger.Final(ids[0], DeliveryStatus.PENDING)


async def test_claims_that_arrive_together_share_one_statement_and_each_learns_its_own(
    session_factory: async_sessionmaker[AsyncSession], clean_tables: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    ids = await pending_rows(session_factory, 4)
    assert ids[3] in await ledger.claim_many(session_factory, [(ids[3], "another run")])
    statements: list[list[tuple[int, str | None]]] = []
    claim_many = ledger.claim_many

    async def counted(factory: async_sessionmaker[AsyncSession], claims: Any) -> set[int]:
        statements.append(list(claims))
        return await claim_many(factory, claims)

    monkeypatch.setattr("mluv.telegram.finishing.claim_many", counted)
    claimer = Claimer(session_factory)
    outcomes = await asyncio.gather(*(claimer.claim(i, "job") for i in [ids[0], ids[1], ids[2], ids[3]]))
    # Four sends that claim in the same moment: one statement.
    assert [len(claims) for claims in statements] == [4]
    assert outcomes == [True, True, True, False]  # the last row was another run's already
    stored = {row.id: row for row in await rows(session_factory, business_key="b:1")}
    assert [(stored[i].status, stored[i].job_id) for i in ids] == [("sending", "job")] * 3 + [
        ("sending", "another run")
    ]


async def test_a_claim_whose_sender_was_cancelled_before_its_statement_is_dropped(
    session_factory: async_sessionmaker[AsyncSession], clean_tables: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    ids = await pending_rows(session_factory, 2)
    release = asyncio.Event()
    claim_many = ledger.claim_many

    async def held(factory: async_sessionmaker[AsyncSession], claims: Any) -> set[int]:
        await release.wait()
        return await claim_many(factory, claims)

    monkeypatch.setattr("mluv.telegram.finishing.claim_many", held)
    claimer = Claimer(session_factory)
    first = asyncio.create_task(claimer.claim(ids[0], "job"))
    await asyncio.sleep(0.01)  # the first statement runs (held), the second claim queues behind it
    second = asyncio.create_task(claimer.claim(ids[1], "job"))
    await asyncio.sleep(0.01)
    second.cancel()  # its job timed out: nobody would send that row
    release.set()
    assert await first
    with pytest.raises(asyncio.CancelledError):
        await second
    stored = {row.id: row.status for row in await rows(session_factory, business_key="b:1")}
    assert (stored[ids[0]], stored[ids[1]]) == ("sending", "pending")
