"""Jobs past Flower: a run's page (arguments, each try, the result), a job's throughput, Run now for a cron,
enqueue by hand through a form built from the job's model, bulk Retry / Discard, the workers page."""

from __future__ import annotations

import datetime as dt
import time
from typing import Any
from urllib.parse import quote, unquote

import pytest
from redis.asyncio import Redis
from sqlalchemy import select

import workers  # noqa: F401 - registers ping (manual), health_check (a cron)
from mluv.db.models import CronRun, JobFailure
from mluv.jobs.declare import registry
from mluv.jobs.failures import insert_failure
from mluv.jobs.history import JobHistory, TryOutcome
from mluv.jobs.presence import WorkerPresence
from mluv.jobs.queues import Queue
from mluv.resources import Resources
from tests.web import dashboard_jobs
from tests.web.conftest import BOT_TOKEN, Client, log_in
from tests.web.test_dashboard import store_result

pytestmark = pytest.mark.integration


def json_headers(csrf: str) -> dict[str, str]:
    return {"Accept": "application/json", "X-CSRF-Token": csrf}


async def test_a_run_page_shows_arguments_each_try_and_the_result(client: Client, redis: Redis) -> None:
    await store_result(
        redis, "run-42", "dashboard_test_flaky", success=True, result={"fixed": "yes"}, tries=2
    )
    history = JobHistory("web-test:9:fast")
    started = time.time() - 30
    history.record(
        "run-42",
        "dashboard_test_flaky",
        1,
        TryOutcome.RETRIED,
        started_at=started,
        duration=0.4,
        error=RuntimeError(f"upstream refused bot{BOT_TOKEN}"),
    )
    history.record(
        "run-42", "dashboard_test_flaky", 2, TryOutcome.SUCCEEDED, started_at=started + 5, duration=0.2
    )
    await history.flush(redis)
    await log_in(client)

    jobs = await (await client.get("/dashboard/jobs")).text()
    assert 'href="/dashboard/jobs/run-42"' in jobs  # the results' rows link to the run

    response = await client.get("/dashboard/jobs/run-42")
    body = await response.text()
    assert response.status == 200
    assert "Job run · dashboard_test_flaky" in body and "succeeded" in body
    assert 'data-label="Try">1<' in body and 'data-label="Try">2<' in body
    assert "upstream refused" in body and BOT_TOKEN not in body and "[redacted]" in body
    assert "web-test:9:fast" in body and "fixed" in body
    assert 'href="/dashboard/job/dashboard_test_flaky"' in body

    missing = await client.get("/dashboard/jobs/never-was")
    assert missing.status == 404 and "Unknown job run" in await missing.text()


async def test_a_queued_run_and_a_running_one(client: Client, web_resources: Resources, redis: Redis) -> None:
    queued = await dashboard_jobs.dashboard_test_sleep.options(defer_by=600).enqueue(
        web_resources.pool, seconds=1.0, note="<b>later</b>"
    )
    running = await dashboard_jobs.dashboard_test_sleep.enqueue(web_resources.pool, seconds=1.0)
    assert queued and running
    presence = WorkerPresence(Queue.FAST.value, max_jobs=4, heartbeat_seconds=15, worker_id="web-test:3:fast")
    presence.job_started(running.job_id, 1)
    await presence.flush(redis)
    await log_in(client)
    body = await (await client.get(f"/dashboard/jobs/{quote(queued.job_id)}")).text()
    assert "deferred" in body and "&lt;b&gt;later&lt;/b&gt;" in body and "<b>later</b>" not in body
    body = await (await client.get(f"/dashboard/jobs/{quote(running.job_id)}")).text()
    assert "running" in body and "web-test:3:fast" in body


async def test_a_job_page_draws_throughput_and_failures(client: Client, redis: Redis) -> None:
    history = JobHistory("w")
    now = time.time()
    for outcome in (TryOutcome.SUCCEEDED, TryOutcome.SUCCEEDED, TryOutcome.FAILED):
        history.record("a", "ping", 1, outcome, started_at=now - 1, duration=0.0)
    await history.flush(redis)
    await log_in(client)
    body = await (await client.get("/dashboard/job/ping")).text()
    assert 'data-total="3" data-failed="1"' in body  # the last hour and the last 48 h
    assert body.count('<svg class="columns"') == 2
    stats = await client.get("/dashboard/job/no_such_job")
    assert stats.status == 404


@pytest.mark.parametrize(
    ("slot_status", "status", "says"),
    [
        (None, 200, "enqueued for its current slot"),
        ("succeeded", 409, "already ran for its current slot"),
        ("running", 409, "is running for its current slot"),
    ],
)
async def test_run_now_respects_the_cron_slot(
    client: Client,
    web_resources: Resources,
    redis: Redis,
    session_factory: Any,
    slot_status: str | None,
    status: int,
    says: str,
) -> None:
    spec = registry.crons["health_check"]
    tick = spec.previous_tick(dt.datetime.now(dt.UTC))
    if slot_status is not None:
        async with session_factory.begin() as session:
            session.add(
                CronRun(
                    cron_name="health_check",
                    business_key=spec.business_key(tick),
                    business_date=tick.date(),
                    status=slot_status,
                    job_id="x",
                )
            )
    csrf = await log_in(client)
    response = await client.post(
        "/dashboard/actions/run-cron", data={"name": "health_check"}, headers=json_headers(csrf)
    )
    body = await response.json()
    assert response.status == status and says in body["message"], body
    queued = await redis.zscore(Queue.FAST.value, spec.job_id_for(tick))
    assert (queued is not None) == (slot_status is None)
    if slot_status is None:
        again = await client.post(
            "/dashboard/actions/run-cron", data={"name": "health_check"}, headers=json_headers(csrf)
        )
        assert again.status == 409 and "not run twice" in (await again.json())["message"]
        assert await redis.zcard(Queue.FAST.value) == 1
    unknown = await client.post(
        "/dashboard/actions/run-cron", data={"name": "ping"}, headers=json_headers(csrf)
    )
    assert unknown.status == 404


@pytest.mark.parametrize(
    ("form", "status", "errors"),
    [
        ({"token": "by-hand", "work_seconds": "0.5"}, 303, []),
        ({"token": "by-hand"}, 303, []),  # the default applies
        ({"work_seconds": "0.5"}, 422, ["token"]),
        ({"token": "t", "work_seconds": "50"}, 422, ["work_seconds"]),
        ({"token": "t", "work_seconds": "soon"}, 422, ["work_seconds"]),
    ],
)
async def test_enqueue_by_hand_through_the_job_form(
    client: Client, redis: Redis, form: dict[str, str], status: int, errors: list[str]
) -> None:
    csrf = await log_in(client)
    page = await (await client.get("/dashboard/job/ping")).text()
    assert 'name="token"' in page and 'type="number" name="work_seconds" value="0.0"' in page
    response = await client.post(
        "/dashboard/actions/enqueue", data={"csrf": csrf, "job": "ping", **form}, allow_redirects=False
    )
    assert response.status == status
    if status == 303:
        location = response.headers["Location"]
        assert location.startswith("/dashboard/jobs/") and "enqueued+by+hand" in location
        job_id = unquote(location.split("?")[0].removeprefix("/dashboard/jobs/"))
        assert await redis.zscore(Queue.FAST.value, job_id) is not None
        run = await (await client.get(location)).text()
        assert "by-hand" in run and "queued" in run
    else:
        body = await response.text()
        assert body.count('class="field-error"') == len(errors)
        for name in errors:
            assert f'<div class="field invalid">\n<label for="arg-{name}">' in body
        assert await redis.zcard(Queue.FAST.value) == 0


async def test_only_jobs_marked_manual_are_enqueued_by_hand(client: Client, redis: Redis) -> None:
    csrf = await log_in(client)
    assert sorted(name for name, job in registry.jobs.items() if job.manual) == [
        "generate_weekly_report",
        "ping",
        "ping_long",
    ]
    page = await (await client.get("/dashboard/job/dashboard_test_flaky")).text()
    assert "not marked safe to run by hand" in page and "/dashboard/actions/enqueue" not in page
    response = await client.post(
        "/dashboard/actions/enqueue",
        data={"job": "dashboard_test_flaky", "token": "x"},
        headers=json_headers(csrf),
    )
    assert response.status == 403
    monday = await client.post(
        "/dashboard/actions/enqueue",
        data={"csrf": csrf, "job": "generate_weekly_report", "user_id": "1", "week_start": "2026-11-25"},
    )
    assert monday.status == 422 and "Monday" in await monday.text()
    assert await redis.zcard(Queue.FAST.value) == 0


async def _failure(session_factory: Any, n: int) -> int:
    return await insert_failure(
        session_factory,
        job_id=f"flaky-{n}",
        job_name="dashboard_test_flaky",
        queue=Queue.FAST.value,
        arguments={"token": f"t{n}"},
        error="RuntimeError: no",
        traceback_text="",
        tries=1,
    )


async def test_bulk_retry_and_discard_of_dead_letters(
    client: Client, redis: Redis, session_factory: Any
) -> None:
    ids = [await _failure(session_factory, n) for n in range(4)]
    csrf = await log_in(client)
    page = await (await client.get("/dashboard/failures")).text()
    assert page.count('form="bulk-failures"') == 4 and 'id="bulk-failures"' in page
    retry = await client.post(
        "/dashboard/actions/bulk-failures",
        data=[("csrf", csrf), ("op", "retry"), ("failure_id", str(ids[0])), ("failure_id", str(ids[1]))],
        allow_redirects=False,
    )
    assert retry.status == 303 and "2+dead+letter" in retry.headers["Location"]
    for n in (0, 1):
        assert await redis.zscore(Queue.FAST.value, f"flaky-{n}:retry{ids[n]}") is not None
    discard = await client.post(
        "/dashboard/actions/bulk-failures",
        data=[("op", "discard"), ("failure_id", str(ids[1])), ("failure_id", str(ids[2]))],
        headers=json_headers(csrf),
    )
    body = await discard.json()
    assert body["ok"] is True and body["message"].startswith("1 dead letter(s) discarded; 1 refused")
    async with session_factory() as session:
        statuses = dict((await session.execute(select(JobFailure.id, JobFailure.status))).tuples().all())
    assert statuses == {ids[0]: "retried", ids[1]: "retried", ids[2]: "discarded", ids[3]: "open"}
    nothing = await client.post(
        "/dashboard/actions/bulk-failures", data={"op": "retry"}, headers=json_headers(csrf)
    )
    assert nothing.status == 400


async def test_the_workers_page(client: Client, web_resources: Resources, redis: Redis) -> None:
    await log_in(client)
    empty = await (await client.get("/dashboard/workers")).text()
    assert "No worker is alive" in empty and 'href="/dashboard/workers" aria-current="page"' in empty
    presence = WorkerPresence(
        Queue.LONG.value, max_jobs=8, heartbeat_seconds=15, worker_id="host-a:4242:long"
    )
    presence.job_started("reminders:2026-12-03", 2)
    await presence.flush(redis)
    body = await (await client.get("/dashboard/workers")).text()
    for text in ("host-a:4242:long", 'data-label="PID">', "long", "1 of 8", "try 2"):
        assert text in body
    assert 'href="/dashboard/jobs/reminders:2026-12-03"' in body


@pytest.mark.parametrize(
    "path", ["/dashboard/actions/run-cron", "/dashboard/actions/enqueue", "/dashboard/actions/bulk-failures"]
)
async def test_actions_need_a_session_and_the_csrf_token(client: Client, path: str) -> None:
    assert (await client.post(path, data={"name": "health_check"})).status == 401
    await log_in(client)
    assert (await client.post(path, data={"name": "health_check"})).status == 403


@pytest.mark.parametrize("path", ["/dashboard/workers", "/dashboard/jobs/x", "/dashboard/job/ping"])
async def test_pages_need_a_session(client: Client, path: str) -> None:
    response = await client.get(path, allow_redirects=False)
    assert response.status == 302 and response.headers["Location"].startswith("/dashboard/login")
