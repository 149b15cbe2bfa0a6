"""arq's jobs and results as people read them: arguments and results redacted and shortened, times as dates.

mluv.jobs.arq_state returns what Redis holds; the pages and the JSON snapshot show these views of it.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from mluv.jobs.arq_state import ArqJob, ArqResult
from mluv.jobs.queues import Queue
from mluv.jobs.serializer import StoredJobError
from mluv.logs import redact

ARGS_SHOWN = 300


def ms_to_dt(ms: float | None) -> dt.datetime | None:
    return dt.datetime.fromtimestamp(ms / 1000, dt.UTC) if ms else None


def redacted(value: Any, limit: int = ARGS_SHOWN) -> str:
    """A short, secret-free rendering of job arguments or results for people to read."""
    try:
        rendered = json.dumps(value, default=str, ensure_ascii=False, sort_keys=True)
    except (TypeError, ValueError):
        rendered = repr(value)
    rendered = redact(rendered)
    return rendered if len(rendered) <= limit else rendered[: limit - 1] + "…"


def format_call(args: Sequence[Any], kwargs: dict[str, Any]) -> str:
    parts = [redacted(a, 80) for a in args] + [f"{k}={redacted(v, 80)}" for k, v in sorted(kwargs.items())]
    joined = ", ".join(parts)
    return joined if len(joined) <= ARGS_SHOWN else joined[: ARGS_SHOWN - 1] + "…"


@dataclass(frozen=True)
class JobView:
    job_id: str
    queue: Queue
    function: str
    call: str  # redacted arguments
    state: str  # running, queued, deferred
    job_try: int  # the running try, or the next one for waiting jobs
    enqueued_at: dt.datetime | None
    due_at: dt.datetime | None
    started_at: dt.datetime | None = None
    worker: str | None = None
    aborting: bool = False


def job_view(job: ArqJob) -> JobView:
    return JobView(
        job_id=job.job_id,
        queue=job.queue,
        function=job.function,
        call=format_call(job.args, job.kwargs),
        state=job.state.value,
        job_try=job.job_try,
        enqueued_at=ms_to_dt(job.enqueued_ms),
        due_at=ms_to_dt(job.due_ms),
        started_at=dt.datetime.fromtimestamp(job.started_at, dt.UTC) if job.started_at is not None else None,
        worker=job.worker,
        aborting=job.aborting,
    )


@dataclass(frozen=True)
class ResultView:
    job_id: str
    function: str
    queue: str
    success: bool
    summary: str  # the redacted result or error
    job_try: int
    enqueued_at: dt.datetime | None
    started_at: dt.datetime | None
    finished_at: dt.datetime | None

    @property
    def duration(self) -> float | None:
        if self.started_at is None or self.finished_at is None:
            return None
        return (self.finished_at - self.started_at).total_seconds()


def result_view(result: ArqResult) -> ResultView:
    outcome = result.outcome
    if isinstance(outcome, StoredJobError):
        summary = redact(str(outcome))
    elif isinstance(outcome, BaseException):
        summary = redact(f"{type(outcome).__name__}: {outcome}")
    else:
        summary = redacted(outcome)
    return ResultView(
        job_id=result.job_id,
        function=result.function,
        queue=result.queue,
        success=result.success,
        summary=summary,
        job_try=result.job_try,
        enqueued_at=ms_to_dt(result.enqueued_ms),
        started_at=ms_to_dt(result.started_ms),
        finished_at=ms_to_dt(result.finished_ms),
    )
