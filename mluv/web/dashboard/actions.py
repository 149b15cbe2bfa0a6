"""The dashboard's POST actions: Abort a job, Retry or Discard a dead letter, Cancel a broadcast.

Each answers JSON to the page's script (Accept: application/json) or redirects back with a notice, so the
forms work without JavaScript too; every action is logged with its outcome and the client.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode, urlsplit

from aiohttp import web
from arq.jobs import Job
from pydantic import ValidationError

from mluv.jobs.failures import FailureNotFoundError, FailureNotOpenError, discard_failure
from mluv.jobs.operations import retry_failure
from mluv.jobs.queues import Queue
from mluv.jobs.serializer import StoredJobError, deserialize
from mluv.logs import get_logger
from mluv.telegram import broadcasts
from mluv.web.auth import client_ip
from mluv.web.dashboard.guards import form_field, redirect, safe_next
from mluv.web.dashboard.state import Operator, dashboard_state

log = get_logger(__name__)

ABORT_WAIT = 1.0


def _wants_json(request: web.Request) -> bool:
    return "application/json" in request.headers.get("Accept", "")


def _action_result(request: web.Request, ok: bool, message: str, status: int = 200) -> web.StreamResponse:
    log.info("dashboard action", path=request.path, ok=ok, result=message, client=client_ip(request))
    if _wants_json(request):
        return web.json_response({"ok": ok, "message": message}, status=status if not ok else 200)
    back = safe_next(request.headers.get("Referer") and urlsplit(request.headers["Referer"]).path)
    return redirect(f"{back}?{urlencode({'notice': message})}", 303)


async def abort_action(request: web.Request, operator: Operator) -> web.StreamResponse:
    form = await request.post()
    job_id = form_field(form, "job_id") or ""
    try:
        queue = Queue.from_label(form_field(form, "queue") or "")
    except ValueError:
        return _action_result(request, False, "unknown queue", 400)
    if not job_id:
        return _action_result(request, False, "no job id", 400)
    job = Job(
        job_id, dashboard_state(request).resources.pool, _queue_name=queue.value, _deserializer=deserialize
    )
    try:
        aborted = await job.abort(timeout=ABORT_WAIT, poll_delay=0.1)
    except StoredJobError as error:
        # Our serializer stores the CancelledError of an aborted job as a StoredJobError.
        aborted = error.type_name == "CancelledError"
    except TimeoutError:
        return _action_result(
            request, True, f"abort of {job_id} requested: a worker cancels it when it sees it"
        )
    if aborted:
        return _action_result(request, True, f"job {job_id} aborted")
    return _action_result(request, True, f"abort of {job_id} requested")


def _intform_field(form: Any, name: str) -> int | None:
    value = form_field(form, name)
    return int(value) if value is not None and value.isdigit() else None


async def retry_action(request: web.Request, operator: Operator) -> web.StreamResponse:
    form = await request.post()
    failure_id = _intform_field(form, "failure_id")
    if failure_id is None:
        return _action_result(request, False, "no failure id", 400)
    resources = dashboard_state(request).resources
    try:
        retried = await retry_failure(resources.session_factory, resources.pool, failure_id)
    except FailureNotFoundError as error:
        return _action_result(request, False, str(error), 404)
    except (FailureNotOpenError, KeyError) as error:
        return _action_result(request, False, str(error).strip("'\""), 409)
    except ValidationError as error:
        # The job's signature changed since it failed: retrying it as stored cannot work.
        message = f"the stored arguments no longer fit {error.title}: {error.error_count()} error(s)"
        return _action_result(request, False, message, 422)
    return _action_result(request, True, f"{retried.job_name} re-enqueued as job {retried.new_job_id}")


async def discard_action(request: web.Request, operator: Operator) -> web.StreamResponse:
    form = await request.post()
    failure_id = _intform_field(form, "failure_id")
    if failure_id is None:
        return _action_result(request, False, "no failure id", 400)
    try:
        await discard_failure(dashboard_state(request).resources.session_factory, failure_id)
    except FailureNotFoundError as error:
        return _action_result(request, False, str(error), 404)
    return _action_result(request, True, f"failure #{failure_id} discarded")


async def cancel_broadcast_action(request: web.Request, operator: Operator) -> web.StreamResponse:
    form = await request.post()
    broadcast_id = _intform_field(form, "broadcast_id")
    if broadcast_id is None:
        return _action_result(request, False, "no broadcast id", 400)
    resources = dashboard_state(request).resources
    # The one cancel of a broadcast: its unsent rows become cancelled and the operator's message final.
    if await broadcasts.cancel(resources.session_factory, resources.pool, resources.sender, broadcast_id):
        return _action_result(request, True, f"broadcast #{broadcast_id} cancelled")
    return _action_result(request, False, f"broadcast #{broadcast_id} is not in flight", 409)
