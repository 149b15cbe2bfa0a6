"""Per-request data, loaded once and shared by the sections of one response, and what a section is given.

A source that fails (a hung PostgreSQL or Redis) fails every section that needs it at once, after one
timeout, and only those: the page still shows the others.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from redis.asyncio import Redis

from mluv.db.models import Broadcast, FailureStatus, JobFailure
from mluv.jobs import arq_state
from mluv.jobs.counters import JobStats, read_job_stats
from mluv.resources import Resources
from mluv.telegram import broadcasts
from mluv.web.sources import dead_letters

# A hung PostgreSQL or Redis must not hang the page: its sections show an error instead.
SOURCE_TIMEOUT = 5.0


@dataclass(frozen=True)
class View:
    """What a fragment needs besides data: the CSRF token for its forms and the request's query."""

    csrf: str
    query: dict[str, str]
    path: str


@dataclass(frozen=True)
class Section:
    """A section as data: its template (templates/sections/) and what the template is given."""

    template: str
    context: dict[str, Any]


class Loader:
    def __init__(self, resources: Resources) -> None:
        self.resources = resources
        self._memo: dict[str, Any] = {}

    async def _once(self, key: str, make: Callable[[], Awaitable[Any]]) -> Any:
        if key not in self._memo:
            try:
                async with asyncio.timeout(SOURCE_TIMEOUT):
                    self._memo[key] = await make()
            except Exception as error:
                # A source that failed fails every section of this response at once, not after a wait each.
                self._memo[key] = error
        value = self._memo[key]
        if isinstance(value, Exception):
            raise value
        return value

    @property
    def redis(self) -> Redis:
        return self.resources.pool

    async def states(self) -> list[arq_state.QueueState]:
        async def make() -> list[arq_state.QueueState]:
            # The workers' presence tells a running job from a cron's kept in-progress key.
            return await arq_state.queue_states(self.redis, (await self.workers()).workers)

        result: list[arq_state.QueueState] = await self._once("states", make)
        return result

    async def workers(self) -> arq_state.WorkersView:
        result: arq_state.WorkersView = await self._once(
            "workers", lambda: arq_state.workers_view(self.redis)
        )
        return result

    async def jobs(self) -> arq_state.JobsSnapshot:
        async def make() -> arq_state.JobsSnapshot:
            return await arq_state.jobs_snapshot(
                self.redis, await self.states(), (await self.workers()).workers
            )

        result: arq_state.JobsSnapshot = await self._once("jobs", make)
        return result

    async def failures(
        self, status: FailureStatus | None, limit: int
    ) -> tuple[list[JobFailure], dict[str, int]]:
        key = f"failures:{status}:{limit}"
        result: tuple[list[JobFailure], dict[str, int]] = await self._once(
            key, lambda: dead_letters.failures(self.resources.session_factory, status=status, limit=limit)
        )
        return result

    async def broadcasts(self) -> list[Broadcast]:
        result: list[Broadcast] = await self._once(
            "broadcasts", lambda: broadcasts.recent(self.resources.session_factory)
        )
        return result

    async def stats(self) -> list[JobStats]:
        result: list[JobStats] = await self._once("stats", lambda: read_job_stats(self.redis))
        return result
