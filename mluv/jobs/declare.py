"""Declared jobs: typed, validated arguments, a retry policy, a queue and (optionally) a deterministic id.

    @job(queue=Queue.FAST, retry=RetryPolicy(max_tries=5), job_id="reminder:{day}:{user_id}")
    async def send_streak_reminder(ctx: JobContext, user_id: int, day: date) -> str: ...

    await send_streak_reminder.enqueue(user_id=42, day=date.today())   # validated before Redis

Arguments are validated (strictly) by a pydantic model built from the signature when enqueued, and again
when the worker runs the job. The worker side wraps the function: structlog context (job id, name, try,
user id), an inner timeout, the retry policy (arq's `Retry(defer=...)`), per-job metrics and, after the
last try, a dead-letter row in job_failures.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import inspect
import time
import traceback
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Concatenate, Generic, ParamSpec, TypeVar, get_type_hints

import structlog
from arq import Retry
from arq.connections import ArqRedis
from arq.jobs import Job
from arq.worker import Function
from arq.worker import func as arq_func
from pydantic import BaseModel, ConfigDict, ValidationError, create_model

from mluv.jobs.metrics import JobMetrics, Outcome
from mluv.jobs.queues import Queue
from mluv.jobs.retry import NO_RETRY, RetryPolicy
from mluv.logs import get_logger, redact

if TYPE_CHECKING:
    from mluv.resources import Resources

P = ParamSpec("P")
R = TypeVar("R")

log = get_logger("mluv.jobs")

# Extra arq tries beyond the policy's, so a job whose worker crashed (SIGKILL, OOM) is re-run even on its
# last try: arq counts a crash re-run as a try and refuses to start a job past max_tries.
CRASH_ALLOWANCE = 2
# arq's own timeout is a safety net; ours fires first so the policy and the dead letter see the timeout.
ARQ_TIMEOUT_MARGIN = 5.0

# Keys of arq's ctx that the jobs framework fills in the worker's on_startup.
CTX_RESOURCES = "mluv_resources"
CTX_METRICS = "mluv_metrics"


def arq_max_tries(policy: RetryPolicy) -> int:
    """arq's max_tries for a policy: its tries, the crash allowance, and one last try that only writes the
    dead letter (arq gives a job up past max_tries without calling any hook, so a plain `arq` worker would
    drop a job whose tries crashes used up without a trace; mluv.jobs.wake reports the rest)."""
    return policy.max_tries + CRASH_ALLOWANCE + 1


class WorkerDied(RuntimeError):
    """A job's tries were used up by its worker stopping mid-run (crash, OOM, kill, deploy), not by errors."""


class InvalidJobArguments(ValueError):
    """Raised at the call site when a job is enqueued with wrong or missing arguments."""


@dataclass(frozen=True)
class JobContext:
    """What a running job gets: the process's shared resources and this run's identity."""

    resources: Resources
    job_id: str
    job_name: str
    job_try: int
    queue: Queue
    enqueue_time: dt.datetime | None
    raw: dict[str, Any]

    @property
    def redis(self) -> ArqRedis:
        redis: ArqRedis = self.raw["redis"]
        return redis


# --- the process-wide pool used by `enqueue` (set by Resources) -------------------------------------

_pool: ArqRedis | None = None


def bind_pool(pool: ArqRedis | None) -> None:
    """Make `pool` the one `DeclaredJob.enqueue` uses in this process (Resources does this)."""
    global _pool
    _pool = pool


def current_pool() -> ArqRedis:
    if _pool is None:
        raise RuntimeError("no arq pool is bound: create mluv.resources.Resources first")
    return _pool


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


# --- running a job inside the worker (shared by jobs and cron jobs) -------------------------------------


def context_from_arq(ctx: dict[str, Any], name: str, queue: Queue) -> JobContext:
    return JobContext(
        resources=ctx[CTX_RESOURCES],
        job_id=str(ctx.get("job_id", "")),
        job_name=name,
        job_try=int(ctx.get("job_try", 1)),
        queue=queue,
        enqueue_time=ctx.get("enqueue_time"),
        raw=ctx,
    )


async def execute(
    ctx: dict[str, Any],
    *,
    name: str,
    queue: Queue,
    policy: RetryPolicy,
    time_limit: float,
    arguments: dict[str, Any] | BaseModel,
    call: Callable[[JobContext], Awaitable[Any]],
    on_final_failure: Callable[[JobContext, BaseException], Awaitable[None]] | None = None,
) -> Any:
    """Run one try of a job with logging context, timeout, retry policy, metrics and dead letters.

    `arguments` as a model is dumped to JSON only for a dead letter, not on every run.
    """
    job_ctx = context_from_arq(ctx, name, queue)
    metrics: JobMetrics | None = ctx.get(CTX_METRICS)
    # A model's __dict__ holds its fields; getattr on a missing one raises inside pydantic (slow).
    user_id = (arguments.__dict__ if isinstance(arguments, BaseModel) else arguments).get("user_id")
    started = time.perf_counter()
    with structlog.contextvars.bound_contextvars(
        job_id=job_ctx.job_id,
        job_name=name,
        job_try=job_ctx.job_try,
        **({"user_id": user_id} if user_id is not None else {}),
    ):
        try:
            if job_ctx.job_try >= arq_max_tries(policy):
                raise WorkerDied(
                    f"not run again: {job_ctx.job_try - 1} tries started, and the last ones ended with their "
                    "worker stopping mid-run (a crash, OOM kill or deploy)"
                )
            async with asyncio.timeout(time_limit):
                result = await call(job_ctx)
        except Exception as error:
            duration = time.perf_counter() - started
            decision = policy.decide(error, job_ctx.job_try)
            if decision.retry:
                if metrics:
                    metrics.record(name, Outcome.RETRIED, duration)
                log.warning(
                    "job will retry",
                    error=f"{type(error).__name__}: {error}",
                    retry_in=decision.defer,
                    reason=decision.reason,
                )
                raise Retry(defer=decision.defer) from error
            if metrics:
                metrics.record(name, Outcome.FAILED, duration)
            log.error("job failed", reason=decision.reason, duration=round(duration, 4), exc_info=error)
            stored = arguments.model_dump(mode="json") if isinstance(arguments, BaseModel) else arguments
            await record_dead_letter(job_ctx, stored, error)
            if on_final_failure is not None:
                await on_final_failure(job_ctx, error)
            raise
        duration = time.perf_counter() - started
        if metrics:
            metrics.record(name, Outcome.SUCCEEDED, duration)
        log.info("job done", duration=round(duration, 4))
        return result.model_dump(mode="json") if isinstance(result, BaseModel) else result


async def record_dead_letter(job_ctx: JobContext, arguments: dict[str, Any], error: BaseException) -> None:
    """Store the failed job in job_failures; never let a database problem hide the job's own error."""
    from mluv.jobs.failures import insert_failure

    try:
        await insert_failure(
            job_ctx.resources.session_factory,
            job_id=job_ctx.job_id,
            job_name=job_ctx.job_name,
            queue=job_ctx.queue,
            arguments=arguments,
            error=redact(f"{type(error).__name__}: {error}"),
            traceback_text=redact("".join(traceback.format_exception(error))),
            tries=job_ctx.job_try,
        )
    except Exception as db_error:
        log.error("could not record the failed job in job_failures", error=str(db_error))


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
        fn: Callable[Concatenate[JobContext, P], Awaitable[R]],
        *,
        name: str | None = None,
        queue: Queue = Queue.FAST,
        retry: RetryPolicy = NO_RETRY,
        timeout: float | None = None,
        job_id: str | Callable[[BaseModel], str] | None = None,
        keep_result: float | None = None,
    ) -> None:
        if not inspect.iscoroutinefunction(fn):
            raise TypeError(f"{fn!r} is not an async function")
        self.fn = fn
        # Typed once here: a cast(Callable[...], ...) in run() builds the generic alias on every job.
        self._call: Callable[..., Awaitable[Any]] = fn
        self.name = name or fn.__name__
        self.queue = queue
        self.retry = retry
        self.timeout = timeout
        self.job_id_template = job_id
        self.keep_result = keep_result
        self.args_model, self.signature = _arguments_model(fn, self.name)
        self.__doc__ = fn.__doc__

    def __repr__(self) -> str:
        return f"<job {self.name} queue={self.queue.label} tries={self.retry.max_tries}>"

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
        pool: ArqRedis | None = None,
    ) -> BoundEnqueue[P]:
        """Enqueue with per-call options: `await job.options(defer_by=60).enqueue(user_id=1)`."""
        return BoundEnqueue(
            self, job_id=job_id, defer_by=defer_by, defer_until=defer_until, expires=expires, pool=pool
        )

    async def enqueue(self, *args: P.args, **kwargs: P.kwargs) -> Job | None:
        """Validate and enqueue; None when a job with the same deterministic id already exists."""
        return await BoundEnqueue(self).enqueue(*args, **kwargs)

    async def enqueue_values(self, values: BaseModel, **options: Any) -> Job | None:
        bound: BoundEnqueue[P] = BoundEnqueue(self, **options)
        return await bound.enqueue_model(values)

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
        )

    def timeout_for(self, ctx: dict[str, Any]) -> float:
        if self.timeout is not None:
            return self.timeout
        settings = ctx[CTX_RESOURCES].settings
        return float(settings.fast_job_timeout if self.queue is Queue.FAST else settings.long_job_timeout)

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
        pool: ArqRedis | None = None,
    ) -> None:
        if defer_by is not None and defer_until is not None:
            raise InvalidJobArguments(f"{declared.name}: use defer_by or defer_until, not both")
        if defer_until is not None and defer_until.tzinfo is None:
            raise InvalidJobArguments(f"{declared.name}: defer_until must be timezone-aware (UTC)")
        self.declared = declared
        self.job_id = job_id
        self.defer_by = defer_by
        self.defer_until = defer_until
        self.expires = expires
        self.pool = pool

    async def enqueue(self, *args: P.args, **kwargs: P.kwargs) -> Job | None:
        return await self.enqueue_model(self.declared.validate(*args, **kwargs))

    async def enqueue_model(self, values: BaseModel) -> Job | None:
        declared = self.declared
        pool = self.pool or current_pool()
        return await pool.enqueue_job(
            declared.name,
            _job_id=self.job_id or declared.job_id_for(values),
            _queue_name=declared.queue.value,
            _defer_by=self.defer_by,
            _defer_until=self.defer_until,
            _expires=self.expires,
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
) -> Callable[[Callable[Concatenate[JobContext, P], Awaitable[R]]], DeclaredJob[P, R]]:
    """Declare a job and register it; see the module docstring."""

    def decorate(fn: Callable[Concatenate[JobContext, P], Awaitable[R]]) -> DeclaredJob[P, R]:
        declared = DeclaredJob(
            fn, name=name, queue=queue, retry=retry, timeout=timeout, job_id=job_id, keep_result=keep_result
        )
        registry.add_job(declared)
        return declared

    return decorate
