"""Declared jobs: typed, validated arguments, a retry policy, a queue and (optionally) a deterministic id.

    @job(queue=Queue.FAST, retry=RetryPolicy(max_tries=5), job_id="reminder:{day}:{user_id}")
    async def send_streak_reminder(ctx: JobContext, user_id: int, day: date) -> str: ...

    await send_streak_reminder.enqueue(pool, user_id=42, day=date.today())   # validated before Redis

The pool is always passed (a handler's `pool` parameter, `ctx.redis` in a job, `Resources.pool` in the
web): there is no process-global pool. Jobs are reached by importing them; the registry (by name) serves
only what arrives as a name: a dead letter's retry, arq's function table, the dashboard.

A job that may be delayed (deferred, or queued while no worker runs) states what happens when it is late:
`must_run=True` (a delivery promised to someone: sent however late) or `stale_after=` (skipped, with a
logged reason and the result `{"skipped": "stale"}`, when it starts that long after it was due). Either
way its arq key is kept POLICY_KEEP past its due time instead of arq's day, so an outage longer than a
day no longer drops it unseen; docs/jobs.md lists each job's policy.

Arguments are validated (strictly) by a pydantic model built from the signature when enqueued, and again
when the worker runs the job. The worker side (mluv.jobs.run) wraps the function: structlog context (job
id, name, try, user id), an inner timeout, the retry policy (arq's `Retry(defer=...)`), per-job metrics
and, after the last try, a dead-letter row in job_failures.
"""

from __future__ import annotations

import datetime as dt
import inspect
from collections.abc import Awaitable, Callable
from typing import Any, Concatenate, Generic, ParamSpec, TypeVar, get_type_hints

from arq.connections import ArqRedis
from arq.jobs import Job
from arq.worker import Function
from arq.worker import func as arq_func
from pydantic import BaseModel, ConfigDict, ValidationError, create_model

from mluv.jobs.queues import Queue
from mluv.jobs.retry import NO_RETRY, RetryPolicy
from mluv.jobs.run import ARQ_TIMEOUT_MARGIN, JobContext, arq_max_tries, execute, resources_of

P = ParamSpec("P")
R = TypeVar("R")

# How long a job with an expiry policy stays in Redis past its due time: longer than any outage we plan
# for; arq's default (a day) dropped a deferred message unseen when the workers were down longer.
POLICY_KEEP = dt.timedelta(days=7)


def _seconds(value: float | dt.timedelta | None) -> float | None:
    return value.total_seconds() if isinstance(value, dt.timedelta) else value


def _duration(seconds: float) -> str:
    for unit, size in (("h", 3600), ("min", 60)):
        if seconds >= size and seconds % size == 0:
            return f"{seconds / size:g} {unit}"
    return f"{seconds:g} s"


class InvalidJobArguments(ValueError):
    """Raised at the call site when a job is enqueued with wrong or missing arguments."""


# --- the registry ---------------------------------------------------------------------------------------


class JobRegistry:
    """Every declared job and cron job by name (names are arq function names: unique)."""

    def __init__(self) -> None:
        self.jobs: dict[str, DeclaredJob[Any, Any]] = {}
        self.crons: dict[str, Any] = {}  # name -> mluv.jobs.cron.CronJobSpec

    def add_job(self, declared: DeclaredJob[Any, Any]) -> None:
        self._check_free(declared.name)
        self.jobs[declared.name] = declared

    def add_cron(self, name: str, spec: Any) -> None:
        self._check_free(name)
        self.crons[name] = spec

    def _check_free(self, name: str) -> None:
        if name in self.jobs or name in self.crons:
            raise ValueError(f"a job named {name!r} is already declared")

    def get(self, name: str) -> DeclaredJob[Any, Any]:
        try:
            return self.jobs[name]
        except KeyError:
            raise KeyError(f"no job named {name!r}; known: {', '.join(sorted(self.jobs))}") from None

    def for_queue(self, queue: Queue) -> list[DeclaredJob[Any, Any]]:
        return [job for job in self.jobs.values() if job.queue is queue]


registry = JobRegistry()


# --- declared jobs ----------------------------------------------------------------------------------------


def _arguments_model(fn: Callable[..., Any], name: str) -> tuple[type[BaseModel], inspect.Signature]:
    signature = inspect.signature(fn)
    params = list(signature.parameters.values())
    if not params:
        raise TypeError(f"job {name}: the first parameter must be the JobContext")
    hints = get_type_hints(fn, include_extras=True)
    fields: dict[str, Any] = {}
    for param in params[1:]:
        if param.kind in (param.VAR_POSITIONAL, param.VAR_KEYWORD):
            raise TypeError(f"job {name}: *args/**kwargs are not allowed; declare each argument")
        # arq's enqueue_job(function, *args, _job_id=..., **kwargs) takes these names itself.
        if param.name.startswith("_") or param.name == "function":
            raise TypeError(f"job {name}: argument {param.name!r} clashes with arq's enqueue_job parameters")
        if param.name not in hints:
            raise TypeError(f"job {name}: argument {param.name!r} needs a type annotation")
        default = ... if param.default is param.empty else param.default
        fields[param.name] = (hints[param.name], default)
    model = create_model(f"{name}_arguments", __config__=ConfigDict(extra="forbid", frozen=True), **fields)
    return model, signature.replace(parameters=params[1:])


class DeclaredJob(Generic[P, R]):
    """A job function plus everything needed to enqueue it safely and run it in a worker."""

    def __init__(
        self,
        fn: Callable[Concatenate[JobContext[Any], P], Awaitable[R]],
        *,
        name: str | None = None,
        queue: Queue = Queue.FAST,
        retry: RetryPolicy = NO_RETRY,
        timeout: float | None = None,
        job_id: str | Callable[[BaseModel], str] | None = None,
        keep_result: float | None = None,
        defer_by: float | dt.timedelta | None = None,
        must_run: bool = False,
        stale_after: float | dt.timedelta | None = None,
        manual: bool = False,
    ) -> None:
        if not inspect.iscoroutinefunction(fn):
            raise TypeError(f"{fn!r} is not an async function")
        if must_run and stale_after is not None:
            raise TypeError(f"job {name or fn.__name__}: must_run and stale_after contradict each other")
        if stale_after is not None and (_seconds(stale_after) or 0) <= 0:
            raise TypeError(f"job {name or fn.__name__}: stale_after must be positive")
        self.fn = fn
        # Typed once here: a cast(Callable[...], ...) in run() builds the generic alias on every job.
        self._call: Callable[..., Awaitable[Any]] = fn
        self.name = name or fn.__name__
        self.queue = queue
        self.retry = retry
        self.timeout = timeout
        self.job_id_template = job_id
        self.keep_result = keep_result
        # Declared delay: each enqueue is due this long after it unless options() says otherwise.
        self.defer_by = defer_by
        # The expiry policy (module docstring): None and False = arq's own expiry, a day past the due time.
        self.must_run = must_run
        self.stale_after = _seconds(stale_after)
        # Safe for an operator to enqueue by hand from the dashboard's form (idempotent or harmless).
        self.manual = manual
        self.args_model, self.signature = _arguments_model(fn, self.name)
        self.__doc__ = fn.__doc__

    def __repr__(self) -> str:
        return f"<job {self.name} queue={self.queue.label} tries={self.retry.max_tries}>"

    @property
    def expiry_policy(self) -> str:
        """The policy in words, as docs/jobs.md states it."""
        if self.must_run:
            return "must run"
        if self.stale_after is not None:
            return f"stale after {_duration(self.stale_after)}"
        return "arq's expiry"

    @property
    def has_expiry_policy(self) -> bool:
        return self.must_run or self.stale_after is not None

    # enqueue side

    def validate(self, *args: Any, **kwargs: Any) -> BaseModel:
        """Bind and validate arguments exactly as `enqueue` does; raises InvalidJobArguments."""
        try:
            bound = self.signature.bind(*args, **kwargs)
        except TypeError as error:
            raise InvalidJobArguments(f"{self.name}: {error}") from None
        try:
            return self.args_model.model_validate(dict(bound.arguments), strict=True)
        except ValidationError as error:
            details = "; ".join(
                f"{'.'.join(str(p) for p in item['loc'])}: {item['msg']}" for item in error.errors()
            )
            raise InvalidJobArguments(f"{self.name}: {details}") from None

    def job_id_for(self, values: BaseModel) -> str | None:
        template = self.job_id_template
        if template is None:
            return None
        if callable(template):
            return template(values)
        return template.format(**dict(values))

    def options(
        self,
        *,
        job_id: str | None = None,
        defer_by: float | dt.timedelta | None = None,
        defer_until: dt.datetime | None = None,
        expires: float | dt.timedelta | None = None,
    ) -> BoundEnqueue[P]:
        """Enqueue with per-call options: `await job.options(defer_by=60).enqueue(pool, user_id=1)`."""
        return BoundEnqueue(self, job_id=job_id, defer_by=defer_by, defer_until=defer_until, expires=expires)

    async def enqueue(self, pool: ArqRedis, /, *args: P.args, **kwargs: P.kwargs) -> Job | None:
        """Validate and enqueue on `pool`; None when a job with the same deterministic id already exists."""
        return await BoundEnqueue(self).enqueue(pool, *args, **kwargs)

    async def enqueue_values(self, pool: ArqRedis, values: BaseModel, **options: Any) -> Job | None:
        bound: BoundEnqueue[P] = BoundEnqueue(self, **options)
        return await bound.enqueue_model(pool, values)

    # worker side

    async def run(self, ctx: dict[str, Any], *args: Any, **kwargs: Any) -> Any:
        """The coroutine arq calls: ctx, then the serialized keyword arguments."""
        raw = dict(self.signature.bind(*args, **kwargs).arguments) if args else kwargs
        # Lax on this side: msgpack hands back plain values (tuples as lists, enums as values).
        values = self.args_model.model_validate(raw)
        arguments = values.__dict__  # the fields (extra="forbid"); dict(values) iterates the model
        return await execute(
            ctx,
            name=self.name,
            queue=self.queue,
            policy=self.retry,
            time_limit=self.timeout_for(ctx),
            arguments=values,
            call=lambda job_ctx: self._call(job_ctx, **arguments),
            stale_after=self.stale_after,
        )

    def timeout_for(self, ctx: dict[str, Any]) -> float:
        if self.timeout is not None:
            return self.timeout
        return self.queue.default_timeout(resources_of(ctx).settings)

    def arq_function(self, default_timeout: float) -> Function:
        timeout = self.timeout if self.timeout is not None else default_timeout
        return arq_func(
            self.run,
            name=self.name,
            timeout=timeout + ARQ_TIMEOUT_MARGIN,
            max_tries=arq_max_tries(self.retry),
            keep_result=self.keep_result,
        )


class BoundEnqueue(Generic[P]):
    def __init__(
        self,
        declared: DeclaredJob[P, Any],
        *,
        job_id: str | None = None,
        defer_by: float | dt.timedelta | None = None,
        defer_until: dt.datetime | None = None,
        expires: float | dt.timedelta | None = None,
    ) -> None:
        if defer_by is not None and defer_until is not None:
            raise InvalidJobArguments(f"{declared.name}: use defer_by or defer_until, not both")
        if defer_until is not None and defer_until.tzinfo is None:
            raise InvalidJobArguments(f"{declared.name}: defer_until must be timezone-aware (UTC)")
        self.declared = declared
        self.job_id = job_id
        self.defer_by = declared.defer_by if defer_by is None and defer_until is None else defer_by
        self.defer_until = defer_until
        self.expires = expires

    def expires_for(self) -> float | dt.timedelta | None:
        """The arq key's lifetime: the caller's, else POLICY_KEEP past the due time (a job with a policy)."""
        if self.expires is not None or not self.declared.has_expiry_policy:
            return self.expires
        if self.defer_until is not None:
            delay = (self.defer_until - dt.datetime.now(dt.UTC)).total_seconds()
        else:
            delay = _seconds(self.defer_by) or 0.0
        return POLICY_KEEP.total_seconds() + max(delay, 0.0)

    async def enqueue(self, pool: ArqRedis, /, *args: P.args, **kwargs: P.kwargs) -> Job | None:
        return await self.enqueue_model(pool, self.declared.validate(*args, **kwargs))

    async def enqueue_model(self, pool: ArqRedis, values: BaseModel) -> Job | None:
        declared = self.declared
        return await pool.enqueue_job(
            declared.name,
            _job_id=self.job_id or declared.job_id_for(values),
            _queue_name=declared.queue.value,
            _defer_by=self.defer_by,
            _defer_until=self.defer_until,
            _expires=self.expires_for(),
            **values.model_dump(mode="python"),
        )


def job(
    *,
    name: str | None = None,
    queue: Queue = Queue.FAST,
    retry: RetryPolicy = NO_RETRY,
    timeout: float | None = None,
    job_id: str | Callable[[BaseModel], str] | None = None,
    keep_result: float | None = None,
    defer_by: float | dt.timedelta | None = None,
    must_run: bool = False,
    stale_after: float | dt.timedelta | None = None,
    manual: bool = False,
) -> Callable[[Callable[Concatenate[JobContext[Any], P], Awaitable[R]]], DeclaredJob[P, R]]:
    """Declare a job and register it; see the module docstring."""

    def decorate(fn: Callable[Concatenate[JobContext[Any], P], Awaitable[R]]) -> DeclaredJob[P, R]:
        declared = DeclaredJob(
            fn,
            name=name,
            queue=queue,
            retry=retry,
            timeout=timeout,
            job_id=job_id,
            keep_result=keep_result,
            defer_by=defer_by,
            must_run=must_run,
            stale_after=stale_after,
            manual=manual,
        )
        registry.add_job(declared)
        return declared

    return decorate
