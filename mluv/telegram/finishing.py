"""The ledger's writes of a send in groups: the claims, and the final states, that arrive while one statement
runs share the next one.

Each send claims its row (pending → sending) and records its answer with its FinishHook (a broadcast's
counters). At hundreds of sends a second, one statement each made the database the queue: every final
state's transaction took the broadcast's row lock and waited for its own WAL flush (bench/broadcast.py
--paid: ~210/s at most on this machine), and every claim took a pooled connection of its own, so a paid
broadcast's 32 sends in flight per batch overflowed the pool and opened and closed a PostgreSQL connection
per claim. A `GroupWriter` queues the item and awaits the statement that writes it: while one runs, the
items that arrive queue for the next, so a quiet process still writes each at once and a busy one writes
many per round trip, on one connection.

- `Claimer`: one UPDATE claims the group (ledger.claim_many); each send learns whether its row was claimed.
- `Finisher`: one transaction records the group's final states and runs each hook once with the statuses
  of its rows, so each row's final state and its hook still commit together (counters stay exact); a
  failed transaction fails every send it held, whose rows stay `sending` and end `unknown`, as after a
  crash.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Generic, TypeVar

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from mluv.db.models import DeliveryStatus
from mluv.telegram.ledger import Final, FinishHook, claim_many, record_final

MAX_GROUP = 200  # items per statement: bounds a transaction's length and its row locks

Item = TypeVar("Item")
Outcome = TypeVar("Outcome")


@dataclass(frozen=True)
class _Queued(Generic[Item, Outcome]):
    item: Item
    done: asyncio.Future[Outcome]


class GroupWriter(Generic[Item, Outcome]):
    """Writes items in groups, one group at a time per process; `_write` writes one group."""

    # A caller cancelled while its item waits for a group: True drops the item (a claim nobody would
    # send), False writes it anyway (the answer of a message that did go out).
    drop_when_cancelled = False

    def __init__(self, session_factory: async_sessionmaker[AsyncSession], max_group: int = MAX_GROUP) -> None:
        self.session_factory = session_factory
        self.max_group = max_group
        self._queue: list[_Queued[Item, Outcome]] = []
        self._writer: asyncio.Task[None] | None = None

    async def submit(self, item: Item) -> Outcome:
        """Write `item` with the group it joins; returns its outcome once written, raises what the group's
        statement raised."""
        queued = _Queued(item, asyncio.get_running_loop().create_future())
        self._queue.append(queued)
        if self._writer is None or self._writer.done():
            self._writer = asyncio.create_task(self._drain())
        try:
            # Shielded: a cancelled caller (a job's timeout) must not cancel the others' statement.
            return await asyncio.shield(queued.done)
        except asyncio.CancelledError:
            if self.drop_when_cancelled and queued in self._queue:
                self._queue.remove(queued)
            raise

    async def _write(self, items: list[Item]) -> Sequence[Outcome]:
        raise NotImplementedError

    async def _drain(self) -> None:
        while self._queue:
            group, self._queue = self._queue[: self.max_group], self._queue[self.max_group :]
            try:
                outcomes = await self._write([queued.item for queued in group])
            except asyncio.CancelledError:
                for queued in group + self._queue:
                    queued.done.cancel()
                raise
            except Exception as error:
                for queued in group:
                    if not queued.done.done():
                        queued.done.set_exception(error)
            else:
                for queued, outcome in zip(group, outcomes, strict=True):
                    if not queued.done.done():
                        queued.done.set_result(outcome)


class Claimer(GroupWriter[tuple[int, str | None], bool]):
    """Claims of one process's sends: (delivery id, job id) → whether this send claimed the row."""

    drop_when_cancelled = True

    async def claim(self, delivery_id: int, job_id: str | None) -> bool:
        return await self.submit((delivery_id, job_id))

    async def _write(self, items: list[tuple[int, str | None]]) -> list[bool]:
        claimed = await claim_many(self.session_factory, items)
        outcomes = []
        for delivery_id, _ in items:
            outcomes.append(delivery_id in claimed)
            claimed.discard(delivery_id)  # a row asked for twice in one group is the first one's
        return outcomes


@dataclass(frozen=True)
class _Finish:
    final: Final
    on_finish: FinishHook | None


class Finisher(GroupWriter[_Finish, None]):
    """Group commit of the ledger's final states for one process (the Sender holds one)."""

    async def finish(self, final: Final, on_finish: FinishHook | None = None) -> None:
        """Record a final state with `on_finish` in the same transaction; returns once committed."""
        await self.submit(_Finish(final, on_finish))

    async def _write(self, items: list[_Finish]) -> list[None]:
        await self._commit(items)
        return [None] * len(items)

    async def _commit(self, group: list[_Finish]) -> None:
        # Each hook runs once with the statuses of all its rows: a broadcast's counters are one UPDATE per
        # commit, not one per row (each a round trip on the broadcast's row lock).
        hooks: dict[FinishHook, list[DeliveryStatus]] = {}
        for item in group:
            if item.on_finish is not None:
                hooks.setdefault(item.on_finish, []).append(item.final.status)
        async with self.session_factory.begin() as session:
            await record_final(session, [item.final for item in group])
            for hook, statuses in hooks.items():
                await hook(session, statuses)
