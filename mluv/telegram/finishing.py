"""Final states of deliveries written in groups: one transaction for every send that finished meanwhile.

A send's answer is recorded with its FinishHook (a broadcast's counters) in one transaction (the ledger's
`finish`). At hundreds of sends a second each of those transactions took the broadcast's row lock and
waited for its own WAL flush, so the finishes queued one behind another on that row (bench/broadcast.py
--paid: ~210/s at most on this machine). `Finisher.finish` instead queues the row and awaits the
transaction that records it: while one transaction runs, the finishes that arrive queue for the next, so
a quiet process still writes each at once and a busy one writes many per commit. Each row's final state
and its hook still commit together (counters stay exact); a failed transaction fails every send it held,
whose rows stay `sending` and end `unknown`, as after a crash.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from mluv.telegram.ledger import Final, FinishHook, record_final

MAX_GROUP = 200  # rows per transaction: bounds a transaction's length and its row locks


@dataclass(frozen=True)
class _Finish:
    final: Final
    on_finish: FinishHook | None
    done: asyncio.Future[None]


class Finisher:
    """Group commit of the ledger's final states for one process (the Sender holds one)."""

    def __init__(self, session_factory: async_sessionmaker[AsyncSession], max_group: int = MAX_GROUP) -> None:
        self.session_factory = session_factory
        self.max_group = max_group
        self._queue: list[_Finish] = []
        self._writer: asyncio.Task[None] | None = None

    async def finish(self, final: Final, on_finish: FinishHook | None = None) -> None:
        """Record a final state with `on_finish` in the same transaction; returns once committed, raises
        what the transaction raised."""
        done = asyncio.get_running_loop().create_future()
        self._queue.append(_Finish(final, on_finish, done))
        if self._writer is None or self._writer.done():
            self._writer = asyncio.create_task(self._write())
        # Shielded: a cancelled caller (a job's timeout) must not cancel the others' transaction.
        await asyncio.shield(done)

    async def _write(self) -> None:
        while self._queue:
            group, self._queue = self._queue[: self.max_group], self._queue[self.max_group :]
            try:
                await self._commit(group)
            except asyncio.CancelledError:
                for item in group + self._queue:
                    item.done.cancel()
                raise
            except Exception as error:
                for item in group:
                    if not item.done.done():
                        item.done.set_exception(error)
            else:
                for item in group:
                    if not item.done.done():
                        item.done.set_result(None)

    async def _commit(self, group: list[_Finish]) -> None:
        async with self.session_factory.begin() as session:
            await record_final(session, [item.final for item in group])
            for item in group:
                if item.on_finish is not None:
                    await item.on_finish(session, item.final.status)
