"""The job pages past Flower and their actions: one run (each try), one job (throughput, Run now for a
cron, the form of a job marked manual), the workers, and bulk Retry / Discard of dead letters.

Pages need a session (page_handler); actions also the CSRF token (action_handler), and each is logged
with who (a digest of the session, never the cookie), what, the outcome and the client: the audit log.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from typing import Any
from urllib.parse import quote, urlencode, urlsplit

from aiohttp import web
from pydantic import ValidationError
from sqlalchemy import select

from mluv.db.models import CronRun, CronRunStatus
from mluv.jobs.arq_state import read_workers
from mluv.jobs.cron import CronJobSpec
from mluv.jobs.declare import DeclaredJob, InvalidJobArguments, registry
from mluv.jobs.failures import FailureNotFoundError, FailureNotOpenError, discard_failure
from mluv.jobs.history import read_run, read_throughput, read_tries
from mluv.jobs.operations import retry_failure
from mluv.logs import get_logger
from mluv.resources import Resources
from mluv.web.auth import Access, client_ip
from mluv.web.dashboard.guards import form_field, redirect, safe_next
from mluv.web.dashboard.pages.jobrun import FormField, charts, form_fields, parse_form, run_view
from mluv.web.dashboard.pages.workers import worker_views
from mluv.web.dashboard.sections import NAV
from mluv.web.dashboard.state import Operator, dashboard_state
from mluv.web.dashboard.templating import render, render_page

log = get_logger(__name__)

BULK_LIMIT = 100


def run_path(job_id: str) -> str:
    return "/dashboard/jobs/" + quote(job_id, safe=":")


def job_path(name: str) -> str:
    return "/dashboard/job/" + quote(name, safe="")


def who(operator: Operator) -> str:
    if operator.session is None:
        return "open-mode"
    return "session:" + hashlib.sha256(operator.session.session_id.encode()).hexdigest()[:12]


def _done(
    request: web.Request,
    operator: Operator,
    ok: bool,
    message: str,
    status: int = 200,
    back: str | None = None,
    **details: Any,
) -> web.StreamResponse:
    log.info(
        "dashboard action",
        path=request.path,
        ok=ok,
        result=message,
        operator=who(operator),
        client=client_ip(request),
        **details,
    )
    if "application/json" in request.headers.get("Accept", ""):
        return web.json_response({"ok": ok, "message": message}, status=200 if ok else status)
    referer = request.headers.get("Referer")
    target = safe_next(back or (urlsplit(referer).path if referer else None))
    return redirect(f"{target}?{urlencode({'notice': message})}", 303)


def _page(
    request: web.Request,
    operator: Operator,
    page: str,
    title: str,
    parts: list[tuple[str, str, dict[str, Any]]],
    *,
    status: int = 200,
    notice: str | None = None,
) -> web.Response:
    state = dashboard_state(request)
    sections = [
        (name, render(request, template, {"csrf": operator.csrf, **ctx})) for name, template, ctx in parts
    ]
    context: dict[str, Any] = {
        "page": page,
        "title": title,
        "nav": NAV,
        "sections": sections,
        "csrf": operator.csrf,
        "open_mode": state.access is Access.OPEN,
        "notice": notice or request.query.get("notice"),
        "static_version": state.static_version,
        "logout": operator.session is not None,
    }
    return render_page(request, "page.html", context, status=status)


def _resources(request: web.Request) -> Resources:
    return dashboard_state(request).resources


# --- pages ---------------------------------------------------------------------------------------------


async def job_run_page(request: web.Request, operator: Operator) -> web.StreamResponse:
    job_id = request.match_info["job_id"]
    redis = _resources(request).pool
    run, tries = await read_run(redis, job_id), await read_tries(redis, job_id)
    if not run.known and not tries:
        missing: dict[str, Any] = {"job_id": job_id}
        return _page(
            request, operator, "jobs", "Job run", [("job-run", "job_run_missing.html", missing)], status=404
        )
    view = run_view(run, tries, await read_workers(redis))
    context: dict[str, Any] = {"run": view, "job_href": job_path(view.function)}
    return _page(
        request, operator, "jobs", f"Job run · {view.function}", [("job-run", "job_run.html", context)]
    )


def _known_job(name: str) -> tuple[DeclaredJob[Any, Any] | None, CronJobSpec | None]:
    declared = registry.jobs.get(name)
    spec = registry.crons.get(name)
    return declared, spec if isinstance(spec, CronJobSpec) else None


async def job_page(
    request: web.Request,
    operator: Operator,
    name: str,
    *,
    fields: list[FormField] | None = None,
    status: int = 200,
    notice: str | None = None,
) -> web.Response:
    declared, spec = _known_job(name)
    throughput = await read_throughput(_resources(request).pool, name)
    if declared is None and spec is None and not any(s.total for s in throughput.hours):
        missing: dict[str, Any] = {"name": name}
        return _page(request, operator, "stats", "Job", [("job", "job_unknown.html", missing)], status=404)
    manual = declared is not None and declared.manual
    context: dict[str, Any] = {
        "name": name,
        "charts": charts(throughput),
        "cron": spec,
        "declared": declared,
        "manual": manual,
        "fields": fields
        if fields is not None
        else (form_fields(declared.args_model) if manual and declared else []),
        "doc": (declared.__doc__ if declared else spec.fn.__doc__ if spec else None) or "",
    }
    return _page(
        request,
        operator,
        "stats",
        f"Job · {name}",
        [("job", "job_page.html", context)],
        status=status,
        notice=notice,
    )


async def job_name_page(request: web.Request, operator: Operator) -> web.StreamResponse:
    return await job_page(request, operator, request.match_info["name"])


async def workers_page(request: web.Request, operator: Operator) -> web.StreamResponse:
    workers = worker_views(await read_workers(_resources(request).pool))
    context: dict[str, Any] = {"workers": workers, "run_path": run_path}
    return _page(request, operator, "workers", "Workers", [("workers-page", "workers_page.html", context)])


# --- actions -------------------------------------------------------------------------------------------


async def run_cron_now(resources: Resources, spec: CronJobSpec) -> tuple[bool, str, str | None]:
    """Enqueue the cron for its current slot under the scheduler's own id; (ran, message, job id).

    The slot's cron_runs row and arq's unique id make a second press, or the scheduler's own run, a no-op.
    """
    now = dt.datetime.now(dt.UTC)
    tick = spec.previous_tick(now)
    if tick is None:  # no slot within the lookback: a manual run under its own key
        job = await spec.enqueue_now(resources.pool)
        job_id = job.job_id if job else None
        return job is not None, f"{spec.name} enqueued as a manual run (job {job_id})", job_id
    key = spec.business_key(tick)
    async with resources.session_factory() as session:
        status = await session.scalar(
            select(CronRun.status).where(CronRun.cron_name == spec.name, CronRun.business_key == key)
        )
    if status == CronRunStatus.SUCCEEDED:
        return False, f"{spec.name} already ran for its current slot {key}: not run again", None
    if status == CronRunStatus.RUNNING:
        return False, f"{spec.name} is running for its current slot {key}: not run twice", None
    job = await resources.pool.enqueue_job(
        spec.name, _job_id=spec.job_id_for(tick), _queue_name=spec.queue.value
    )
    if job is None:
        if status == CronRunStatus.FAILED:
            return False, f"{spec.name} failed for slot {key}: retry it from the dead letters", None
        return False, f"{spec.name} is already queued or has just run for slot {key}: not run twice", None
    return True, f"{spec.name} enqueued for its current slot {key} as job {job.job_id}", job.job_id


async def run_cron_action(request: web.Request, operator: Operator) -> web.StreamResponse:
    form = await request.post()
    name = form_field(form, "name") or ""
    _, spec = _known_job(name)
    if spec is None:
        return _done(request, operator, False, f"no cron job named {name!r}", 404, action="run-cron")
    ran, message, job_id = await run_cron_now(_resources(request), spec)
    return _done(request, operator, ran, message, 409, action="run-cron", cron=name, job_id=job_id)


async def enqueue_action(request: web.Request, operator: Operator) -> web.StreamResponse:
    form = await request.post()
    name = form_field(form, "job") or ""
    declared, _ = _known_job(name)
    if declared is None or not declared.manual:
        return _done(
            request,
            operator,
            False,
            f"{name!r} is not a job marked safe to run by hand",
            403,
            action="enqueue",
        )
    posted = {key: value for key, value in form.items() if isinstance(value, str)}
    values, errors = parse_form(declared.args_model, posted)
    if values is None:
        log.info(
            "dashboard action",
            path=request.path,
            ok=False,
            result="invalid arguments",
            operator=who(operator),
            client=client_ip(request),
            action="enqueue",
            job=name,
            fields=sorted(errors),
        )
        shown = form_fields(declared.args_model, posted, errors)
        return await job_page(
            request, operator, name, fields=shown, status=422, notice="Check the arguments marked below."
        )
    try:
        job = await declared.enqueue(_resources(request).pool, **values.__dict__)
    except (InvalidJobArguments, ValidationError) as error:
        return _done(
            request, operator, False, str(error), 422, back=job_path(name), action="enqueue", job=name
        )
    if job is None:
        message = f"{name}: a job with the same id is already queued or kept: not enqueued twice"
        return _done(request, operator, False, message, 409, back=job_path(name), action="enqueue", job=name)
    message = f"{name} enqueued by hand as job {job.job_id}"
    return _done(
        request,
        operator,
        True,
        message,
        back=run_path(job.job_id),
        action="enqueue",
        job=name,
        job_id=job.job_id,
    )


async def bulk_failures_action(request: web.Request, operator: Operator) -> web.StreamResponse:
    form = await request.post()
    op = form_field(form, "op")
    ids = sorted({int(v) for v in form.getall("failure_id", []) if isinstance(v, str) and v.isdigit()})
    if op not in {"retry", "discard"} or not ids:
        return _done(request, operator, False, "choose dead letters and Retry or Discard", 400, action="bulk")
    if len(ids) > BULK_LIMIT:
        return _done(request, operator, False, f"at most {BULK_LIMIT} at once", 400, action="bulk")
    resources = _resources(request)
    done: list[int] = []
    refused: list[str] = []
    for failure_id in ids:
        try:
            # Each through the single path: the row lock keeps a concurrent Retry from enqueueing twice.
            if op == "retry":
                await retry_failure(resources.session_factory, resources.pool, failure_id)
            else:
                await discard_failure(resources.session_factory, failure_id)
            done.append(failure_id)
        except (FailureNotFoundError, FailureNotOpenError, KeyError, ValidationError) as error:
            refused.append(f"#{failure_id}: {str(error).strip(chr(39) + chr(34))}")
    verb = "retried" if op == "retry" else "discarded"
    message = f"{len(done)} dead letter(s) {verb}" + (
        f"; {len(refused)} refused ({'; '.join(refused)})" if refused else ""
    )
    return _done(
        request, operator, bool(done), message, 409, action=f"bulk-{op}", done=done, refused=len(refused)
    )
