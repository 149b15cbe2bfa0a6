"""Results pushed to the caller: `await job.result()` wakes when the worker writes the result.

arq's `Job.result` polls Redis every `poll_delay` (0.5 s by default): half a poll of latency on average,
and a command per poll for each waiting caller. Here:

- The worker (`ResultPublishingWorker`, which `mluv.jobs.wake.WakingWorker` is) PUBLISHes the job's id
  and the stored result (as arq stores it; none when the result is not kept) on the results channel
  `mluv:done:<db>` (named through the pool's RedisNamespace, like the wake channel) inside the MULTI
  that writes the result: arq's `finish_job` when the job is done and `finish_failed_job`. A retry
  scheduled publishes nothing: the job is not done.
- Each pool (`WakingRedis`) has one `ResultWaiters`, made when a caller first waits and closed with the
  pool: one pub/sub subscription for the process, and a registry job id → the waiting callers' events.
- `PushedJob.result` (the Job that `WakingRedis.enqueue_job`, hence `DeclaredJob.enqueue`, returns)
  reads the result as arq does (GET result, ZSCORE queue, one MULTI), then waits for its job's message,
  which carries the result (no read then; a message without one: read again). It reads again too when
  the subscription is (re)confirmed (a result written before it was missed) and every `poll_delay` (1 s)
  as a safety net: a plain arq worker, a lost subscription.
- arq's semantics: a result already present is returned at once, a failed job re-raises its stored
  error (StoredJobError), no result and no job in the queue raises ResultNotFound, and `timeout` raises
  asyncio.TimeoutError after a last read at the deadline.
- Nothing polls while no one waits: an idle worker issues the same commands as before.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable, Iterator
from typing import Any

from arq import worker as arq_worker
from arq.constants import (
    abort_jobs_ss,
    in_progress_key_prefix,
    job_key_prefix,
    result_key_prefix,
    retry_key_prefix,
)
from arq.jobs import Deserializer, Job, ResultNotFound, SerializationError, deserialize_result
from arq.utils import to_ms
from redis.asyncio import Redis

from mluv.jobs.deployment import namespace_of
from mluv.logs import get_logger

log = get_logger(__name__)

RESULTS_CHANNEL_PREFIX = "mluv:done:"
SAFETY_POLL_SECONDS = 1.0  # the most a result waits when its message was missed (plain arq worker, reconnect)
RESUBSCRIBE_SECONDS = 1.0

# Called with a message's data, or None once the subscription is (re)confirmed: messages were missed.
MessageHandler = Callable[[bytes | None], None]


def db_channel(pool: Redis, prefix: str, rest: str = "") -> str:
    # Pub/sub ignores the db number: the channel names it, so other dbs' messages reach no one here.
    db = pool.connection_pool.connection_kwargs.get("db", 0)
    return namespace_of(pool).rekey(f"{prefix}{db}{rest}")


def results_channel(pool: Redis) -> str:
    return db_channel(pool, RESULTS_CHANNEL_PREFIX)


async def subscribe_forever(pool: Redis, channel: str, handle: MessageHandler, **context: Any) -> None:
    """Hand every message on `channel` to `handle`, and None once (re)subscribed; until cancelled."""
    while True:
        try:
            async with pool.pubsub() as pubsub:
                await pubsub.subscribe(channel)
                async for message in pubsub.listen():
                    if message["type"] == "message":
                        handle(message["data"])
                    elif message["type"] == "subscribe":
                        handle(None)
        except asyncio.CancelledError:
            raise
        except Exception as error:  # Redis down: the safety-net polls go on, and fail loudly
            log.warning("subscription lost", channel=channel, error=str(error), **context)
            await asyncio.sleep(RESUBSCRIBE_SECONDS)


def done_message(job_id: str, result_data: bytes | None) -> bytes:
    """`<length of the id>:<id><stored result>`: ids are free text, results arq's bytes."""
    raw_id = job_id.encode()
    return b"%d:%s%s" % (len(raw_id), raw_id, result_data or b"")


def parse_done_message(data: bytes) -> tuple[str, bytes | None]:
    length, _, rest = data.partition(b":")
    size = int(length)
    return rest[:size].decode(), rest[size:] or None


class Waiter:
    """A caller waiting for a job: woken by its message (which may carry the stored result)."""

    __slots__ = ("event", "result_data")

    def __init__(self) -> None:
        self.event = asyncio.Event()
        self.result_data: bytes | None = None


class ResultWaiters:
    """One pool's subscription to the results channel, shared by every caller waiting for a result."""

    def __init__(self, pool: Redis) -> None:
        self.pool = pool
        self.channel = results_channel(pool)
        self.waiting: dict[str, set[Waiter]] = {}
        self._listener: asyncio.Task[None] | None = None
        self._closed = False

    @contextlib.contextmanager
    def watch(self, job_id: str) -> Iterator[Waiter]:
        """Woken when `job_id`'s result may have been written (its message, or a resubscription)."""
        if not self._closed and (self._listener is None or self._listener.done()):
            self._listener = asyncio.create_task(
                subscribe_forever(self.pool, self.channel, self._dispatch, what="results"),
                name="mluv-results",
            )
        waiter = Waiter()
        self.waiting.setdefault(job_id, set()).add(waiter)
        try:
            yield waiter
        finally:
            waiters = self.waiting[job_id]
            waiters.discard(waiter)
            if not waiters:
                del self.waiting[job_id]

    def _dispatch(self, data: bytes | None) -> None:
        if data is None:
            for waiters in self.waiting.values():
                for waiter in waiters:
                    waiter.event.set()
            return
        job_id, result_data = parse_done_message(data)
        for waiter in self.waiting.get(job_id, ()):
            waiter.result_data = result_data
            waiter.event.set()

    async def aclose(self) -> None:
        """Unsubscribe (its connection goes back to the pool); callers still waiting fall back to polls."""
        self._closed = True
        listener, self._listener = self._listener, None
        if listener is not None:
            listener.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await listener


class PushedJob(Job):
    """arq's Job whose `result()` is woken by the worker's publish; see the module docstring."""

    __slots__ = ("_waiters",)

    def __init__(
        self,
        job_id: str,
        redis: Redis,
        waiters: Callable[[], ResultWaiters],
        *,
        queue_name: str,
        deserializer: Deserializer | None,
    ) -> None:
        super().__init__(job_id, redis, _queue_name=queue_name, _deserializer=deserializer)
        self._waiters = waiters

    async def result(
        self,
        timeout: float | None = None,  # noqa: ASYNC109 (arq's signature)
        *,
        poll_delay: float = SAFETY_POLL_SECONDS,
        pole_delay: float | None = None,
    ) -> Any:
        """arq's `Job.result`, woken by the worker; `poll_delay` only spaces the safety-net reads."""
        if pole_delay is not None:  # arq's deprecated spelling: its own polling, and its warning
            return await super().result(timeout, pole_delay=pole_delay)
        loop = asyncio.get_running_loop()
        deadline = None if timeout is None else loop.time() + timeout
        with self._waiters().watch(self.job_id) as waiter:
            while True:
                waiter.event.clear()  # before the read: a message arriving during it wakes the next wait
                done, value = await self._read()
                if done:
                    return value
                wait = poll_delay
                if deadline is not None:
                    remaining = deadline - loop.time()
                    if remaining <= 0:
                        raise TimeoutError()
                    wait = min(wait, remaining)
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(wait):
                        await waiter.event.wait()
                if waiter.result_data is not None:  # pushed with the result: no read
                    return self._outcome(waiter.result_data)

    async def _read(self) -> tuple[bool, Any]:
        """One of arq's polls: (True, result), a raised failure or ResultNotFound, or (False, None)."""
        async with self._redis.pipeline(transaction=True) as tr:
            tr.get(result_key_prefix + self.job_id)
            tr.zscore(self._queue_name, self.job_id)
            raw, score = await tr.execute()
        if raw:
            return True, self._outcome(raw)
        if score is None:
            raise ResultNotFound(
                "Not waiting for job result because the job is not in queue. "
                "Is the worker function configured to keep result?"
            )
        return False, None

    def _outcome(self, result_data: bytes) -> Any:
        """arq's reading of a stored result: the value, or the job's failure raised."""
        info = deserialize_result(result_data, deserializer=self._deserializer)
        if info.success:
            return info.result
        if isinstance(info.result, Exception | asyncio.CancelledError):
            raise info.result
        raise SerializationError(info.result)


class ResultPublishingWorker(arq_worker.Worker):
    """arq's Worker whose finishing transactions also PUBLISH the job id on the results channel."""

    _results_channel: str | None = None

    def results_channel(self) -> str:
        if self._results_channel is None:
            self._results_channel = results_channel(self.pool)
        return self._results_channel

    async def finish_job(
        self,
        job_id: str,
        finish: bool,
        result_data: bytes | None,
        result_timeout_s: float | None,
        keep_result_forever: bool,
        incr_score: int | None,
        keep_in_progress: float | None,
    ) -> None:
        # arq 0.28's finish_job, plus the PUBLISH when the job is done: in its MULTI, after the result.
        async with self.pool.pipeline(transaction=True) as tr:
            delete_keys = []
            in_progress_key = in_progress_key_prefix + job_id
            if keep_in_progress is None:
                delete_keys += [in_progress_key]
            else:
                tr.pexpire(in_progress_key, to_ms(keep_in_progress))
            if finish:
                if result_data:  # arq writes no result for b"" either: the message carries none then
                    expire = None if keep_result_forever else result_timeout_s
                    tr.set(result_key_prefix + job_id, result_data, px=to_ms(expire))
                delete_keys += [retry_key_prefix + job_id, job_key_prefix + job_id]
                tr.zrem(abort_jobs_ss, job_id)
                tr.zrem(self.queue_name, job_id)
            elif incr_score:
                tr.zincrby(self.queue_name, incr_score, job_id)
            if delete_keys:
                tr.delete(*delete_keys)
            if finish:
                tr.publish(self.results_channel(), done_message(job_id, result_data))
            await tr.execute()

    async def finish_failed_job(self, job_id: str, result_data: bytes | None) -> None:
        # arq 0.28's finish_failed_job (a job given up before or while running), plus the PUBLISH.
        async with self.pool.pipeline(transaction=True) as tr:
            tr.delete(retry_key_prefix + job_id, in_progress_key_prefix + job_id, job_key_prefix + job_id)
            tr.zrem(abort_jobs_ss, job_id)
            tr.zrem(self.queue_name, job_id)
            keep_result = self.keep_result_forever or self.keep_result_s > 0
            if result_data is not None and keep_result:
                expire = 0 if self.keep_result_forever else self.keep_result_s
                tr.set(result_key_prefix + job_id, result_data, px=to_ms(expire))
            else:
                result_data = None  # not stored: a waiter reads arq's ResultNotFound
            tr.publish(self.results_channel(), done_message(job_id, result_data))
            await tr.execute()
