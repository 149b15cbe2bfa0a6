"""The dashboard in real headless Chromium (Debian's /usr/bin/chromium driven by Playwright): log in, watch a
job run, retry a dead letter, watch a broadcast's progress bar move, and the refusals. In-process workers run
the jobs, against real PostgreSQL and Redis.

Without /usr/bin/chromium these tests skip, or fail with CI=true. `MLUV_SCREENSHOTS=docs/screenshots`
makes test_screenshots write the documentation's screenshots there (else into a temporary directory).
"""

from __future__ import annotations

import asyncio
import datetime as dt
import os
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from playwright.async_api import Browser, BrowserContext, Locator, Page, async_playwright, expect
from redis.asyncio import Redis
from sqlalchemy import func, select, update

import workers as catalogue  # noqa: F401 - registers the jobs the in-process workers run (broadcast, crons)
from mluv.db.models import Broadcast, CronRun, Delivery, JobFailure
from mluv.jobs.failures import insert_failure
from mluv.jobs.queues import Queue
from mluv.resources import Resources
from mluv.settings import Settings
from mluv.telegram.broadcasts import BROADCAST_KIND, broadcast_key
from mluv.web.app import create_app
from mluv.web.auth import SESSION_COOKIE
from mluv.worker import InProcessWorkers
from tests.conftest import REPO_ROOT, in_ci, unavailable
from tests.web import dashboard_jobs
from tests.web.conftest import BOT_TOKEN, DASHBOARD_TOKEN

pytestmark = [pytest.mark.integration, pytest.mark.e2e]

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
DESKTOP = {"width": 1280, "height": 860}
PHONE = {"width": 390, "height": 844}
WAIT_MS = 15_000
expect.set_options(timeout=WAIT_MS)


@dataclass
class Live:
    url: str
    resources: Resources
    settings: Settings

    @property
    def session_factory(self) -> Any:
        return self.resources.session_factory


@pytest.fixture
async def browser() -> AsyncIterator[Browser]:
    if not CHROMIUM.exists():
        unavailable(
            f"{CHROMIUM} is missing: apt-get install -y chromium (browser tests"
            f"{' must run in CI' if in_ci() else ' skipped'})"
        )
    async with async_playwright() as playwright:
        launched = await playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            yield launched
        finally:
            await launched.close()


@pytest.fixture
async def live(
    web_settings: Settings, redis: Redis, clean_tables: None, unused_tcp_port: int
) -> AsyncIterator[Live]:
    # A short completion wait: teardown cancels the screenshots' long jobs instead of waiting for them.
    settings = web_settings.model_copy(
        update={"web_port": unused_tcp_port, "worker_poll_delay": 0.02, "worker_completion_wait": 1}
    )
    resources = await Resources.create(settings)
    runner = web.AppRunner(create_app(resources), access_log=None)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", unused_tcp_port).start()
    workers = InProcessWorkers(resources)
    await workers.start()
    try:
        yield Live(f"http://127.0.0.1:{unused_tcp_port}", resources, settings)
    finally:
        await workers.stop()
        await runner.cleanup()
        await resources.close()


async def logged_in(browser: Browser, live: Live, viewport: dict[str, int] = DESKTOP) -> BrowserContext:
    context = await browser.new_context(viewport=viewport)  # type: ignore[arg-type]
    context.set_default_timeout(WAIT_MS)
    page = await context.new_page()
    await page.goto(f"{live.url}/dashboard")
    await expect(page).to_have_url(f"{live.url}/dashboard/login?next=%2Fdashboard")
    await page.get_by_label("Token or password").fill(DASHBOARD_TOKEN)
    await page.get_by_role("button", name="Log in").click()
    await expect(page).to_have_url(f"{live.url}/dashboard")
    await expect(page.locator("h1.page-title")).to_have_text("Overview")
    await page.close()
    return context


async def eventually(check: Callable[[], Awaitable[Any]], within: float = 15.0, what: str = "") -> Any:
    deadline = time.monotonic() + within
    while True:
        value = await check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what or check}")
        await asyncio.sleep(0.1)


def row(page: Page, section: str, job_id: str) -> Locator:
    """The table row of a job (ids are shortened on screen; the full id is the title of its <code>)."""
    return page.locator(f"{section} tr", has=page.locator(f'code[title="{job_id}"]'))


async def not_reloaded(page: Page) -> None:
    """Everything below happens without a reload: a marker set on the window survives."""
    await page.evaluate("window.__mluvMarker = 'still here'")


async def assert_not_reloaded(page: Page) -> None:
    assert await page.evaluate("window.__mluvMarker") == "still here"


async def test_log_in_and_watch_a_job_run(browser: Browser, live: Live) -> None:
    context = await logged_in(browser, live)
    page = await context.new_page()
    await page.goto(f"{live.url}/dashboard/jobs")
    await not_reloaded(page)
    job = await dashboard_jobs.dashboard_test_sleep.enqueue(live.resources.pool, seconds=2.5, note="watch me")
    assert job is not None
    running = row(page, "#running", job.job_id)
    await expect(running).to_be_visible()
    await expect(running).to_contain_text("dashboard_test_sleep")
    await expect(running).to_contain_text("watch me")
    await expect(running.locator('td[data-label="Worker"]')).to_contain_text(":fast")
    result = row(page, "#results", job.job_id)
    await expect(result).to_contain_text("success")
    await expect(row(page, "#running", job.job_id)).to_have_count(0)
    duration = await result.locator('td[data-label="Duration"]').inner_text()
    assert duration.endswith(" s") and 2.4 <= float(duration.split()[0]) < 10, duration
    await assert_not_reloaded(page)
    # The cookie the login set is the strict, script-proof kind.
    (cookie,) = [c for c in await context.cookies() if c["name"] == SESSION_COOKIE]
    assert cookie["httpOnly"] is True and cookie["sameSite"] == "Strict" and cookie["path"] == "/dashboard"
    await context.close()


async def test_a_failing_job_lands_in_dead_letters_and_is_retried(browser: Browser, live: Live) -> None:
    redis = live.resources.pool
    await redis.set(dashboard_jobs.BROKEN_KEY, 1)
    context = await logged_in(browser, live)
    page = await context.new_page()
    await page.goto(f"{live.url}/dashboard/failures")
    await not_reloaded(page)
    job = await dashboard_jobs.dashboard_test_flaky.enqueue(live.resources.pool, token="retry-me")
    assert job is not None
    letter = page.locator("article.failure", has_text="upstream refused retry-me")
    await expect(letter).to_be_visible()
    await expect(letter).to_contain_text("dashboard_test_flaky")
    await letter.locator("summary", has_text="Traceback").click()
    await expect(letter.locator("pre.traceback")).to_contain_text("RuntimeError: upstream refused retry-me")

    await redis.delete(dashboard_jobs.BROKEN_KEY)  # the cause is fixed
    await letter.get_by_role("button", name="Retry").click()
    await expect(page.locator("#toast")).to_contain_text("re-enqueued as job")
    await expect(page.locator("article.failure", has_text="upstream refused retry-me")).to_have_count(0)
    async with live.session_factory() as session:
        (failure_id,) = (await session.scalars(select(JobFailure.id))).all()
    retried_id = f"{job.job_id}:retry{failure_id}"
    await page.goto(f"{live.url}/dashboard/jobs?q={retried_id}")
    await expect(row(page, "#results", retried_id)).to_contain_text("success")
    await page.goto(f"{live.url}/dashboard/failures?status=retried")
    await expect(page.locator("article.failure")).to_contain_text(f"retried as {retried_id}")
    await context.close()


async def add_broadcast(live: Live, **values: Any) -> int:
    """A broadcast in flight, with a pending ledger row per recipient not yet sent: without them the
    reconciler (a cron at :30 of every minute) rightly completes it mid-test."""
    async with live.session_factory.begin() as session:
        row = Broadcast(created_by=1, target="all", started_at=dt.datetime.now(dt.UTC), **values)
        session.add(row)
        await session.flush()
        pending = int(values.get("total", 0)) - int(values.get("sent", 0)) if row.status == "running" else 0
        session.add_all(
            Delivery(kind=BROADCAST_KIND, recipient_id=recipient, business_key=broadcast_key(row.id))
            for recipient in range(1, pending + 1)
        )
        return int(row.id)


async def test_a_broadcast_progress_bar_moves_and_can_be_cancelled(browser: Browser, live: Live) -> None:
    broadcast_id = await add_broadcast(
        live, text="Ahoj všichni! Nová výzva dne.", status="running", total=400, sent=40
    )
    context = await logged_in(browser, live, PHONE)
    page = await context.new_page()
    await page.goto(f"{live.url}/dashboard")
    await not_reloaded(page)
    card = page.locator(f'article[data-broadcast="{broadcast_id}"]')
    await expect(card.locator("svg.bar")).to_have_attribute("data-filled", "10.0")
    await expect(card.locator('[data-figure="left"]')).to_have_text("360")
    async with live.session_factory.begin() as session:
        await session.execute(
            update(Broadcast).where(Broadcast.id == broadcast_id).values(sent=240, blocked=12, failed=4)
        )
    await expect(card.locator("svg.bar")).to_have_attribute("data-filled", "64.0")
    await expect(card.locator('[data-figure="sent"]')).to_have_text("240")
    await expect(card.locator('[data-figure="left"]')).to_have_text("144")
    await expect(card.locator('[data-figure="percent"]')).to_have_text("64%")
    await assert_not_reloaded(page)

    page.once("dialog", lambda dialog: asyncio.ensure_future(dialog.accept()))
    await card.get_by_role("button", name="Cancel").click()
    await expect(page.locator("#toast")).to_contain_text(f"broadcast #{broadcast_id} cancelled")
    await expect(card).to_have_count(0)  # the overview lists broadcasts in flight only
    async with live.session_factory() as session:
        row = await session.get(Broadcast, broadcast_id)
        assert row is not None and row.status == "cancelled"
    await context.close()


async def test_unauthenticated_requests_and_actions_without_csrf_are_refused(
    browser: Browser, live: Live
) -> None:
    broadcast_id = await add_broadcast(live, text="Ahoj", status="running", total=10)
    anonymous = await browser.new_context()
    page = await anonymous.new_page()
    await page.goto(f"{live.url}/dashboard/broadcasts")
    await expect(page).to_have_url(f"{live.url}/dashboard/login?next=%2Fdashboard%2Fbroadcasts")
    await page.get_by_label("Token or password").fill("not the token")
    await page.get_by_role("button", name="Log in").click()
    await expect(page.locator(".form-error")).to_have_text("Wrong token or password.")
    response = await page.request.post(
        f"{live.url}/dashboard/actions/cancel-broadcast", form={"broadcast_id": str(broadcast_id)}
    )
    assert response.status == 401
    assert (await page.request.get(f"{live.url}/dashboard/api/snapshot")).status == 401
    await anonymous.close()

    context = await logged_in(browser, live)
    page = await context.new_page()
    await page.goto(f"{live.url}/dashboard/broadcasts")
    url = f"{live.url}/dashboard/actions/cancel-broadcast"
    no_token = await page.request.post(url, form={"broadcast_id": str(broadcast_id)})
    assert no_token.status == 403
    assert (await no_token.json())["message"] == "invalid CSRF token"
    wrong = await page.request.post(url, form={"broadcast_id": str(broadcast_id), "csrf": "x" * 43})
    assert wrong.status == 403
    # What a hostile page could send from the operator's browser: refused although the cookie rides along.
    csrf = await page.locator('meta[name="csrf-token"]').get_attribute("content")
    assert csrf
    cross_site = await page.request.post(
        url,
        form={"broadcast_id": str(broadcast_id), "csrf": csrf},
        headers={"Origin": "https://evil.example"},
    )
    assert cross_site.status == 403
    async with live.session_factory() as session:
        row = await session.get(Broadcast, broadcast_id)
        assert row is not None and row.status == "running"
    await context.close()


async def test_the_root_opens_the_dashboard_and_hostile_names_are_shown_as_text(
    browser: Browser, live: Live
) -> None:
    hostile = "<img src=x onerror=alert(1)>"
    await live.resources.pool.enqueue_job(hostile, note=hostile, _defer_by=600)
    context = await logged_in(browser, live, PHONE)
    page = await context.new_page()
    dialogs: list[str] = []
    page.on("dialog", lambda dialog: dialogs.append(dialog.message))
    await page.goto(f"{live.url}/")
    await expect(page).to_have_url(f"{live.url}/dashboard")
    await page.goto(f"{live.url}/dashboard/jobs")
    waiting = page.locator("#waiting tr", has_text=hostile)
    await expect(waiting.locator('td[data-label="Job"]')).to_have_text(hostile)  # text, not an element
    await expect(page.locator("#waiting img")).to_have_count(0)
    await expect(page.locator("#live span")).to_contain_text("live ·")  # refreshed sections too
    await expect(page.locator("#waiting img")).to_have_count(0)
    assert dialogs == []
    await context.close()


# --- screenshots for docs/ -------------------------------------------------------------------------------


async def _realistic_moment(live: Live, redis: Redis) -> None:
    """Finished pings and reviews, dead letters, cron runs, broadcasts, then a few long jobs in flight."""
    from workers.maintenance import ping

    for n in range(14):
        job = await ping.enqueue(live.resources.pool, token=f"check-{n}", work_seconds=0.02 * (n % 5))
        assert job is not None
    await redis.set(dashboard_jobs.BROKEN_KEY, 1)
    for token in ("lesson-17", "report-42"):
        await dashboard_jobs.dashboard_test_flaky.enqueue(live.resources.pool, token=token)
    await insert_failure(
        live.session_factory,
        job_id="send_message:8112:ab3f",
        job_name="send_message",
        queue=Queue.FAST.value,
        arguments={"chat_id": 8112, "text": f"Ahoj! https://api.telegram.org/bot{BOT_TOKEN}/x"},
        error="TelegramBadRequest: Bad Request: message is too long",
        traceback_text="Traceback (most recent call last):\n  ...\nTelegramBadRequest: message is too long",
        tries=1,
    )
    async with live.session_factory.begin() as session:
        now = dt.datetime.now(dt.UTC).replace(microsecond=0)
        for minutes in (5, 10, 15):
            tick = now - dt.timedelta(minutes=minutes)
            session.add(
                CronRun(
                    cron_name="health_check",
                    business_key=tick.strftime("%Y-%m-%dT%H:%M:%SZ"),
                    business_date=tick.date(),
                    status="succeeded",
                    started_at=tick,
                    finished_at=tick + dt.timedelta(milliseconds=240),
                )
            )
    await add_broadcast(
        live,
        text="Nová týdenní výzva: napište 5 vět o svém víkendu!",
        status="running",
        total=1840,
        sent=1106,
        blocked=37,
        failed=4,
    )
    await add_broadcast(
        live, text="Ahoj! Dnes máme novou lekci.", status="completed", total=1790, sent=1752, blocked=38
    )
    await add_broadcast(live, text="Test broadcast", status="cancelled", total=1800, sent=212, blocked=3)
    await eventually(lambda: _open_failures(live, 3), what="three dead letters")
    for n in range(3):
        await dashboard_jobs.dashboard_test_sleep.enqueue(
            live.resources.pool, seconds=20.0, note=f"batch {n + 1} of 3"
        )
    await dashboard_jobs.dashboard_test_sleep.options(defer_by=900).enqueue(
        live.resources.pool, seconds=1.0, note="later today"
    )
    await dashboard_jobs.dashboard_test_sleep.options(defer_by=3600).enqueue(
        live.resources.pool, seconds=1.0, note="in an hour"
    )
    await asyncio.sleep(1.5)  # workers pick up the long jobs and flush their presence and metrics


async def _open_failures(live: Live, count: int) -> bool:
    async with live.session_factory() as session:
        n = await session.scalar(
            select(func.count()).select_from(JobFailure).where(JobFailure.status == "open")
        )
    return (n or 0) >= count


async def test_screenshots(browser: Browser, live: Live, tmp_path: Path) -> None:
    target = Path(os.environ.get("MLUV_SCREENSHOTS") or tmp_path)
    if not target.is_absolute():
        target = REPO_ROOT / target
    target.mkdir(parents=True, exist_ok=True)
    await _realistic_moment(live, live.resources.pool)
    pages = [
        ("overview", "/dashboard"),
        ("jobs", "/dashboard/jobs"),
        ("dead-letters", "/dashboard/failures"),
        ("cron", "/dashboard/cron"),
        ("metrics", "/dashboard/stats"),
        ("broadcasts", "/dashboard/broadcasts"),
    ]
    for device, viewport in (("desktop", DESKTOP), ("phone", PHONE)):
        context = await logged_in(browser, live, viewport)
        page = await context.new_page()
        for name, path in pages:
            if device == "phone" and name not in {"overview", "jobs", "dead-letters", "broadcasts"}:
                continue
            await page.goto(f"{live.url}{path}")
            await expect(page.locator("#live span")).to_contain_text("live ·")
            file = target / f"{name}-{device}.png"
            # Whole pages on a desktop; a phone shows its first screen (what one sees on opening the page).
            await page.screenshot(path=str(file), full_page=device == "desktop")
            assert file.stat().st_size > 10_000
        await context.close()
    login = await browser.new_page(viewport=PHONE)  # type: ignore[arg-type]
    await login.goto(f"{live.url}/dashboard/login")
    await login.screenshot(path=str(target / "login-phone.png"))
    await login.close()
