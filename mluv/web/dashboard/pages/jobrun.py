"""The job pages' views as plain data: one run (arguments, each try, the result), one job's throughput as
SVG bars, and the form a job marked `manual=True` is enqueued through (fields from its pydantic model)."""

from __future__ import annotations

import datetime as dt
import enum
import types
import typing
from dataclasses import dataclass, field
from typing import Any

from pydantic import BaseModel, ValidationError

from mluv.jobs.arq_state import WorkerInfo
from mluv.jobs.history import RunState, Slot, Throughput, TryRecord
from mluv.web.dashboard.present import ms_to_dt, redacted, result_view

ARGUMENT_SHOWN = 2000


@dataclass(frozen=True)
class TryView:
    job_try: int
    started_at: dt.datetime
    duration: float
    outcome: str
    error: str | None
    worker: str | None


@dataclass(frozen=True)
class RunView:
    job_id: str
    function: str
    state: str  # queued, deferred, running, succeeded, failed, unknown
    queue: str | None
    arguments: list[tuple[str, str]]  # (name, redacted value)
    enqueued_at: dt.datetime | None
    due_at: dt.datetime | None
    tries: list[TryView]
    running_on: str | None  # worker id running it now
    running_since: dt.datetime | None
    result: str | None  # the redacted return value or error
    finished_at: dt.datetime | None
    tries_started: int


def run_view(run: RunState, tries: list[TryRecord], workers: list[WorkerInfo]) -> RunView:
    result = result_view(run.result) if run.result is not None else None
    source = run.result
    arguments = [(f"#{i}", redacted(a, ARGUMENT_SHOWN)) for i, a in enumerate(run.args)]
    arguments += [(name, redacted(value, ARGUMENT_SHOWN)) for name, value in sorted(run.kwargs.items())]
    running_on, since = None, None
    for worker in workers:
        for job_id, _, started in worker.running:
            if job_id == run.job_id:
                running_on, since = worker.worker_id, dt.datetime.fromtimestamp(started, dt.UTC)
    if result is not None:
        state = "succeeded" if result.success else "failed"
    elif running_on is not None or run.in_progress:
        state = "running"
    elif run.due_ms is not None:
        state = "deferred" if run.due_ms > dt.datetime.now(dt.UTC).timestamp() * 1000 else "queued"
    else:
        state = "unknown"
    function = (result.function if result else None) or run.function or (tries[-1].job_name if tries else "?")
    queue = result.queue if result else (run.queue.value if run.queue else None)
    return RunView(
        job_id=run.job_id,
        function=function,
        state=state,
        queue=queue.rsplit(":", 1)[-1] if queue else None,
        arguments=arguments,
        enqueued_at=ms_to_dt(source.enqueued_ms if source else run.enqueued_ms),
        due_at=ms_to_dt(run.due_ms),
        tries=[
            TryView(
                t.job_try,
                dt.datetime.fromtimestamp(t.started_at, dt.UTC),
                t.duration,
                t.outcome,
                t.error,
                t.worker,
            )
            for t in tries
        ],
        running_on=running_on,
        running_since=since,
        result=result.summary if result else None,
        finished_at=result.finished_at if result else None,
        tries_started=max(run.tries_started, run.result.job_try if run.result else 0),
    )


# --- throughput as SVG bars -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Column:
    x: float
    width: float
    rects: list[tuple[str, float, float]]  # (class, y, height) in a 0..100 box
    label: str


@dataclass(frozen=True)
class Chart:
    title: str
    columns: list[Column]
    peak: int
    total: int
    failed: int
    first: dt.datetime
    last: dt.datetime


def chart(title: str, slots: list[Slot], unit: str) -> Chart:
    peak = max((s.total for s in slots), default=0)
    width = 1000 / max(len(slots), 1)
    columns = []
    for index, slot in enumerate(slots):
        y = 100.0
        rects = []
        for cls, value in (("ok", slot.succeeded), ("warn", slot.retried), ("bad", slot.failed)):
            if value and peak:
                height = 100.0 * value / peak
                y -= height
                rects.append((cls, y, height))
        label = (
            f"{slot.start:%H:%M} UTC ({unit}): {slot.succeeded} succeeded, {slot.retried} retried, "
            f"{slot.failed} failed"
        )
        columns.append(Column(index * width + width * 0.1, width * 0.8, rects, label))
    return Chart(
        title,
        columns,
        peak,
        sum(s.total for s in slots),
        sum(s.failed for s in slots),
        slots[0].start,
        slots[-1].start,
    )


def charts(throughput: Throughput) -> list[Chart]:
    return [
        chart("Last hour, per minute", throughput.minutes, "minute"),
        chart("Last 48 hours, per hour", throughput.hours, "hour"),
    ]


# --- the manual enqueue form ------------------------------------------------------------------------------


@dataclass(frozen=True)
class FormField:
    name: str
    kind: str  # an <input type>, or "select" / "checkbox"
    required: bool
    value: str
    choices: list[str] = field(default_factory=list)
    hint: str = ""
    error: str | None = None


def _unwrap(annotation: Any) -> tuple[Any, bool]:
    """The annotation without Optional/Annotated, and whether None is allowed."""
    optional = False
    while True:
        origin = typing.get_origin(annotation)
        if origin is typing.Annotated:
            annotation = typing.get_args(annotation)[0]
        elif origin in (typing.Union, types.UnionType):
            members = [a for a in typing.get_args(annotation) if a is not type(None)]
            optional = optional or len(members) < len(typing.get_args(annotation))
            annotation = members[0] if len(members) == 1 else str
        else:
            return annotation, optional


def input_kind(annotation: Any) -> tuple[str, list[str]]:
    base, _ = _unwrap(annotation)
    if typing.get_origin(base) is typing.Literal:
        return "select", [str(v) for v in typing.get_args(base)]
    if isinstance(base, type) and issubclass(base, enum.Enum):
        return "select", [str(m.value) for m in base]
    kinds: list[tuple[type, str]] = [
        (bool, "checkbox"),
        (int, "number"),
        (float, "number"),
        (dt.datetime, "datetime-local"),
        (dt.date, "date"),
    ]
    for cls, kind in kinds:
        if base is cls:
            return kind, []
    return "text", []


def form_fields(
    model: type[BaseModel], values: dict[str, str] | None = None, errors: dict[str, str] | None = None
) -> list[FormField]:
    values, errors = values or {}, errors or {}
    fields = []
    for name, info in model.model_fields.items():
        kind, choices = input_kind(info.annotation)
        default = None if info.is_required() else info.get_default(call_default_factory=True)
        shown = values.get(name, "" if default is None or kind == "checkbox" else str(default))
        base, _ = _unwrap(info.annotation)
        hint = getattr(base, "__name__", str(base))
        fields.append(FormField(name, kind, info.is_required(), shown, choices, hint, errors.get(name)))
    return fields


def parse_form(model: type[BaseModel], form: dict[str, str]) -> tuple[BaseModel | None, dict[str, str]]:
    """Validate the posted strings with the job's own model (lax: "42" is an int); errors per field."""
    raw: dict[str, Any] = {}
    for name, info in model.model_fields.items():
        kind, _ = input_kind(info.annotation)
        value = form.get(name, "")
        if kind == "checkbox":
            raw[name] = value in {"on", "true", "1"}
        elif value != "":  # an empty input is a missing value: the default, or "Field required"
            raw[name] = value
    try:
        return model.model_validate(raw), {}
    except ValidationError as error:
        errors: dict[str, str] = {}
        for item in error.errors():
            key = str(item["loc"][0]) if item["loc"] else "_"
            errors.setdefault(key, item["msg"])
        return None, errors
