"""Declared jobs: argument validation, deterministic ids, enqueueing on arq, and the worker-side wrapper."""

from __future__ import annotations

import asyncio
import datetime as dt
import os
import time
from collections.abc import AsyncIterator, Iterator
from types import SimpleNamespace
from typing import Any, cast

import msgpack
import pytest
import structlog
from aiogram.exceptions import TelegramRetryAfter
from aiogram.methods import SendMessage
from arq import Retry
from arq.connections import ArqRedis
from fakeredis.aioredis import FakeRedis
from pydantic import BaseModel

from mluv.jobs import run
from mluv.jobs.counters import Outcome
from mluv.jobs.declare import (
    DeclaredJob,
    InvalidJobArguments,
    JobRegistry,
    job,
    registry,
)
from mluv.jobs.queues import Queue
from mluv.jobs.retry import RetryableError, RetryPolicy
from mluv.jobs.run import (
    ARQ_TIMEOUT_MARGIN,
    CRASH_ALLOWANCE,
    CTX_COUNTERS,
    CTX_RESOURCES,
    JobContext,
    WorkerDied,
)
from mluv.jobs.serializer import deserialize, serialize
from mluv.logs import REDACTED
from mluv.settings import Settings, load_settings

TOKEN = "123456789:AAEhBOweik6ad9r_QXMENQjcrGbqCr4K-ms"
DAY = dt.date(2024, 5, 1)

# --- jobs used by the tests (declared with DeclaredJob, which does not register them) ---------------

calls: list[tuple[JobContext[Any], dict[str, Any]]] = []


async def t_decl_remind(ctx: JobContext[Any], user_id: int, day: dt.date, note: str = "") -> str:
    calls.append((ctx, {"user_id": user_id, "day": day, "note": note}))
    return f"{user_id}:{day.isoformat()}:{note}"


class Summary(BaseModel):
    sent: int
    at: dt.datetime


async def t_decl_summary(ctx: JobContext[Any], count: int) -> Summary:
    return Summary(sent=count, at=dt.datetime(2024, 5, 1, 8, tzinfo=dt.UTC))


async def t_decl_report(ctx: JobContext[Any], report_id: int) -> None:
    return None


REMIND = DeclaredJob(t_decl_remind, job_id="reminder:{day}:{user_id}")
REPORT = DeclaredJob(t_decl_report, queue=Queue.LONG, timeout=600, keep_result=60)


# --- fixtures ----------------------------------------------------------------------------------------------


@pytest.fixture
def settings(monkeypatch: pytest.MonkeyPatch) -> Settings:
    for variable in list(os.environ):
        if variable.lower() in Settings.model_fields:
            monkeypatch.delenv(variable)
    return load_settings(environment="test", _env_file=None)


class RecordingMetrics:
    def __init__(self) -> None:
        self.records: list[tuple[str, Outcome, float]] = []

    def record(self, name: str, outcome: Outcome, duration: float, finished_at: float | None = None) -> None:
        self.records.append((name, outcome, duration))


@pytest.fixture
def metrics() -> RecordingMetrics:
    return RecordingMetrics()


@pytest.fixture
def ctx(settings: Settings, metrics: RecordingMetrics) -> dict[str, Any]:
    """What arq (plus the worker's on_startup) hands a job."""
    return {
        CTX_RESOURCES: SimpleNamespace(settings=settings, session_factory=object()),
        CTX_COUNTERS: metrics,
        "job_id": "job-1",
        "job_try": 1,
        "enqueue_time": dt.datetime(2024, 5, 1, tzinfo=dt.UTC),
        "redis": None,
        "score": 0,
    }


@pytest.fixture
def dead_letters(monkeypatch: pytest.MonkeyPatch) -> list[dict[str, Any]]:
    """Capture mluv.jobs.failures.insert_failure (no database)."""
    captured: list[dict[str, Any]] = []

    async def insert_failure(session_factory: Any, **kwargs: Any) -> int:
        captured.append({"session_factory": session_factory, **kwargs})
        return len(captured)

    monkeypatch.setattr("mluv.jobs.run.insert_failure", insert_failure)
    return captured


@pytest.fixture
async def pool() -> AsyncIterator[ArqRedis]:
    fake = FakeRedis()
    arq_redis = ArqRedis(fake.connection_pool, job_serializer=serialize, job_deserializer=deserialize)
    try:
        yield arq_redis
    finally:
        await arq_redis.aclose()


@pytest.fixture(autouse=True)
def _reset() -> Iterator[None]:
    calls.clear()
    yield
    calls.clear()
    structlog.contextvars.clear_contextvars()


async def queued(pool: ArqRedis, queue: Queue = Queue.FAST) -> list[tuple[str, float]]:
    rows = await pool.zrange(queue.value, 0, -1, withscores=True)
    return [(member.decode(), score) for member, score in rows]


async def payload_of(pool: ArqRedis, job_id: str) -> dict[str, Any]:
    raw = await pool.get(f"arq:job:{job_id}")
    assert raw is not None
    decoded: dict[str, Any] = deserialize(raw)
    return decoded


# --- validate ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("args", "kwargs", "expected"),
    [
        pytest.param((), {"user_id": 42, "day": DAY}, {"user_id": 42, "day": DAY, "note": ""}, id="keywords"),
        pytest.param((42, DAY), {}, {"user_id": 42, "day": DAY, "note": ""}, id="positional"),
        pytest.param(
            (42,), {"day": DAY, "note": "hi"}, {"user_id": 42, "day": DAY, "note": "hi"}, id="mixed"
        ),
        pytest.param((42, DAY, "hi"), {}, {"user_id": 42, "day": DAY, "note": "hi"}, id="all-positional"),
    ],
)
def test_validate_binds_arguments(
    args: tuple[Any, ...], kwargs: dict[str, Any], expected: dict[str, Any]
) -> None:
    assert dict(REMIND.validate(*args, **kwargs)) == expected


@pytest.mark.parametrize(
    ("args", "kwargs", "fragments"),
    [
        pytest.param(
            (), {"user_id": "42", "day": DAY}, ["user_id", "valid integer"], id="str-for-int-strict"
        ),
        pytest.param((), {"user_id": 4.0, "day": DAY}, ["user_id", "valid integer"], id="float-for-int"),
        pytest.param((), {"user_id": True, "day": DAY}, ["user_id", "valid integer"], id="bool-for-int"),
        pytest.param((), {"user_id": 42, "day": "2024-05-01"}, ["day", "valid date"], id="str-for-date"),
        pytest.param(
            (),
            {"user_id": 42, "day": dt.datetime(2024, 5, 1, tzinfo=dt.UTC)},
            ["day"],
            id="datetime-for-date",
        ),
        pytest.param((), {"user_id": 42, "day": DAY, "note": 5}, ["note", "valid string"], id="int-for-str"),
        pytest.param((), {"user_id": 42}, ["missing a required argument: 'day'"], id="missing-arg"),
        pytest.param(
            (),
            {"user_id": 42, "day": DAY, "channel": "x"},
            ["unexpected keyword argument 'channel'"],
            id="unknown",
        ),
        pytest.param((42, DAY, "a", "b"), {}, ["too many positional arguments"], id="too-many-positional"),
        pytest.param(
            (42,), {"user_id": 43, "day": DAY}, ["multiple values for argument 'user_id'"], id="twice"
        ),
        pytest.param(
            (),
            {"user_id": "x", "day": "y"},
            ["user_id: Input should be", "; day: Input should be"],
            id="two-errors",
        ),
    ],
)
def test_validate_errors_name_job_and_field(
    args: tuple[Any, ...], kwargs: dict[str, Any], fragments: list[str]
) -> None:
    with pytest.raises(InvalidJobArguments) as caught:
        REMIND.validate(*args, **kwargs)
    message = str(caught.value)
    assert message.startswith("t_decl_remind: ")
    for fragment in fragments:
        assert fragment in message


def test_validated_values_are_frozen() -> None:
    values = REMIND.validate(user_id=1, day=DAY)
    with pytest.raises(ValueError, match="frozen"):
        values.user_id = 2  # type: ignore[attr-defined]


# --- declaration errors ----------------------------------------------------------------------------------


async def _no_params() -> None:
    return None


async def _star_args(ctx: JobContext[Any], *user_ids: int) -> None:
    return None


async def _star_kwargs(ctx: JobContext[Any], **options: int) -> None:
    return None


async def _private(ctx: JobContext[Any], _job_id: str) -> None:
    return None


async def _function_arg(ctx: JobContext[Any], function: str) -> None:
    return None


async def _unannotated(ctx: JobContext[Any], user_id) -> None:  # type: ignore[no-untyped-def]
    return None


def _not_async(ctx: JobContext[Any], user_id: int) -> None:
    return None


@pytest.mark.parametrize(
    ("fn", "message"),
    [
        pytest.param(_no_params, "the first parameter must be the JobContext", id="no-ctx"),
        pytest.param(_star_args, "*args/**kwargs are not allowed", id="star-args"),
        pytest.param(_star_kwargs, "*args/**kwargs are not allowed", id="star-kwargs"),
        pytest.param(
            _private, "argument '_job_id' clashes with arq's enqueue_job parameters", id="underscore"
        ),
        # ArqRedis.enqueue_job(function, ...) would get the argument twice.
        pytest.param(
            _function_arg, "argument 'function' clashes with arq's enqueue_job", id="named-function"
        ),
        pytest.param(_unannotated, "argument 'user_id' needs a type annotation", id="no-annotation"),
        pytest.param(_not_async, "is not an async function", id="not-async"),
    ],
)
def test_declaration_errors(fn: Any, message: str) -> None:
    with pytest.raises(TypeError) as caught:
        DeclaredJob(fn)
    assert message in str(caught.value)


def test_declared_job_attributes() -> None:
    assert REMIND.name == "t_decl_remind"
    assert REMIND.queue is Queue.FAST
    assert REMIND.retry.max_tries == 1
    assert list(REMIND.signature.parameters) == ["user_id", "day", "note"]
    assert repr(REMIND) == "<job t_decl_remind queue=fast tries=1>"
    assert repr(DeclaredJob(t_decl_report, name="t_decl_other", retry=RetryPolicy(max_tries=4))) == (
        "<job t_decl_other queue=fast tries=4>"
    )


# --- registry ----------------------------------------------------------------------------------------------


def test_fresh_registry() -> None:
    fresh = JobRegistry()
    fresh.add_job(REMIND)
    fresh.add_job(REPORT)
    assert fresh.get("t_decl_remind") is REMIND
    assert fresh.for_queue(Queue.FAST) == [REMIND]
    assert fresh.for_queue(Queue.LONG) == [REPORT]
    with pytest.raises(ValueError, match="a job named 't_decl_remind' is already declared"):
        fresh.add_job(DeclaredJob(t_decl_remind))
    with pytest.raises(ValueError, match="already declared"):
        fresh.add_cron("t_decl_report", object())
    fresh.add_cron("t_decl_cron", object())
    with pytest.raises(ValueError, match="already declared"):
        fresh.add_job(DeclaredJob(t_decl_report, name="t_decl_cron"))
    with pytest.raises(KeyError, match="no job named 'missing'; known: t_decl_remind, t_decl_report"):
        fresh.get("missing")


def test_job_decorator_registers_globally() -> None:
    try:

        @job(name="t_decl_registered_once", queue=Queue.LONG, retry=RetryPolicy(max_tries=3), timeout=12)
        async def anything(ctx: JobContext[Any], item_id: int) -> int:
            return item_id

        assert isinstance(anything, DeclaredJob)
        assert registry.get("t_decl_registered_once") is anything
        assert (anything.queue, anything.retry.max_tries, anything.timeout) == (Queue.LONG, 3, 12)
        with pytest.raises(ValueError, match="already declared"):
            job(name="t_decl_registered_once")(anything.fn)
    finally:
        registry.jobs.pop("t_decl_registered_once", None)


# --- deterministic ids -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("template", "expected"),
    [
        pytest.param("reminder:{day}:{user_id}", "reminder:2024-05-01:42", id="template"),
        pytest.param("r:{user_id:08d}", "r:00000042", id="format-spec"),
        pytest.param(
            lambda values: f"cb:{values.user_id * 2}:{values.note or '-'}", "cb:84:-", id="callable"
        ),
        pytest.param(None, None, id="none"),
    ],
)
def test_job_id_for(template: Any, expected: str | None) -> None:
    declared = DeclaredJob(t_decl_remind, job_id=template)
    assert declared.job_id_for(declared.validate(user_id=42, day=DAY)) == expected


# --- enqueue -----------------------------------------------------------------------------------------------


async def test_enqueue_puts_the_job_on_its_queue(pool: ArqRedis) -> None:
    before_ms = time.time() * 1000
    enqueued = await REMIND.enqueue(pool, user_id=42, day=DAY)
    assert enqueued is not None
    assert enqueued.job_id == "reminder:2024-05-01:42"

    rows = await queued(pool)
    assert [member for member, _ in rows] == ["reminder:2024-05-01:42"]
    assert before_ms - 1 <= rows[0][1] <= time.time() * 1000 + 1
    assert await queued(pool, Queue.LONG) == []

    payload = await payload_of(pool, "reminder:2024-05-01:42")
    assert payload["f"] == "t_decl_remind"
    assert payload["k"] == {"user_id": 42, "day": DAY, "note": ""}
    assert payload["a"] == []
    # msgpack, not pickle: readable without our code (the date is an extension type).
    raw = await pool.get("arq:job:reminder:2024-05-01:42")
    assert raw is not None
    assert msgpack.unpackb(raw)["f"] == "t_decl_remind"


async def test_enqueue_positional_arguments_are_sent_as_keywords(pool: ArqRedis) -> None:
    await REMIND.enqueue(pool, 7, DAY, "x")
    payload = await payload_of(pool, "reminder:2024-05-01:7")
    assert (payload["a"], payload["k"]) == ([], {"user_id": 7, "day": DAY, "note": "x"})


async def test_same_deterministic_id_is_enqueued_once(pool: ArqRedis) -> None:
    first = await REMIND.enqueue(pool, user_id=42, day=DAY)
    second = await REMIND.enqueue(pool, user_id=42, day=DAY, note="different")
    other_day = await REMIND.enqueue(pool, user_id=42, day=DAY + dt.timedelta(days=1))
    assert first is not None
    assert second is None
    assert other_day is not None
    assert [member for member, _ in await queued(pool)] == [
        "reminder:2024-05-01:42",
        "reminder:2024-05-02:42",
    ]
    assert (await payload_of(pool, "reminder:2024-05-01:42"))["k"]["note"] == ""


async def test_jobs_without_template_get_random_ids(pool: ArqRedis) -> None:
    first = await REPORT.enqueue(pool, report_id=1)
    second = await REPORT.enqueue(pool, report_id=1)
    assert first is not None
    assert second is not None
    assert first.job_id != second.job_id
    assert len(await queued(pool, Queue.LONG)) == 2
    assert await queued(pool, Queue.FAST) == []


async def test_explicit_job_id_overrides_template(pool: ArqRedis) -> None:
    enqueued = await REMIND.options(job_id="manual-1").enqueue(pool, user_id=1, day=DAY)
    assert enqueued is not None
    assert enqueued.job_id == "manual-1"
    assert [member for member, _ in await queued(pool)] == ["manual-1"]


@pytest.mark.parametrize(
    "kwargs",
    [
        pytest.param({"user_id": "42", "day": DAY}, id="wrong-type"),
        pytest.param({"user_id": 42}, id="missing"),
        pytest.param({"user_id": 42, "day": DAY, "extra": 1}, id="unknown"),
    ],
)
async def test_wrong_arguments_never_reach_redis(pool: ArqRedis, kwargs: dict[str, Any]) -> None:
    with pytest.raises(InvalidJobArguments, match=r"^t_decl_remind: "):
        await REMIND.enqueue(pool, **kwargs)
    assert await queued(pool) == []
    assert await pool.keys("*") == []


async def test_defer_by_sets_a_later_score(pool: ArqRedis) -> None:
    now = await REMIND.enqueue(pool, user_id=1, day=DAY)
    later = await REMIND.options(defer_by=90).enqueue(pool, user_id=2, day=DAY)
    much_later = await REMIND.options(defer_by=dt.timedelta(hours=1)).enqueue(pool, user_id=3, day=DAY)
    assert now is not None
    assert later is not None
    assert much_later is not None
    scores = dict(await queued(pool))
    assert 89_000 <= scores["reminder:2024-05-01:2"] - scores["reminder:2024-05-01:1"] <= 91_000
    assert 3_599_000 <= scores["reminder:2024-05-01:3"] - scores["reminder:2024-05-01:1"] <= 3_601_000


@pytest.mark.parametrize(
    ("user_id", "options", "delay_ms"),
    [
        (1, {}, 30_000),  # the declared delay
        (2, {"defer_by": 90}, 90_000),  # a call's own delay wins
        (3, {"defer_by": 0}, 0),
    ],
)
async def test_a_declared_delay_applies_unless_the_call_sets_its_own(
    pool: ArqRedis, user_id: int, options: dict[str, Any], delay_ms: int
) -> None:
    nudge = DeclaredJob(t_decl_remind, name="t_decl_nudge", job_id="nudge:{user_id}", defer_by=30)
    before_ms = time.time() * 1000
    assert await nudge.options(**options).enqueue(pool, user_id=user_id, day=DAY) is not None
    score = dict(await queued(pool))[f"nudge:{user_id}"]
    assert before_ms + delay_ms - 1_000 <= score <= time.time() * 1000 + delay_ms + 1  # arq rounds to ms


async def test_defer_until_sets_that_score(pool: ArqRedis) -> None:
    when = dt.datetime(2030, 1, 2, 3, 4, 5, tzinfo=dt.UTC)
    await REMIND.options(defer_until=when).enqueue(pool, user_id=1, day=DAY)
    assert await queued(pool) == [("reminder:2024-05-01:1", when.timestamp() * 1000)]


@pytest.mark.parametrize(
    ("options", "message"),
    [
        pytest.param(
            {"defer_by": 5, "defer_until": dt.datetime(2030, 1, 1, tzinfo=dt.UTC)},
            "use defer_by or defer_until, not both",
            id="both",
        ),
        pytest.param(
            {"defer_until": dt.datetime(2030, 1, 1)}, "defer_until must be timezone-aware", id="naive"
        ),
    ],
)
def test_bad_options(options: dict[str, Any], message: str) -> None:
    with pytest.raises(InvalidJobArguments, match=message):
        REMIND.options(**options)


async def test_enqueue_values(pool: ArqRedis) -> None:
    values = REMIND.validate(user_id=5, day=DAY)
    enqueued = await REMIND.enqueue_values(pool, values, job_id="again:1")
    assert enqueued is not None
    assert (await payload_of(pool, "again:1"))["k"] == {"user_id": 5, "day": DAY, "note": ""}


# --- worker side: DeclaredJob.run ---------------------------------------------------------------------


async def test_run_success_returns_value_and_records_metrics(
    ctx: dict[str, Any], metrics: RecordingMetrics, dead_letters: list[dict[str, Any]]
) -> None:
    result = await REMIND.run(ctx, user_id=42, day=DAY, note="ahoj")
    assert result == "42:2024-05-01:ahoj"
    [(job_ctx, arguments)] = calls
    assert arguments == {"user_id": 42, "day": DAY, "note": "ahoj"}
    assert (job_ctx.job_id, job_ctx.job_name, job_ctx.job_try, job_ctx.queue) == (
        "job-1",
        "t_decl_remind",
        1,
        Queue.FAST,
    )
    assert job_ctx.resources is ctx[CTX_RESOURCES]
    assert job_ctx.raw is ctx
    assert job_ctx.enqueue_time == dt.datetime(2024, 5, 1, tzinfo=dt.UTC)
    [(name, outcome, duration)] = metrics.records
    assert (name, outcome) == ("t_decl_remind", Outcome.SUCCEEDED)
    assert 0 <= duration < 1
    assert dead_letters == []


async def test_run_is_lax_about_msgpack_values(ctx: dict[str, Any]) -> None:
    # What a job enqueued by another tool (or an old payload) may carry: a date as an ISO string.
    assert await REMIND.run(ctx, user_id=42, day="2024-05-01") == "42:2024-05-01:"
    assert calls[0][1]["day"] == DAY
    assert await REMIND.run(ctx, 43, "2024-05-02") == "43:2024-05-02:"


async def test_run_dumps_pydantic_results(ctx: dict[str, Any]) -> None:
    summary = DeclaredJob(t_decl_summary)
    assert await summary.run(ctx, count=3) == {"sent": 3, "at": "2024-05-01T08:00:00Z"}


async def test_run_refuses_bad_arguments(ctx: dict[str, Any], metrics: RecordingMetrics) -> None:
    with pytest.raises(ValueError, match="user_id"):
        await REMIND.run(ctx, user_id="not a number", day=DAY)
    assert calls == []


async def test_run_binds_log_context(ctx: dict[str, Any]) -> None:
    seen: list[dict[str, Any]] = []

    async def t_decl_logged(job_ctx: JobContext[Any], user_id: int) -> None:
        seen.append(structlog.contextvars.get_contextvars())

    ctx["job_try"] = 2
    await DeclaredJob(t_decl_logged).run(ctx, user_id=42)
    assert seen == [{"job_id": "job-1", "job_name": "t_decl_logged", "job_try": 2, "user_id": 42}]
    assert structlog.contextvars.get_contextvars() == {}


class UpstreamError(ConnectionError):
    pass


def failing_job(
    error: BaseException, retry: RetryPolicy, name: str = "t_decl_failing"
) -> DeclaredJob[Any, Any]:
    async def t_decl_failing(ctx: JobContext[Any], user_id: int) -> None:
        raise error

    return DeclaredJob(t_decl_failing, name=name, retry=retry)


NETWORK_RETRY = RetryPolicy(max_tries=3, retry_on=(ConnectionError,), backoff_base=10, jitter=0)


@pytest.mark.parametrize(("job_try", "defer_ms"), [(1, 10_000), (2, 20_000)])
async def test_retryable_error_under_max_tries_raises_arq_retry(
    ctx: dict[str, Any],
    metrics: RecordingMetrics,
    dead_letters: list[dict[str, Any]],
    job_try: int,
    defer_ms: int,
) -> None:
    error = UpstreamError("upstream reset")
    ctx["job_try"] = job_try
    with pytest.raises(Retry) as caught:
        await failing_job(error, NETWORK_RETRY).run(ctx, user_id=1)
    assert caught.value.defer_score == defer_ms
    assert caught.value.__cause__ is error
    assert [(n, o) for n, o, _ in metrics.records] == [("t_decl_failing", Outcome.RETRIED)]
    assert dead_letters == []


async def test_telegram_retry_after_is_obeyed_exactly(ctx: dict[str, Any]) -> None:
    error = TelegramRetryAfter(
        method=SendMessage(chat_id=1, text="x"), message="Too Many Requests", retry_after=23
    )
    with pytest.raises(Retry) as caught:
        await failing_job(error, RetryPolicy(max_tries=5)).run(ctx, user_id=1)
    assert caught.value.defer_score == 23_000


async def test_retryable_error_always_retries(ctx: dict[str, Any]) -> None:
    with pytest.raises(Retry) as caught:
        await failing_job(RetryableError("later"), RetryPolicy(max_tries=2, jitter=0, backoff_base=3)).run(
            ctx, user_id=1
        )
    assert caught.value.defer_score == 3_000


async def test_final_failure_reraises_and_records_dead_letter(
    ctx: dict[str, Any], metrics: RecordingMetrics, dead_letters: list[dict[str, Any]]
) -> None:
    error = UpstreamError(f"POST https://api.telegram.org/bot{TOKEN}/sendMessage: reset")
    ctx["job_try"] = 3
    with pytest.raises(UpstreamError) as caught:
        await failing_job(error, NETWORK_RETRY).run(ctx, user_id=77)
    assert caught.value is error
    assert [(n, o) for n, o, _ in metrics.records] == [("t_decl_failing", Outcome.FAILED)]

    [letter] = dead_letters
    assert letter["session_factory"] is ctx[CTX_RESOURCES].session_factory
    assert letter["job_id"] == "job-1"
    assert letter["job_name"] == "t_decl_failing"
    assert letter["queue"] == Queue.FAST
    assert letter["arguments"] == {"user_id": 77}
    assert letter["tries"] == 3
    assert letter["error"] == f"UpstreamError: POST https://api.telegram.org/bot{REDACTED}/sendMessage: reset"
    assert "Traceback (most recent call last)" in letter["traceback_text"]
    assert "in t_decl_failing" in letter["traceback_text"]
    assert TOKEN not in letter["traceback_text"]


@pytest.mark.parametrize(
    ("job_try", "body_runs"),
    [
        pytest.param(3, True, id="the policy's last try"),
        pytest.param(3 + CRASH_ALLOWANCE, True, id="the crash allowance's last try"),
        pytest.param(3 + CRASH_ALLOWANCE + 1, False, id="arq's last try: dead letter only"),
    ],
)
async def test_tries_used_up_by_crashes_end_in_a_dead_letter_not_a_run(
    ctx: dict[str, Any],
    metrics: RecordingMetrics,
    dead_letters: list[dict[str, Any]],
    job_try: int,
    body_runs: bool,
) -> None:
    ran: list[int] = []

    async def t_decl_crashy(job_ctx: JobContext[Any], user_id: int) -> str:
        ran.append(job_ctx.job_try)
        return "done"

    declared = DeclaredJob(t_decl_crashy, retry=NETWORK_RETRY)
    assert declared.arq_function(30).max_tries == 3 + CRASH_ALLOWANCE + 1
    ctx["job_try"] = job_try
    if body_runs:
        assert await declared.run(ctx, user_id=4) == "done"
        assert (ran, dead_letters) == ([job_try], [])
        return
    with pytest.raises(WorkerDied, match="stopping mid-run"):
        await declared.run(ctx, user_id=4)
    assert ran == []
    [letter] = dead_letters
    assert (letter["job_name"], letter["arguments"], letter["tries"]) == (
        "t_decl_crashy",
        {"user_id": 4},
        job_try,
    )
    assert letter["error"].startswith(f"WorkerDied: not run again: {job_try - 1} tries started")
    assert [o for _, o, _ in metrics.records] == [Outcome.FAILED]


async def test_non_retryable_error_is_dead_lettered_at_once(
    ctx: dict[str, Any], metrics: RecordingMetrics, dead_letters: list[dict[str, Any]]
) -> None:
    with pytest.raises(KeyError):
        await failing_job(KeyError("user"), NETWORK_RETRY).run(ctx, user_id=5)
    assert [(letter["tries"], letter["error"]) for letter in dead_letters] == [(1, "KeyError: 'user'")]
    assert [o for _, o, _ in metrics.records] == [Outcome.FAILED]


async def test_dead_letter_arguments_are_json(
    ctx: dict[str, Any], dead_letters: list[dict[str, Any]]
) -> None:
    async def t_decl_dated(job_ctx: JobContext[Any], user_id: int, day: dt.date) -> None:
        raise ValueError("nope")

    with pytest.raises(ValueError, match="nope"):
        await DeclaredJob(t_decl_dated).run(ctx, user_id=1, day=DAY)
    assert dead_letters[0]["arguments"] == {"user_id": 1, "day": "2024-05-01"}


async def test_database_error_while_dead_lettering_keeps_the_job_error(
    ctx: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    async def broken_insert(session_factory: Any, **kwargs: Any) -> int:
        raise OSError("database is down")

    monkeypatch.setattr("mluv.jobs.run.insert_failure", broken_insert)
    with pytest.raises(LookupError, match="the job's own error"):
        await failing_job(LookupError("the job's own error"), NETWORK_RETRY).run(ctx, user_id=1)


async def test_record_dead_letter_can_be_patched(
    ctx: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    captured: list[tuple[JobContext[Any], dict[str, Any], BaseException]] = []

    async def record(job_ctx: JobContext[Any], arguments: dict[str, Any], error: BaseException) -> None:
        captured.append((job_ctx, arguments, error))

    monkeypatch.setattr(run, "record_dead_letter", record)
    error = ValueError("boom")
    with pytest.raises(ValueError, match="boom"):
        await failing_job(error, NETWORK_RETRY).run(ctx, user_id=9)
    [(job_ctx, arguments, got)] = captured
    assert (job_ctx.job_name, arguments, got) == ("t_decl_failing", {"user_id": 9}, error)


async def test_timeout_turns_a_slow_job_into_timeout_error(
    ctx: dict[str, Any], metrics: RecordingMetrics, dead_letters: list[dict[str, Any]]
) -> None:
    async def t_decl_slow(job_ctx: JobContext[Any], user_id: int) -> None:
        await asyncio.sleep(5)

    slow = DeclaredJob(t_decl_slow, timeout=0.05)
    started = time.perf_counter()
    with pytest.raises(TimeoutError):
        await slow.run(ctx, user_id=1)
    elapsed = time.perf_counter() - started
    assert 0.04 <= elapsed < 4  # well before the 5 s the job would sleep; loose for a loaded CI machine
    [(name, outcome, duration)] = metrics.records
    assert (name, outcome) == ("t_decl_slow", Outcome.FAILED)
    assert 0.04 <= duration < 4
    assert dead_letters[0]["error"].startswith("TimeoutError")


async def test_timeout_is_retried_when_the_policy_says_so(ctx: dict[str, Any]) -> None:
    async def t_decl_slow(job_ctx: JobContext[Any], user_id: int) -> None:
        await asyncio.sleep(5)

    slow = DeclaredJob(
        t_decl_slow, timeout=0.05, retry=RetryPolicy(max_tries=2, retry_on=(TimeoutError,), jitter=0)
    )
    with pytest.raises(Retry) as caught:
        await slow.run(ctx, user_id=1)
    assert caught.value.defer_score == 10_000


async def test_run_without_metrics(ctx: dict[str, Any]) -> None:
    del ctx[CTX_COUNTERS]
    assert await REMIND.run(ctx, user_id=1, day=DAY) == "1:2024-05-01:"


# --- timeouts and arq functions -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("declared", "expected"),
    [
        pytest.param(REMIND, 30.0, id="fast-default"),
        pytest.param(DeclaredJob(t_decl_report, queue=Queue.LONG), 300.0, id="long-default"),
        pytest.param(REPORT, 600.0, id="explicit"),
    ],
)
def test_timeout_for(declared: DeclaredJob[Any, Any], expected: float, ctx: dict[str, Any]) -> None:
    assert declared.timeout_for(ctx) == expected


def test_timeout_for_follows_settings(settings: Settings) -> None:
    custom = settings.model_copy(update={"fast_job_timeout": 12})
    assert REMIND.timeout_for({CTX_RESOURCES: SimpleNamespace(settings=custom)}) == 12.0


@pytest.mark.parametrize(
    ("declared", "default_timeout", "timeout_s", "max_tries", "keep_result_s"),
    [
        # arq's max_tries: the policy's, the crash allowance, and the dead-letter-only try.
        pytest.param(REMIND, 30.0, 30.0 + ARQ_TIMEOUT_MARGIN, 1 + CRASH_ALLOWANCE + 1, None, id="defaults"),
        pytest.param(REPORT, 1800.0, 600.0 + ARQ_TIMEOUT_MARGIN, 1 + CRASH_ALLOWANCE + 1, 60, id="explicit"),
        pytest.param(
            DeclaredJob(t_decl_remind, retry=RetryPolicy(max_tries=5)), 30.0, 35.0, 8, None, id="five-tries"
        ),
    ],
)
def test_arq_function(
    declared: DeclaredJob[Any, Any],
    default_timeout: float,
    timeout_s: float,
    max_tries: int,
    keep_result_s: float | None,
) -> None:
    function = declared.arq_function(default_timeout)
    assert function.name == declared.name
    assert function.coroutine == declared.run
    assert function.timeout_s == timeout_s
    assert function.max_tries == max_tries
    assert function.keep_result_s == keep_result_s


def test_arq_timeout_leaves_room_for_ours() -> None:
    assert ARQ_TIMEOUT_MARGIN > 0
    assert CRASH_ALLOWANCE >= 1
    assert cast(float, REMIND.arq_function(30).timeout_s) > 30
