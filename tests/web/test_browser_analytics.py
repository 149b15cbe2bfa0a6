"""The analytics page in real headless Chromium at phone and desktop sizes: reached from the navigation,
the window chosen with its links, charts drawn with their figures, no CSP violation, nothing wider than
the screen; screenshots analytics-{phone,desktop}.png (MLUV_SCREENSHOTS=docs/screenshots, as test_browser).
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest
from playwright.async_api import Browser, expect
from sqlalchemy import text

from tests.conftest import REPO_ROOT
from tests.web.test_browser import DESKTOP, PHONE, Live, browser, live, logged_in  # noqa: F401 - fixtures

pytestmark = [pytest.mark.integration, pytest.mark.e2e]

HOSTILE = "<img src=x onerror=alert(1)>"

# A month of a small school: 300 learners, ~6,000 messages, the nightly rows, streaks, deliveries, snapshots.
SEED = (
    "SELECT setseed(0.3)",
    f"""INSERT INTO users (id, first_name, created_at, last_active_at, is_active, is_blocked)
        SELECT g, CASE WHEN g = 7 THEN '{HOSTILE}' ELSE 'Learner ' || g END,
               now() - (g % 60) * INTERVAL '1 day' - random() * INTERVAL '1 day',
               now() - random() * INTERVAL '10 days', g % 25 <> 0, g % 25 = 0
        FROM generate_series(1, 300) AS g""",
    """INSERT INTO messages (user_id, text, word_count, correctness, created_at)
        SELECT 1 + (g * 7) % 300, 'Ahoj', 3 + (random() * 30)::int,
               CASE WHEN r < 0.08 THEN NULL WHEN r < 0.45 THEN 100 WHEN r < 0.8 THEN 80 + (random() * 19)::int
                    ELSE (random() * 79)::int END,
               now() - random() * INTERVAL '30 days'
        FROM generate_series(1, 6000) AS g, LATERAL (SELECT random() + g * 0 AS r) AS x""",
    """INSERT INTO daily_stats (user_id, date, messages_count, words_count)
        SELECT user_id, (created_at AT TIME ZONE 'UTC')::date, count(*), sum(word_count)
        FROM messages GROUP BY 1, 2""",
    """INSERT INTO streaks (user_id, current, longest)
        SELECT id, c, c FROM users, LATERAL (SELECT (power(random(), 2) * 40)::int + id * 0 AS c) AS x""",
    """INSERT INTO deliveries (kind, recipient_id, business_key, status, created_at)
        SELECT (ARRAY['feedback', 'reminder', 'challenge'])[1 + g % 3], g, 'b' || g,
               CASE WHEN r < 0.9 THEN 'sent' WHEN r < 0.96 THEN 'blocked' ELSE 'failed' END,
               now() - random() * INTERVAL '30 days'
        FROM generate_series(1, 4000) AS g, LATERAL (SELECT random() + g * 0 AS r) AS x""",
    """INSERT INTO platform_metrics (captured_at, total_users, active_users_1d, active_users_7d)
        SELECT now() - n * INTERVAL '6 hours', 300 - n, 60 + n % 15, 180 - n % 20
        FROM generate_series(0, 4 * 30) AS n""",
    "REFRESH MATERIALIZED VIEW weekly_leaderboard",
)


async def seed(server: Live) -> None:
    async with server.session_factory.begin() as session:
        for statement in SEED:
            await session.execute(text(statement))


@pytest.mark.parametrize(("device", "viewport"), [("desktop", DESKTOP), ("phone", PHONE)])
async def test_analytics_page(
    browser: Browser,  # noqa: F811
    live: Live,  # noqa: F811
    tmp_path: Path,
    device: str,
    viewport: dict[str, int],
) -> None:
    await seed(live)
    context = await logged_in(browser, live, viewport)
    page = await context.new_page()
    violations: list[str] = []
    page.on("console", lambda message: violations.append(message.text) if message.type == "error" else None)
    await page.goto(f"{live.url}/dashboard")
    await page.get_by_role("navigation", name="Sections").get_by_role("link", name="Analytics").click()
    await expect(page).to_have_url(f"{live.url}/dashboard/analytics")
    await expect(page.locator("h1.page-title")).to_have_text("Analytics")
    await expect(page.locator('.chip[aria-current="true"]')).to_have_text("30 days")
    await expect(page.locator('[data-tile="learners"]')).to_have_text("300")
    messages = page.locator('[data-chart="messages"]')
    assert await messages.locator("svg rect").count() >= 28  # a bar for (almost) every day of the month
    reviews = page.locator('[data-chart="reviews"] svg')
    await expect(reviews).to_have_attribute(
        "aria-label", re.compile(r"^Reviews by outcome per day, .* no corrections \d")
    )
    assert await reviews.locator("rect title").count() > 30  # every segment of every bar says its value
    # The figures behind a chart, as a table.
    await messages.get_by_text("Figures").click()
    await expect(messages.locator("table tbody tr")).to_have_count(30)
    # The leaderboard shows a hostile name as text.
    await expect(page.locator("table.leaderboard")).to_contain_text("Learner")
    assert await page.locator("img").count() == 0
    # Another window.
    await page.get_by_role("link", name="7 days").click()
    await expect(page).to_have_url(f"{live.url}/dashboard/analytics?days=7")
    await expect(page.locator('.chip[aria-current="true"]')).to_have_text("7 days")
    # A bar per day (today's may still be empty just after midnight).
    assert await page.locator('[data-chart="messages"] svg rect').count() in {6, 7}
    assert await page.locator('[data-chart^="deliveries-"]').count() == 3
    # Nothing wider than the window, on a phone too.
    width = await page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
    assert width <= 0, f"{width}px wider than the window"
    assert violations == []
    target = Path(os.environ.get("MLUV_SCREENSHOTS") or tmp_path)
    target = target if target.is_absolute() else REPO_ROOT / target
    target.mkdir(parents=True, exist_ok=True)
    await page.goto(f"{live.url}/dashboard/analytics")
    file = target / f"analytics-{device}.png"
    # Whole page on a desktop; a phone shows its first screen (as test_browser's screenshots).
    await page.screenshot(path=str(file), full_page=device == "desktop")
    assert file.stat().st_size > 10_000
    await context.close()
