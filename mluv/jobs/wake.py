"""Enqueue in one round trip and wake the workers, instead of workers polling Redis.

arq's `enqueue_job` takes three round trips (WATCH, EXISTS, MULTI/PSETEX/ZADD/EXEC) and its worker polls
the queue every `poll_delay`: ~11 ms of latency at 10 ms polls (and ~100 commands/s from an idle worker),
or ~0.5 s at its default. Here:

- `WakingRedis.enqueue_job` (same signature, same return) runs one Lua script that makes the same checks
  and writes the same keys as arq (`arq:job:<id>` with its expiry, the queue zset) and PUBLISHes on the
  queue's wake channel. arq workers, `arq --check` and the dashboard read those keys unchanged.
- `WakingWorker` is an arq Worker whose loop polls when woken: by a publish on its queue's channel, by a
  job of its own ending (a slot freed when the last poll left due jobs for want of one; a retry it
  scheduled; an error to re-raise), or when the earliest deferred job or cron tick falls due; else
  once per `idle_poll` seconds as a safety net (a plain-arq enqueue, a subscriber reconnecting).
  A job ending on a worker with nothing left waiting sends nothing more. Idle, it issues about one
  command per `idle_poll` plus the heartbeats. Where arq's loop exits when Redis is unreachable, this
  one logs and polls again (backing off up to 5 s).
- Its finishing transactions PUBLISH the job id, and the Job `enqueue_job` returns waits for that
  message instead of polling (mluv.jobs.results).
- A poll reads the queue and claims its due jobs in one Lua script (mluv.jobs.claim: arq's checks and
  its `arq:in-progress:<id>` keys, so arq workers on the same queue still never run a job twice, and
  arq's run_job opening transaction) instead of arq's read plus five round trips per job, and it
  reports jobs arq gives up without running them (`on_given_up`).
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
from collections.abc import Awaitable, Callable
from typing import Any, cast
from uuid import uuid4

from arq import worker as arq_worker
from arq.connections import ArqRedis, RedisSettings, create_pool
from arq.constants import abort_jobs_ss, in_progress_key_prefix, job_key_prefix, result_key_prefix
from arq.jobs import JobResult, deserialize_result, serialize_job
from arq.utils import timestamp_ms, to_ms, to_unix_ms
from redis.asyncio.client import Pipeline
from redis.commands.core import AsyncScript
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

from mluv.jobs.claim import START_SCRIPT, Opening, PrefetchedPipeline, claim_args, parse_claimed, take_opening
from mluv.jobs.deployment import RedisNamespace
from mluv.jobs.redis_pool import use_concurrent_pool
from mluv.jobs.results import PushedJob, ResultPublishingWorker, ResultWaiters, db_channel, subscribe_forever
from mluv.jobs.serializer import StoredJobError, deserialize, serialize
from mluv.logs import get_logger

log = get_logger(__name__)

WAKE_CHANNEL_PREFIX = "mluv:wake:"
IDLE_POLL_SECONDS = 2.0  # the most a job waits when its wake was missed (subscriber reconnecting)
ABORT_CHECK_SECONDS = 0.5  # while jobs run, arq's abort set is read this often (the dashboard's Abort)
RECONNECT_FIRST_SECONDS = 0.5  # Redis unreachable: poll again after this, doubling up to the max
RECONNECT_MAX_SECONDS = 5.0

# Called with the worker's ctx and the stored failure when arq gives a job up without running it.
GivenUpHook = Callable[[dict[str, Any], JobResult], Awaitable[None]]

# KEYS: job key, result key, queue zset; ARGV: expiry ms, serialized job, score, wake channel, job id.
# arq's checks and writes, atomically: no job or result under this id, then PSETEX the job and ZADD it.
ENQUEUE_SCRIPT = """
if redis.call('EXISTS', KEYS[1], KEYS[2]) > 0 then
  return 0
end
redis.call('PSETEX', KEYS[1], ARGV[1], ARGV[2])
redis.call('ZADD', KEYS[3], ARGV[3], ARGV[5])
redis.call('PUBLISH', ARGV[4], ARGV[3])
return 1
"""


def wake_channel(pool: ArqRedis, queue_name: str) -> str:
    return db_channel(pool, WAKE_CHANNEL_PREFIX, f":{queue_name}")


class WakingRedis(ArqRedis):
    """ArqRedis whose enqueue_job is one round trip (EVALSHA) and wakes the queue's workers.

    It carries the deployment's namespace (mluv.jobs.deployment): every enqueue maps its queue name and
    job id through it here, so code that enqueues names `Queue.FAST.value` and its own ids unchanged.
    """

    _enqueue_script: AsyncScript | None = None
    _result_waiters: ResultWaiters | None = None
    namespace: RedisNamespace = RedisNamespace()

    def result_waiters(self) -> ResultWaiters:
        """This pool's one subscription to the results channel, made when a caller first waits."""
        if self._result_waiters is None:
            self._result_waiters = ResultWaiters(self)
        return self._result_waiters

    def pipeline(self, transaction: bool = True, shard_hint: str | None = None) -> Pipeline:
        pipeline = super().pipeline(transaction, shard_hint)
        opening = take_opening()  # in a job's task that a claim opened: arq's run_job opening
        if opening is not None:
            pipeline.__class__ = PrefetchedPipeline
            cast(PrefetchedPipeline, pipeline).opening = opening
        return pipeline

    async def aclose(self, close_connection_pool: bool | None = None) -> None:
        if self._result_waiters is not None:
            await self._result_waiters.aclose()
        await super().aclose(close_connection_pool)

    async def enqueue_job(
        self,
        function: str,
        *args: Any,
        _job_id: str | None = None,
        _queue_name: str | None = None,
        _defer_until: dt.datetime | None = None,
        _defer_by: int | float | dt.timedelta | None = None,
        _expires: int | float | dt.timedelta | None = None,
        _job_try: int | None = None,
        **kwargs: Any,
    ) -> PushedJob | None:
        """arq's enqueue_job, same arguments and result (a Job whose result() is pushed): None if a job or
        result with this id exists."""
        queue_name = self.namespace.queue_name(_queue_name or self.default_queue_name)
        job_id = self.namespace.job_id(_job_id or uuid4().hex)
        if _defer_until and _defer_by:
            raise RuntimeError("use either 'defer_until' or 'defer_by' or neither, not both")
        enqueue_time_ms = timestamp_ms()
        defer_by_ms = to_ms(_defer_by)
        if _defer_until is not None:
            score = to_unix_ms(_defer_until)
        elif defer_by_ms:
            score = enqueue_time_ms + defer_by_ms
        else:
            score = enqueue_time_ms
        expires_ms = to_ms(_expires) or score - enqueue_time_ms + self.expires_extra_ms
        data = serialize_job(
            function, args, kwargs, _job_try, enqueue_time_ms, serializer=self.job_serializer
        )
        if self._enqueue_script is None:
            # register_script: EVALSHA, and EVAL once after a SCRIPT FLUSH or a Redis restart (NOSCRIPT).
            self._enqueue_script = self.register_script(ENQUEUE_SCRIPT)
        created = await self._enqueue_script(
            keys=[job_key_prefix + job_id, result_key_prefix + job_id, queue_name],
            args=[expires_ms, data, score, wake_channel(self, queue_name), job_id],
        )
        if not created:
            return None
        return PushedJob(
            job_id, self, self.result_waiters, queue_name=queue_name, deserializer=self.job_deserializer
        )


def as_waking(pool: ArqRedis, namespace: RedisNamespace | None = None) -> WakingRedis:
    """arq's create_pool hard-codes ArqRedis (and its sentinel variant); the subclass only adds methods.
    Its connections are handed out without redis-py's pool-wide lock (mluv.jobs.redis_pool)."""
    use_concurrent_pool(pool)
    pool.__class__ = WakingRedis
    waking = cast(WakingRedis, pool)
    if namespace is not None:
        waking.namespace = namespace
    return waking


async def create_waking_pool(
    settings: RedisSettings,
    *,
    default_queue_name: str,
    expires_extra_ms: int | None = None,
    namespace: RedisNamespace | None = None,
) -> WakingRedis:
    """A pool with the safe serializer (never pickle) whose enqueues wake the workers."""
    namespace = namespace or RedisNamespace()
    extra: dict[str, Any] = {} if expires_extra_ms is None else {"expires_extra_ms": expires_extra_ms}
    pool = await create_pool(
        settings,
        job_serializer=serialize,
        job_deserializer=deserialize,
        default_queue_name=namespace.queue_name(default_queue_name),
        **extra,
    )
    return as_waking(pool, namespace)


class WakingWorker(ResultPublishingWorker):
    """An arq Worker that polls when woken instead of every poll_delay; see the module docstring.

    Burst mode keeps arq's own loop. arq's poll_delay still sizes the cron look-ahead window.
    """

    def __init__(
        self,
        *args: Any,
        idle_poll: float = IDLE_POLL_SECONDS,
        on_given_up: GivenUpHook | None = None,
        namespace: RedisNamespace | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(*args, **kwargs)
        # Its pool's: the cron ticks it enqueues get this namespace's job ids (queue_name has it already);
        # None keeps a given pool's own.
        self.namespace = namespace
        self.idle_poll_s = idle_poll
        self.on_given_up = on_given_up
        self._start_script: AsyncScript | None = None
        self.wake = asyncio.Event()
        self.polls = 0
        self._next_due_ms: int | None = None
        self._quiet = False  # the next poll follows a sleep that nothing woke
        self._poll_owed = False  # the last poll left due jobs unclaimed for want of a free slot
        self._last_abort_check = 0.0

    async def main(self) -> None:
        if self.burst:
            return await super().main()
        if self._pool is None:
            self._pool = await create_waking_pool(
                self.redis_settings or RedisSettings(),
                default_queue_name=self.queue_name,
                expires_extra_ms=self.expires_extra_ms,
                namespace=self.namespace,
            )
        else:
            as_waking(self._pool, self.namespace)
        arq_worker.logger.info(
            "Starting worker for %d functions: %s", len(self.functions), ", ".join(self.functions)
        )
        # Looked up on arq.worker at call time: tests stub it (fakeredis has no INFO).
        await arq_worker.log_redis_info(self.pool, arq_worker.logger.info)  # type: ignore[attr-defined]
        self.ctx["redis"] = self.pool
        if self.on_startup:
            await self.on_startup(self.ctx)
        listener = asyncio.create_task(
            subscribe_forever(
                self.pool, wake_channel(self.pool, self.queue_name), self._woken, queue=self.queue_name
            ),
            name=f"mluv-wake-{self.queue_name}",
        )
        failures = 0
        try:
            while True:
                self.wake.clear()
                try:
                    more = await self._poll_iteration()
                except (RedisConnectionError, RedisTimeoutError, OSError) as error:
                    # arq's loop dies with Redis; this one waits it out (the in-process workers of mluv
                    # serve have no supervisor to restart them). Running jobs go on meanwhile.
                    delay = min(RECONNECT_FIRST_SECONDS * 2**failures, RECONNECT_MAX_SECONDS)
                    failures += 1
                    log.warning(
                        "redis unreachable, polling again",
                        queue=self.queue_name,
                        error=str(error),
                        retry_in=delay,
                        failures=failures,
                    )
                    await asyncio.sleep(delay)
                    continue
                if failures:
                    log.info("redis reachable again", queue=self.queue_name, after_failures=failures)
                    failures = 0
                self._quiet = not more and not await self._sleep()
        finally:
            listener.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await listener

    async def _poll_iteration(self) -> bool:  # type: ignore[override]
        """arq's iteration, reading due and deferred entries at once; True if more are due right now."""
        self.polls += 1
        more = False
        self._next_due_ms = None
        self._poll_owed = self.allow_pick_jobs and self.job_counter >= self.max_jobs
        if self.allow_pick_jobs and self.job_counter < self.max_jobs:
            if self._quiet:
                # A safety-net or timed poll reads first: INFO commandstats counts a script's inner
                # commands, and an idle worker's figure stays one command per poll.
                next_due, entries, due = await self._read_queue()
                started = (await self._claim(["ids", *due]))[2] if due else 0
            else:
                # Woken (an enqueue, a job ending): one round trip reads the queue and claims its due jobs.
                read: list[str | int] = ["read", self._queue_read_offset, self.queue_read_limit]
                next_due, entries, started = await self._claim(read)
            self._next_due_ms = next_due
            # A full read may hide more due jobs: read again at once, if this read made progress.
            more = entries == self.queue_read_limit and next_due is None and started > 0

        loop_time = asyncio.get_running_loop().time()
        abort_due = loop_time - self._last_abort_check >= ABORT_CHECK_SECONDS
        if self.allow_abort_jobs and self.job_tasks and abort_due:
            self._last_abort_check = loop_time
            await self._cancel_aborted_jobs()

        for job_id, task in list(self.tasks.items()):
            if task.done():
                del self.tasks[job_id]
                task.result()  # arq: errors in run_job propagate

        await self.heart_beat()
        return more

    async def start_jobs(self, job_ids: list[bytes]) -> None:
        """arq's start_jobs (same checks, same in-progress keys) for as many ids as there are free
        slots, in one round trip; a slot is counted only once its job is claimed."""
        await self._claim(["ids", *(raw.decode() for raw in job_ids)])

    async def _read_queue(self) -> tuple[int | None, int, list[str]]:
        """arq's read of the queue: (the earliest score not yet due, entries read, the due ids)."""
        entries: list[tuple[bytes, float]] = await self.pool.zrangebyscore(
            self.queue_name,
            min=float("-inf"),
            max=float("inf"),
            start=self._queue_read_offset,
            num=self.queue_read_limit,
            withscores=True,
        )
        now = timestamp_ms()
        due: list[str] = []
        for raw_id, score in entries:
            if score > now:
                return int(score), len(entries), due
            due.append(raw_id.decode())
        return None, len(entries), due

    async def _claim(self, candidates: list[str | int]) -> tuple[int | None, int, int]:
        """START_SCRIPT for free slots; starts what it claimed: (next due score, entries read, started)."""
        # arq counts a slot before its start transaction and gives it back only on a WATCH conflict, so
        # Redis dropping mid-transaction kept the slot for good (arq's loop exits there; this one goes on).
        free = max(self.max_jobs - self.job_counter, 0)
        if not free:
            return None, 0, 0
        if self._start_script is None:
            self._start_script = self.pool.register_script(START_SCRIPT)
        next_due, entries, *started = await self._start_script(
            keys=[self.queue_name, abort_jobs_ss],
            args=claim_args(int(self.in_progress_timeout_s * 1000), free, self.allow_abort_jobs, candidates),
        )
        claimed = parse_claimed(started, self.allow_abort_jobs)
        if len(claimed) == free:  # every slot taken: more may be due, read once one frees
            self._poll_owed = True
        for job_id, score, opening in claimed:
            await self.sem.acquire()  # never waits: fewer jobs than free slots were claimed
            self.job_counter += 1
            task = self.loop.create_task(self._run_claimed(job_id, score, opening))
            task.add_done_callback(self._job_ended)
            self.tasks[job_id] = task
        return (int(float(next_due)) if next_due else None), int(entries), len(claimed)

    async def _run_claimed(self, job_id: str, score: int, opening: Opening) -> None:
        """arq's run_job, its opening run by the claim already; if it fails on Redis, the claim is given
        back so that the job runs again soon."""
        try:
            opening.install()
            await self.run_job(job_id, score)
        except (RedisConnectionError, RedisTimeoutError, OSError):
            # arq leaves the in-progress key of a job whose run_job failed on Redis (e.g. a connect
            # timeout fetching it): every worker skips it until the key expires (its timeout plus
            # margin). Deleting it now means only a sooner re-run, which the expiry would bring anyway.
            with contextlib.suppress(RedisConnectionError, RedisTimeoutError, OSError):
                await self.pool.delete(in_progress_key_prefix + job_id)
            self.wake.set()
            raise  # arq's loop re-raises errors in run_job: ours logs "redis unreachable" and goes on

    async def finish_failed_job(self, job_id: str, result_data: bytes | None) -> None:
        await super().finish_failed_job(job_id, result_data)
        # arq gives a job up before running it (tries used up by crashes or deploys, expired, unknown
        # function, undecodable payload) without calling any job hook: only this sees it.
        if self.on_given_up is None or result_data is None:
            return
        try:
            result = deserialize_result(result_data, deserializer=self.job_deserializer)
            error = result.result
            aborted = isinstance(error, StoredJobError) and error.type_name == "CancelledError"
            if not aborted:  # Abort before start is the operator's own decision
                await self.on_given_up(self.ctx, result)
        except Exception as error:  # arq's job task must not fail here: the poll loop re-raises it
            log.error("could not report a job given up", job_id=job_id, error=str(error))

    def _job_ended(self, task: asyncio.Task[None]) -> None:
        self._release_sem_dec_counter_on_complete()
        # A free slot needs a poll only if the last one left due jobs for it; an error in run_job is
        # re-raised by the next poll (as arq's loop does). Else no poll: an idle worker whose job ended
        # sends nothing more (one EVALSHA less per job on the path where a caller waits for its result).
        if self._poll_owed or task.cancelled() or task.exception() is not None:
            self.wake.set()

    async def finish_job(self, job_id: str, finish: bool, *rest: Any, **named: Any) -> None:
        await super().finish_job(job_id, finish, *rest, **named)
        if not finish:  # back in the queue (a retry, deferred by arq's score): its due time must be read
            self.wake.set()

    def _sleep_seconds(self) -> float:
        seconds = self.idle_poll_s
        if self.allow_abort_jobs and self.job_tasks:
            seconds = min(seconds, ABORT_CHECK_SECONDS)
        if self._next_due_ms is not None:
            seconds = min(seconds, (self._next_due_ms - timestamp_ms()) / 1000)
        pending = [c.next_run for c in self.cron_jobs if c.next_run is not None]
        if pending:
            # run_cron enqueues a tick up to two windows ahead: wake one window before the earliest.
            window = max(self.poll_delay_s, 0.5)
            earliest = min(pending) - dt.datetime.now(tz=self.timezone)
            seconds = min(seconds, earliest.total_seconds() - window)
        return max(seconds, 0.0)

    async def _sleep(self) -> bool:
        """Until woken (True) or the sleep's end (False)."""
        # asyncio.timeout, not wait_for: 3.11's wait_for swallows a cancel arriving just as the wake is
        # set (cpython gh-86296), and the worker's task then never stops (a shutdown that hangs).
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(self._sleep_seconds()):
                await self.wake.wait()
                return True
        return False

    def _woken(self, _message: bytes | None) -> None:
        # A publish on this queue's channel, or (None) a (re)subscription: publishes meanwhile were missed.
        self.wake.set()
