"""The dashboard over HTTP against real PostgreSQL and Redis: access rules, pages, live sections, actions."""

from __future__ import annotations

import bisect
import datetime as dt
import json
import time
from collections.abc import AsyncIterator
from html.parser import HTMLParser
from typing import Any

import pytest
from aiohttp.test_utils import TestClient, TestServer
from arq.jobs import serialize_result
from pydantic import SecretStr
from redis.asyncio import Redis
from sqlalchemy import select

from mluv.db.models import Broadcast, CronRun, JobFailure
from mluv.jobs.counters import BUCKETS, JobCounters, JobStats, Outcome
from mluv.jobs.cron import Schedule, every
from mluv.jobs.failures import insert_failure
from mluv.jobs.presence import WorkerPresence
from mluv.jobs.queues import Queue
from mluv.jobs.serializer import serialize
from mluv.resources import Resources
from mluv.settings import Environment, Settings
from mluv.web.app import create_app
from mluv.web.auth import LOGIN_MAX_ATTEMPTS, SESSION_COOKIE
from mluv.web.dashboard.present import heartbeat_totals, percentile
from mluv.web.dashboard.sections import FRAGMENTS
from mluv.web.sources.cron import describe_schedule
from tests.web import dashboard_jobs
from tests.web.conftest import BOT_TOKEN, DASHBOARD_TOKEN, Client, log_in, login_csrf, page_csrf
from workers.maintenance import HEALTH_KEY

pytestmark = pytest.mark.integration


# --- access --------------------------------------------------------------------------------------------


async def test_without_a_token_the_dashboard_is_off(settings: Settings, redis: Redis) -> None:
    resources = await Resources.create(settings)  # environment=test, no DASHBOARD_TOKEN
    try:
        async with TestClient(TestServer(create_app(resources))) as client:
            for path in ("/dashboard", "/dashboard/jobs", "/dashboard/login", "/dashboard/api/snapshot"):
                response = await client.get(path)
                assert response.status == 404, path
                assert "DASHBOARD_TOKEN" in await response.text()
            assert (await client.post("/dashboard/actions/retry", data={"failure_id": "1"})).status == 404
            assert (await client.get("/metrics")).status == 404
            assert (await client.get("/healthz")).status == 200
    finally:
        await resources.close()


async def test_production_without_a_token_is_off_even_on_loopback(settings: Settings, redis: Redis) -> None:
    prod = settings.model_copy(update={"environment": Environment.PRODUCTION, "web_host": "127.0.0.1"})
    resources = await Resources.create(prod)
    try:
        async with TestClient(TestServer(create_app(resources))) as client:
            assert (await client.get("/dashboard")).status == 404
    finally:
        await resources.close()


@pytest.fixture
async def open_client(settings: Settings, redis: Redis, clean_tables: None) -> AsyncIterator[Client]:
    dev = settings.model_copy(update={"environment": Environment.DEVELOPMENT, "web_host": "127.0.0.1"})
    resources = await Resources.create(dev)
    try:
        async with TestClient(TestServer(create_app(resources))) as client:
            yield client
    finally:
        await resources.close()


async def test_development_on_loopback_is_open_with_a_banner_and_still_needs_csrf(
    open_client: Client, session_factory: Any
) -> None:
    page = await open_client.get("/dashboard")
    body = await page.text()
    assert page.status == 200
    assert "Open dashboard." in body and "Log out" not in body
    # Proxied requests and other Host names (DNS rebinding) are not "local".
    assert (await open_client.get("/dashboard", headers={"X-Forwarded-For": "203.0.113.9"})).status == 403
    assert (await open_client.get("/dashboard", headers={"Host": "rebind.example:8080"})).status == 403
    assert (
        await open_client.get("/dashboard/fragments?names=queues", headers={"Host": "x.example"})
    ).status == 401
    broadcast_id = await add_broadcast(session_factory, status="running", total=10)
    refused = await open_client.post(
        "/dashboard/actions/cancel-broadcast", data={"broadcast_id": broadcast_id}
    )
    assert refused.status == 403
    done = await open_client.post(
        "/dashboard/actions/cancel-broadcast",
        data={"broadcast_id": broadcast_id, "csrf": page_csrf(body)},
        headers={"Accept": "application/json"},
    )
    assert done.status == 200 and (await done.json())["ok"] is True
    # The open mode serves /metrics to loopback too.
    assert (await open_client.get("/metrics")).status == 200


async def test_unauthenticated_requests_are_refused(client: Client, session_factory: Any) -> None:
    page = await client.get("/dashboard/jobs?q=ping", allow_redirects=False)
    assert page.status == 302
    assert page.headers["Location"] == "/dashboard/login?next=%2Fdashboard%2Fjobs%3Fq%3Dping"
    assert (await client.get("/dashboard/fragments?names=queues")).status == 401
    assert (await client.get("/dashboard/api/snapshot")).status == 401
    broadcast_id = await add_broadcast(session_factory, status="running", total=10)
    response = await client.post(
        "/dashboard/actions/cancel-broadcast", data={"broadcast_id": broadcast_id, "csrf": "guess"}
    )
    assert response.status == 401
    assert (await broadcast(session_factory, broadcast_id)).status == "running"
    # A forged session cookie is no session.
    client.session.cookie_jar.update_cookies({SESSION_COOKIE: "forged"})
    assert (await client.get("/dashboard/api/snapshot")).status == 401


async def test_login_sets_a_strict_http_only_cookie_and_secure_behind_https(client: Client) -> None:
    form = await client.get("/dashboard/login")
    assert form.headers["Content-Security-Policy"].startswith("default-src 'none'")
    response = await client.post(
        "/dashboard/login",
        data={"csrf": login_csrf(await form.text()), "token": DASHBOARD_TOKEN, "next": "/dashboard/cron"},
        headers={"X-Forwarded-Proto": "https"},
        allow_redirects=False,
    )
    assert response.status == 303
    assert response.headers["Location"] == "/dashboard/cron"
    cookie = response.cookies[SESSION_COOKIE]
    assert cookie["httponly"] is True
    assert cookie["samesite"] == "Strict"
    assert cookie["secure"] is True
    assert cookie["path"] == "/dashboard"
    # The session id is not what Redis stores (only its digest).
    assert DASHBOARD_TOKEN not in cookie.value

    plain = await client.get("/dashboard/login")
    response = await client.post(
        "/dashboard/login",
        data={"csrf": login_csrf(await plain.text()), "token": DASHBOARD_TOKEN},
        allow_redirects=False,
    )
    assert response.cookies[SESSION_COOKIE]["secure"] == ""


async def test_login_form_needs_its_csrf_token_and_never_redirects_off_site(client: Client) -> None:
    await client.get("/dashboard/login")
    forged = await client.post("/dashboard/login", data={"csrf": "x", "token": DASHBOARD_TOKEN})
    assert forged.status == 403
    cross_site = await client.get("/dashboard/login")
    response = await client.post(
        "/dashboard/login",
        data={"csrf": login_csrf(await cross_site.text()), "token": DASHBOARD_TOKEN},
        headers={"Origin": "https://evil.example"},
        allow_redirects=False,
    )
    assert response.status == 403
    for target in ("//evil.example/x", "https://evil.example/dashboard", "/elsewhere", "/dashboard\\@evil"):
        client.session.cookie_jar.clear()
        form = await client.get("/dashboard/login")
        response = await client.post(
            "/dashboard/login",
            data={"csrf": login_csrf(await form.text()), "token": DASHBOARD_TOKEN, "next": target},
            allow_redirects=False,
        )
        assert response.headers["Location"] == "/dashboard", target


async def test_failed_logins_are_throttled_per_client_ip(client: Client) -> None:
    attacker = {"X-Forwarded-For": "198.51.100.7"}
    for _ in range(LOGIN_MAX_ATTEMPTS):
        form = await client.get("/dashboard/login")
        response = await client.post(
            "/dashboard/login",
            data={"csrf": login_csrf(await form.text()), "token": "wrong"},
            headers=attacker,
        )
        assert response.status == 401
        assert "Wrong token or password." in await response.text()
    form = await client.get("/dashboard/login")
    blocked = await client.post(
        "/dashboard/login",
        data={"csrf": login_csrf(await form.text()), "token": DASHBOARD_TOKEN},
        headers=attacker,
        allow_redirects=False,
    )
    assert blocked.status == 429
    assert 0 < int(blocked.headers["Retry-After"]) <= 900
    # Another client is not locked out.
    await log_in(client, **{"X-Forwarded-For": "198.51.100.8"})


async def test_logout_and_credential_rotation_end_sessions(
    client: Client, web_resources: Resources, web_settings: Settings
) -> None:
    csrf = await log_in(client)
    cookie = client.session.cookie_jar.filter_cookies(client.make_url("/dashboard"))[SESSION_COOKIE].value
    rotated = web_settings.model_copy(update={"dashboard_token": SecretStr("a-brand-new-dashboard-token")})
    other = await Resources.create(rotated)
    try:
        async with TestClient(TestServer(create_app(other))) as second:
            second.session.cookie_jar.update_cookies({SESSION_COOKIE: cookie}, second.make_url("/dashboard"))
            assert (await second.get("/dashboard/api/snapshot")).status == 401
    finally:
        await other.close()
    assert (await client.get("/dashboard/api/snapshot")).status == 200
    response = await client.post("/dashboard/logout", data={"csrf": csrf}, allow_redirects=False)
    assert response.status == 303
    client.session.cookie_jar.update_cookies({SESSION_COOKIE: cookie}, client.make_url("/dashboard"))
    assert (await client.get("/dashboard/api/snapshot")).status == 401


async def test_the_password_hash_logs_in_too(settings: Settings, redis: Redis, clean_tables: None) -> None:
    from mluv.web.auth import hash_password

    password = "correct horse battery staple"
    configured = settings.model_copy(update={"dashboard_password_hash": SecretStr(hash_password(password))})
    resources = await Resources.create(configured)
    try:
        async with TestClient(TestServer(create_app(resources))) as client:
            await log_in(client, token=password)
    finally:
        await resources.close()


async def test_actions_without_the_csrf_token_are_refused(client: Client, session_factory: Any) -> None:
    csrf = await log_in(client)
    broadcast_id = await add_broadcast(session_factory, status="running", total=10)
    for data, headers in (
        ({"broadcast_id": broadcast_id}, {}),
        ({"broadcast_id": broadcast_id, "csrf": "not-the-token"}, {}),
        ({"broadcast_id": broadcast_id}, {"X-CSRF-Token": csrf[:-1]}),
        ({"broadcast_id": broadcast_id, "csrf": csrf}, {"Origin": "https://evil.example"}),
    ):
        response = await client.post("/dashboard/actions/cancel-broadcast", data=data, headers=headers)
        assert response.status == 403, (data, headers)
    assert (await broadcast(session_factory, broadcast_id)).status == "running"
    ok = await client.post(
        "/dashboard/actions/cancel-broadcast",
        data={"broadcast_id": broadcast_id},
        headers={"X-CSRF-Token": csrf},
    )
    assert ok.status == 200  # redirected back with a notice (no JSON asked)
    assert (await broadcast(session_factory, broadcast_id)).status == "cancelled"


# --- what the pages show ------------------------------------------------------------------------------


async def add_broadcast(
    session_factory: Any, *, status: str, total: int, sent: int = 0, blocked: int = 0, failed: int = 0
) -> int:
    async with session_factory.begin() as session:
        row = Broadcast(
            created_by=1,
            text="Ahoj! Nová lekce je tady.",
            target="all",
            status=status,
            total=total,
            sent=sent,
            blocked=blocked,
            failed=failed,
            started_at=dt.datetime.now(dt.UTC),
        )
        session.add(row)
        await session.flush()
        return row.id


async def broadcast(session_factory: Any, broadcast_id: int) -> Broadcast:
    async with session_factory() as session:
        row: Broadcast | None = await session.get(Broadcast, broadcast_id)
        assert row is not None
        return row


async def store_result(
    redis: Redis, job_id: str, function: str, *, success: bool, result: Any, tries: int = 1
) -> None:
    now_ms = int(time.time() * 1000)
    payload = serialize_result(
        function,
        (),
        {"token": "t"},
        tries,
        now_ms - 900,
        success,
        result,
        now_ms - 500,
        now_ms,
        f"{job_id}:{function}",
        Queue.FAST.value,
        job_id=job_id,
        serializer=serialize,
    )
    assert payload is not None
    await redis.set(f"arq:result:{job_id}", payload, ex=600)
    await redis.lpush("mluv:metrics:recent_jobs", job_id)  # type: ignore[misc]


async def populate(resources: Resources, redis: Redis, session_factory: Any) -> dict[str, Any]:
    """A realistic moment: queued, deferred and running jobs, results, dead letters, cron runs, stats."""
    queued = await dashboard_jobs.dashboard_test_sleep.enqueue(
        resources.pool, seconds=1.0, note=f"bot {BOT_TOKEN}"
    )
    deferred = await dashboard_jobs.dashboard_test_sleep.options(defer_by=600).enqueue(
        resources.pool, seconds=2.0
    )
    running = await dashboard_jobs.dashboard_test_flaky.enqueue(resources.pool, token="in-progress")
    assert queued and deferred and running
    await redis.set(f"arq:in-progress:{running.job_id}", b"1", ex=60)
    await redis.set(f"arq:retry:{running.job_id}", 2)
    presence = WorkerPresence(
        Queue.FAST.value, max_jobs=50, heartbeat_seconds=15, worker_id="web-test:1:fast"
    )
    presence.job_started(running.job_id, 2)
    await presence.flush(redis)
    await redis.set(Queue.FAST.health_check_key, b"Nov-21 20:00:00 j_complete=5 j_failed=1 queued=2", ex=30)

    await store_result(redis, "ok-job-1", "ping", success=True, result={"token": "x"})
    await store_result(
        redis, "bad-job-2", "dashboard_test_flaky", success=False, result=RuntimeError(f"no {BOT_TOKEN}")
    )

    failure_id = await insert_failure(
        session_factory,
        job_id="dashboard_test_flaky-1",
        job_name="dashboard_test_flaky",
        queue=Queue.FAST.value,
        arguments={"token": f"abc {BOT_TOKEN}"},
        error="RuntimeError: upstream refused abc",
        traceback_text="Traceback (most recent call last):\n  File x\nRuntimeError: upstream refused abc",
        tries=1,
    )
    import workers  # noqa: F401 - registers health_check, a cron job

    async with session_factory.begin() as session:
        session.add(
            CronRun(
                cron_name="health_check",
                business_key="2026-11-21T20:00:00Z",
                business_date=dt.date(2026, 11, 21),
                status="succeeded",
                finished_at=dt.datetime.now(dt.UTC),
            )
        )
    metrics = JobCounters()
    for duration in (0.004, 0.02, 0.03, 0.2):
        metrics.record("ping", Outcome.SUCCEEDED, duration)
    metrics.record("dashboard_test_flaky", Outcome.FAILED, 0.05)
    metrics.record("dashboard_test_flaky", Outcome.RETRIED, 0.05)
    await metrics.flush(redis)
    broadcast_id = await add_broadcast(
        session_factory, status="running", total=200, sent=120, blocked=5, failed=3
    )
    return {
        "queued": queued.job_id,
        "deferred": deferred.job_id,
        "running": running.job_id,
        "failure_id": failure_id,
        "broadcast_id": broadcast_id,
    }


async def test_pages_show_queues_jobs_results_failures_cron_metrics_and_broadcasts(
    client: Client, web_resources: Resources, redis: Redis, session_factory: Any
) -> None:
    ids = await populate(web_resources, redis, session_factory)
    await log_in(client)
    overview = await (await client.get("/dashboard")).text()
    assert 'data-queue="fast"' in overview and 'data-figure="waiting">1<' in overview
    assert 'data-figure="running">1<' in overview and 'data-figure="deferred">1<' in overview
    assert "worker alive" in overview and "web-test:1:fast" in overview
    assert f'data-broadcast="{ids["broadcast_id"]}"' in overview and 'data-figure="left">72<' in overview
    assert "dashboard_test_flaky" in overview and "1 open" in overview

    jobs = await (await client.get("/dashboard/jobs")).text()
    for job_id in (ids["queued"], ids["deferred"], ids["running"]):
        assert job_id in jobs
    assert "In progress" in jobs and "web-test:1:fast" in jobs
    assert "ok-job-1" in jobs and "bad-job-2" in jobs

    failures = await (await client.get("/dashboard/failures")).text()
    assert "RuntimeError: upstream refused abc" in failures and "Traceback" in failures
    assert f'data-failure="{ids["failure_id"]}"' in failures

    cron = await (await client.get("/dashboard/cron")).text()
    assert "health_check" in cron and "every 5 min" in cron and "succeeded" in cron

    stats = await (await client.get("/dashboard/stats")).text()
    # dashboard_test_flaky: one run failed for good, one retried; none succeeded.
    assert "ping" in stats and "100.0%" in stats

    # Secrets in arguments, results and dead letters are never displayed.
    for body in (overview, jobs, failures):
        assert BOT_TOKEN not in body
    assert "[redacted]" in jobs and "[redacted]" in failures


async def test_sections_update_through_the_fragments_endpoint(
    client: Client, web_resources: Resources, redis: Redis, session_factory: Any
) -> None:
    ids = await populate(web_resources, redis, session_factory)
    await log_in(client)
    response = await client.get("/dashboard/fragments?names=broadcasts-in-flight,queues,unknown")
    sections = (await response.json())["fragments"]
    assert set(sections) == {"broadcasts-in-flight", "queues"}
    assert 'data-figure="sent">120<' in sections["broadcasts-in-flight"]
    async with session_factory.begin() as session:
        row = await session.get(Broadcast, ids["broadcast_id"])
        row.sent = 190
    response = await client.get("/dashboard/fragments?names=broadcasts-in-flight")
    assert 'data-figure="sent">190<' in (await response.json())["fragments"]["broadcasts-in-flight"]


async def test_results_are_searchable_by_job_name_and_id(
    client: Client, web_resources: Resources, redis: Redis, session_factory: Any
) -> None:
    await populate(web_resources, redis, session_factory)
    await log_in(client)
    by_name = await (await client.get("/dashboard/fragments?names=results&q=flaky")).json()
    assert (
        "bad-job-2" in by_name["fragments"]["results"] and "ok-job-1" not in by_name["fragments"]["results"]
    )
    by_id = await (await client.get("/dashboard/jobs?q=ok-job-1")).text()
    assert "ok-job-1" in by_id and "bad-job-2" not in by_id
    # An id that fell out of the recent index is still found while arq keeps its result.
    await redis.delete("mluv:metrics:recent_jobs")
    again = await (await client.get("/dashboard/api/snapshot?q=ok-job-1")).json()
    assert [r["job_id"] for r in again["results"]] == ["ok-job-1"]
    none = await (await client.get("/dashboard/jobs?q=%3Cscript%3E")).text()
    assert "No kept result matches “&lt;script&gt;”" in none


async def test_snapshot_json(
    client: Client, web_resources: Resources, redis: Redis, session_factory: Any
) -> None:
    ids = await populate(web_resources, redis, session_factory)
    await log_in(client)
    snapshot = await (await client.get("/dashboard/api/snapshot")).json()
    fast = next(q for q in snapshot["queues"] if q["queue"] == "fast")
    assert (fast["waiting"], fast["deferred"], fast["running"], fast["worker_alive"]) == (1, 1, 1, True)
    (running,) = snapshot["running"]
    assert (running["job_id"], running["try"], running["worker"]) == (ids["running"], 2, "web-test:1:fast")
    assert {j["state"] for j in snapshot["waiting"]} == {"queued", "deferred"}
    assert snapshot["dead_letters"]["counts"] == {"open": 1}
    assert any(c["name"] == "health_check" and c["last_status"] == "succeeded" for c in snapshot["crons"])
    ping = next(s for s in snapshot["job_stats"] if s["job"] == "ping")
    # Four runs: the percentiles are the histogram buckets they fall in, never an interpolated figure.
    assert ping["executed"] == 4
    assert ping["p50"] == {"exact": False, "value": None, "bucket": [0.01, 0.025]}
    assert ping["p95"] == {"exact": False, "value": None, "bucket": [0.1, 0.25]}
    assert BOT_TOKEN not in str(snapshot)


async def test_abort_retry_discard_and_cancel(
    client: Client, web_resources: Resources, redis: Redis, session_factory: Any
) -> None:
    ids = await populate(web_resources, redis, session_factory)
    csrf = await log_in(client)
    headers = {"Accept": "application/json", "X-CSRF-Token": csrf}

    # No worker runs here: the abort is recorded and the job moved to the front, as arq does.
    response = await client.post(
        "/dashboard/actions/abort", data={"job_id": ids["deferred"], "queue": "fast"}, headers=headers
    )
    assert response.status == 200 and "abort of" in (await response.json())["message"]
    assert await redis.zscore("arq:abort", ids["deferred"]) is not None
    assert await redis.zscore(Queue.FAST.value, ids["deferred"]) == 1
    jobs = await (await client.get("/dashboard/jobs")).text()
    assert "aborting…" in jobs

    response = await client.post(
        "/dashboard/actions/retry", data={"failure_id": ids["failure_id"]}, headers=headers
    )
    body = await response.json()
    assert response.status == 200 and body["ok"] is True
    assert f"dashboard_test_flaky-1:retry{ids['failure_id']}" in body["message"]
    assert (
        await redis.zscore(Queue.FAST.value, f"dashboard_test_flaky-1:retry{ids['failure_id']}") is not None
    )
    again = await client.post(
        "/dashboard/actions/retry", data={"failure_id": ids["failure_id"]}, headers=headers
    )
    assert again.status == 409
    assert (
        await client.post("/dashboard/actions/retry", data={"failure_id": "999999"}, headers=headers)
    ).status == 404

    other = await insert_failure(
        session_factory,
        job_id="x-2",
        job_name="dashboard_test_flaky",
        queue=Queue.FAST.value,
        arguments={"token": "b"},
        error="RuntimeError: b",
        traceback_text="",
        tries=1,
    )
    response = await client.post("/dashboard/actions/discard", data={"failure_id": other}, headers=headers)
    assert response.status == 200
    async with session_factory() as session:
        rows = await session.execute(select(JobFailure.id, JobFailure.status))
        statuses = {failure_id: status for failure_id, status in rows.tuples()}
    assert statuses == {ids["failure_id"]: "retried", other: "discarded"}

    response = await client.post(
        "/dashboard/actions/cancel-broadcast", data={"broadcast_id": ids["broadcast_id"]}, headers=headers
    )
    assert response.status == 200
    row = await broadcast(session_factory, ids["broadcast_id"])
    assert row.status == "cancelled" and row.cancelled_at is not None
    twice = await client.post(
        "/dashboard/actions/cancel-broadcast", data={"broadcast_id": ids["broadcast_id"]}, headers=headers
    )
    assert twice.status == 409


async def test_a_database_outage_leaves_the_redis_sections_working(
    web_settings: Settings, redis: Redis
) -> None:
    broken = web_settings.model_copy(update={"database_url": "postgresql+asyncpg://nobody@127.0.0.1:9/none"})
    resources = await Resources.create(broken)
    try:
        async with TestClient(TestServer(create_app(resources))) as client:
            await log_in(client)
            response = await client.get("/dashboard")
            body = await response.text()
            assert response.status == 200
            assert 'data-queue="fast"' in body
            assert "Could not load this section" in body
    finally:
        await resources.close()


async def test_static_files_and_security_headers(client: Client) -> None:
    await log_in(client)
    page = await client.get("/dashboard")
    assert page.headers["X-Frame-Options"] == "DENY"
    assert page.headers["Cache-Control"] == "no-store"
    assert "script-src 'self'" in page.headers["Content-Security-Policy"]
    body = await page.text()
    assert "<script>" not in body and " style=" not in body  # nothing inline: the CSP allows none
    for name, kind in (("dashboard.js", "text/javascript"), ("dashboard.css", "text/css")):
        response = await client.get(f"/dashboard/static/{name}")
        assert response.status == 200 and response.content_type == kind
        assert "http://" not in await response.text() and "https://" not in await response.text()
    assert (await client.get("/dashboard/static/..%2Fauth.py")).status == 404


# --- the issue's inconsistencies, and escaping ----------------------------------------------------------


async def test_the_root_leads_to_the_dashboard(client: Client) -> None:
    response = await client.get("/", allow_redirects=False)
    assert (response.status, response.headers["Location"]) == (302, "/dashboard")
    assert (await client.get("/healthz")).status == 200


def stats_of(durations: list[float]) -> JobStats:
    buckets = [0] * (len(BUCKETS) + 1)
    for duration in durations:
        buckets[bisect.bisect_left(BUCKETS, duration)] += 1
    n = len(durations)
    return JobStats("j", n, n, 0, 0, n, sum(durations), tuple(buckets), None)


@pytest.mark.parametrize(
    ("durations", "p50", "p95"),
    [
        ([], None, None),
        ([0.375], "375 ms", "375 ms"),  # one run: its duration, exactly
        ([0.3, 0.4], "≤ 500 ms", "≤ 500 ms"),
        ([0.004, 0.02, 0.03, 0.2], "≤ 25 ms", "≤ 250 ms"),
        ([0.001] * 19 + [7.0], "≤ 5 ms", "≤ 5 ms"),  # nearest rank: the 19th of 20 runs
        ([0.001] * 18 + [7.0, 8.0], "≤ 5 ms", "≤ 10 s"),
        ([4000.0, 5000.0], "> 30 min", "> 30 min"),
    ],
)
def test_percentiles_are_exact_or_their_bucket(
    durations: list[float], p50: str | None, p95: str | None
) -> None:
    stats = stats_of(durations)
    for q, expected in ((0.5, p50), (0.95, p95)):
        found = percentile(stats, q)
        assert (found.text if found else None) == expected
        if found is not None:
            assert found.exact == (len(durations) == 1)
            assert ("bucket" in found.title) != found.exact


@pytest.mark.parametrize(
    ("heartbeat", "footer"),
    [
        (None, "no heartbeat: `arq --check` fails"),
        (
            "Dec-03 07:28:01 j_complete=16 j_failed=1 j_retried=2 j_ongoing=0 queued=4",
            "heartbeat: 16 complete · 1 failed · 2 retried since its worker started",
        ),
        (
            "Nov-21 20:00:00 j_complete=5 j_failed=1 queued=2",
            "heartbeat: 5 complete · 1 failed since its worker started",
        ),
        ("Nov-21 20:00:00", "heartbeat: alive"),
    ],
)
def test_the_queue_card_footer_never_repeats_figures_the_card_shows_live(
    heartbeat: str | None, footer: str
) -> None:
    assert heartbeat_totals(heartbeat) == footer
    assert "ongoing" not in footer and "queued" not in footer


@pytest.mark.parametrize(
    ("schedule", "words"),
    [
        ({"second": 0}, "every minute (0 * * * * *)"),
        ({"second": 30}, "every minute at second 30 (30 * * * * *)"),
        (every(30), "every 30 s (*/30 * * * * *)"),
        (every(300), "every 5 min (0 */5 * * * *)"),
        (every(1800), "every 30 min (0 */30 * * * *)"),
        ({"minute": 15, "second": 0}, "hourly at :15 (0 15 * * * *)"),
        ({"minute": 15, "second": 30}, "hourly at :15, 30 s past (30 15 * * * *)"),
        ({"hour": 0, "minute": 5, "second": 0}, "daily 00:05 UTC (0 5 0 * * *)"),
        ({"weekday": 0, "hour": 2, "minute": 0, "second": 0}, "Mon 02:00 UTC (0 0 2 * * Mon)"),
        ({"weekday": {5, 6}, "hour": 9, "minute": 30, "second": 0}, "Sat/Sun 09:30 UTC (0 30 9 * * Sat,Sun)"),
        ({"hour": {0, 6, 12, 18}, "minute": 0, "second": 0}, "every 6 h at :00 (0 0 */6 * * *)"),
        ({"second": {1, 7}}, "1,7 * * * * * (second minute hour day month weekday, UTC)"),
        (
            {"day": 1, "hour": 3, "minute": 0, "second": 0},
            "0 0 3 1 * * (second minute hour day month weekday, UTC)",
        ),
    ],
)
def test_cron_schedules_are_described(schedule: Schedule, words: str) -> None:
    assert describe_schedule(schedule) == words


class TextBetweenChecks(HTMLParser):
    """The text directly inside the health check line (not inside its parts)."""

    def __init__(self) -> None:
        super().__init__()
        self.depth = 0
        self.loose: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if self.depth or ("class", "checks") in attrs:
            self.depth += 1

    def handle_endtag(self, tag: str) -> None:
        self.depth = max(self.depth - 1, 0)

    def handle_data(self, data: str) -> None:
        if self.depth == 1:
            self.loose.append(data.strip())


async def test_the_health_check_line_has_no_stray_separator(
    client: Client, web_resources: Resources, redis: Redis
) -> None:
    report = {
        "checked_at": dt.datetime.now(dt.UTC).isoformat(),
        "database": {"ok": True, "ms": 2},
        "redis": {"ok": True, "ms": 1},
        "telegram": {"ok": False, "error": "timeout"},
    }
    await redis.set(HEALTH_KEY, json.dumps(report), ex=60)
    await log_in(client)
    summary = (await (await client.get("/dashboard/fragments?names=summary")).json())["fragments"]["summary"]
    assert "Health check" in summary and "timeout" in summary
    parser = TextBetweenChecks()
    parser.feed(summary)
    assert [text for text in parser.loose if text] == []  # every piece is one span: no loose " : "


HOSTILE = "<script>alert(1)</script>"


async def test_job_names_and_arguments_are_escaped_on_every_page(
    client: Client, web_resources: Resources, redis: Redis, session_factory: Any
) -> None:
    await web_resources.pool.enqueue_job(HOSTILE, note=HOSTILE, _job_id=f"id-{HOSTILE}")
    await web_resources.pool.enqueue_job(HOSTILE, note=HOSTILE, _defer_by=600)
    await store_result(redis, f"r-{HOSTILE}", HOSTILE, success=False, result=RuntimeError(HOSTILE))
    await insert_failure(
        session_factory,
        job_id=f"f-{HOSTILE}",
        job_name=HOSTILE,
        queue=Queue.FAST.value,
        arguments={"note": HOSTILE},
        error=f"RuntimeError: {HOSTILE}",
        traceback_text=f"Traceback: {HOSTILE}",
        tries=1,
    )
    async with session_factory.begin() as session:
        session.add(Broadcast(created_by=1, text=HOSTILE, target="all", status="running", total=3))
    metrics = JobCounters()
    metrics.record(HOSTILE, Outcome.SUCCEEDED, 0.1)
    await metrics.flush(redis)
    await log_in(client)
    shown = 0
    for path in (
        "/dashboard",
        "/dashboard/jobs",
        "/dashboard/failures",
        "/dashboard/stats",
        "/dashboard/broadcasts",
    ):
        body = await (await client.get(path + f"?notice={HOSTILE}")).text()
        assert "<script>" not in body, path
        assert "&lt;script&gt;alert(1)&lt;/script&gt;" in body, path
        shown += body.count("&lt;script&gt;")
    sections = await (
        await client.get(f"/dashboard/fragments?names={','.join(FRAGMENTS)}&q=%3Cscript")
    ).json()
    for name, html in sections["fragments"].items():
        assert "<script>" not in html, name
    assert shown > 10
