"""Jobs past Flower in real headless Chromium, with in-process workers on real PostgreSQL and Redis: run a
cron now (twice: once), retry dead letters in bulk, enqueue a job by hand through its form, follow a run
to its page and see the workers, at phone and desktop sizes; screenshots job-run-* and workers-*.

Fixtures and helpers are test_browser's (Chromium at /usr/bin/chromium; MLUV_SCREENSHOTS=docs/screenshots).
"""

# ruff: noqa: F811 - test_browser's fixtures (browser, live) are imported by name

from __future__ import annotations

import asyncio
import datetime as dt
import os
from pathlib import Path

import pytest
from playwright.async_api import Browser, Page, expect
from sqlalchemy import func, select

from mluv.db.models import CronRun, JobFailure
from mluv.jobs.declare import registry
from tests.conftest import REPO_ROOT
from tests.web import dashboard_jobs
from tests.web.test_browser import DESKTOP, PHONE, Live, browser, eventually, live, logged_in  # noqa: F401 - fixtures

pytestmark = [pytest.mark.integration, pytest.mark.e2e]


def accept_dialogs(page: Page) -> None:
    page.on("dialog", lambda dialog: asyncio.ensure_future(dialog.accept()))


async def _cron_status(live: Live, name: str, key: str) -> str | None:
    async with live.session_factory() as session:
        status: str | None = await session.scalar(
            select(CronRun.status).where(CronRun.cron_name == name, CronRun.business_key == key)
        )
    return status


async def _failures(live: Live, status: str) -> int:
    async with live.session_factory() as session:
        count = await session.scalar(
            select(func.count()).select_from(JobFailure).where(JobFailure.status == status)
        )
    return count or 0


async def test_run_a_cron_now_and_retry_dead_letters_from_the_web(browser: Browser, live: Live) -> None:
    spec = registry.crons["health_check"]
    tick = spec.previous_tick(dt.datetime.now(dt.UTC))
    assert tick is not None
    key = spec.business_key(tick)
    context = await logged_in(browser, live)
    page = await context.new_page()
    accept_dialogs(page)
    await page.goto(f"{live.url}/dashboard/cron")
    await page.locator("#cron a", has_text="health_check").click()
    await expect(page.locator("h1.page-title")).to_have_text("Job · health_check")
    await page.get_by_role("button", name="Run now").click()
    await expect(page.locator("#toast")).to_contain_text(f"enqueued for its current slot {key}")
    await eventually(lambda: _cron_status_is(live, key, "succeeded"), what="the cron's run")
    await page.get_by_role("button", name="Run now").click()
    await expect(page.locator("#toast")).to_contain_text("not run again")
    async with live.session_factory() as session:
        runs = await session.scalar(
            select(func.count()).select_from(CronRun).where(CronRun.business_key == key)
        )
    assert runs == 1

    redis = live.resources.pool
    await redis.set(dashboard_jobs.BROKEN_KEY, 1)
    for token in ("bulk-1", "bulk-2"):
        await dashboard_jobs.dashboard_test_flaky.enqueue(redis, token=token)
    await eventually(lambda: _at_least(live, "open", 2), what="two dead letters")
    await redis.delete(dashboard_jobs.BROKEN_KEY)
    await page.goto(f"{live.url}/dashboard/failures")
    boxes = page.locator('input[form="bulk-failures"]')
    await expect(boxes).to_have_count(2)
    await boxes.nth(0).check()
    await boxes.nth(1).check()
    seen = await page.locator("#live span").inner_text()
    await expect(page.locator("#live span")).not_to_have_text(seen)  # a live refresh: the ticks survive it
    await expect(boxes.nth(0)).to_be_checked()
    await page.get_by_role("button", name="Retry selected").click()
    await expect(page.locator(".banner.info")).to_contain_text("2 dead letter(s) retried")
    await eventually(lambda: _at_least(live, "retried", 2), what="two retried letters")
    async with live.session_factory() as session:
        retried = (await session.scalars(select(JobFailure.retried_job_id))).all()
    run_id = sorted(r for r in retried if r)[0]
    await page.goto(f"{live.url}/dashboard/jobs?q={run_id}")
    await page.locator("#results a", has=page.locator(f'code[title="{run_id}"]')).click()
    await expect(page.locator("h1.page-title")).to_have_text("Job run · dashboard_test_flaky")

    async def tried() -> bool:
        await page.reload()  # a try is written within a second of its end (batched like the metrics)
        return await page.locator("td[data-label='Worker']").count() > 0

    await eventually(tried, what="the retried run's try")
    await expect(page.locator("td[data-label='Outcome']").first).to_contain_text("succeeded")
    await expect(page.locator("td[data-label='Worker']").first).to_contain_text(":fast")
    await context.close()


async def _cron_status_is(live: Live, key: str, status: str) -> bool:
    return await _cron_status(live, "health_check", key) == status


async def _at_least(live: Live, status: str, count: int) -> bool:
    return await _failures(live, status) >= count


INSIDE_ROWS = """(root) => [...document.querySelectorAll(`${root} tbody tr`)].every((row) => {
  const right = row.getBoundingClientRect().right;
  return [...row.querySelectorAll("td *")].every((e) => e.getBoundingClientRect().right <= right + 0.5);
})"""


@pytest.mark.parametrize("viewport", [PHONE, DESKTOP], ids=["phone", "desktop"])
async def test_enqueue_by_hand_then_follow_the_run(
    browser: Browser, live: Live, viewport: dict[str, int], tmp_path: Path
) -> None:
    device = "phone" if viewport is PHONE else "desktop"
    target = Path(os.environ.get("MLUV_SCREENSHOTS") or tmp_path)
    target = target if target.is_absolute() else REPO_ROOT / target
    target.mkdir(parents=True, exist_ok=True)
    context = await logged_in(browser, live, viewport)
    page = await context.new_page()
    await page.goto(f"{live.url}/dashboard/job/ping")
    await page.get_by_label("token").fill(f"by hand on a {device}")
    await page.get_by_label("work_seconds").fill("50")
    await page.get_by_role("button", name="Enqueue ping").click()
    await expect(page.locator(".field.invalid .field-error")).to_contain_text("less than or equal to 20")
    await page.get_by_label("work_seconds").fill("3")
    await page.get_by_role("button", name="Enqueue ping").click()
    await expect(page.locator(".banner.info")).to_contain_text("ping enqueued by hand")
    await expect(page.locator("h1.page-title")).to_have_text("Job run · ping")

    async def running() -> bool:
        await page.reload()
        return "Running on" in await page.locator("#job-run").inner_text()

    await eventually(running, what="the run on a worker")
    await page.goto(f"{live.url}/dashboard/workers")
    rows = page.locator("#workers-page tbody tr")
    await expect(rows).to_have_count(2)  # the in-process fast and long workers
    await expect(page.locator("#workers-page a").first).to_be_visible()  # the ping it runs
    assert await page.evaluate("document.documentElement.scrollWidth <= window.innerWidth + 1")
    # Every cell's content stays inside its row (on a phone, its card): a running job's id wraps.
    assert await page.evaluate(INSIDE_ROWS, "#workers-page"), "a cell's content sticks out of its row"
    await page.screenshot(path=str(target / f"workers-{device}.png"), full_page=device == "desktop")
    await page.locator("#workers-page a").first.click()

    async def finished() -> bool:
        await page.reload()
        done = "succeeded" in await page.locator("#job-run h2").inner_text()
        return done and await page.locator("td[data-label='Worker']").count() > 0

    await eventually(finished, what="the run's result")
    await expect(page.locator("#job-run")).to_contain_text(f"by hand on a {device}")
    await expect(page.locator("td[data-label='Worker']").first).to_contain_text(":fast")
    assert await page.evaluate("document.documentElement.scrollWidth <= window.innerWidth + 1")
    await page.screenshot(path=str(target / f"job-run-{device}.png"), full_page=device == "desktop")
    await context.close()
