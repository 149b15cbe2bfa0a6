"""The compose page in real headless Chromium at phone and desktop width: compose a formatted post to one
language, preview it as learners will see it, schedule it, and cancel another waiting post.

`MLUV_SCREENSHOTS=docs/screenshots` writes compose-{phone,desktop}.png there (else a temporary directory).
"""

from __future__ import annotations

import datetime as dt
import os
from pathlib import Path

import pytest
from playwright.async_api import Browser, expect
from sqlalchemy import select

from mluv.db.models import ScheduledMessage, User
from mluv.domain.audience import Audience, PostOptions
from mluv.domain.post_format import PostFormat
from mluv.telegram import audiences, posts
from tests.conftest import REPO_ROOT
from tests.web.test_browser import DESKTOP, PHONE, Live, browser, live, logged_in  # noqa: F401 - fixtures

pytestmark = [pytest.mark.integration, pytest.mark.e2e]


async def prepare(app: Live) -> int:
    """Learners in both languages, a channel, and a post waiting to be cancelled; the post's id."""
    now = dt.datetime.now(dt.UTC)
    async with app.session_factory.begin() as session:
        session.add_all(
            User(id=user_id, first_name="Learner", language=language, last_active_at=now)
            for user_id, language in ((71, "uk"), (72, "uk"), (73, "ru"))
        )
        await audiences.add_channel(session, chat_id=-1001234567890, title="Mluv novinky", added_by="Olga")
        return await posts.schedule_post(
            session,
            started_by=posts.StartedBy(operator="Olga"),
            text="Starý plán: zrušit",
            send_at=now + dt.timedelta(hours=2),
            options=PostOptions(Audience(language="ru"), PostFormat.PLAIN),
        )


@pytest.mark.parametrize("device", ["phone", "desktop"])
async def test_compose_preview_schedule_and_cancel(
    browser: Browser,  # noqa: F811 - the fixture imported above
    live: Live,  # noqa: F811
    device: str,
    tmp_path: Path,
) -> None:
    other = await prepare(live)
    context = await logged_in(browser, live, PHONE if device == "phone" else DESKTOP)
    page = await context.new_page()
    await page.goto(f"{live.url}/dashboard/compose")
    await expect(page.locator("h1.page-title")).to_have_text("Compose")
    await expect(page.get_by_role("button", name="Send now")).to_be_disabled()  # preview first

    await page.get_by_label("Text", exact=True).fill("<b>Nová lekce</b> je tady — <i>pojďte</i>!")
    await page.get_by_label("Telegram HTML").check()
    await page.get_by_label("Learners' language").select_option("uk")
    at = (dt.datetime.now(dt.UTC) + dt.timedelta(days=1)).replace(hour=9, minute=0, second=0, microsecond=0)
    await page.get_by_label("Send at (UTC)").fill(at.strftime("%Y-%m-%dT%H:%M"))
    await page.get_by_label("Your name").fill("Olga")
    await page.get_by_role("button", name="Preview").click()

    preview = page.locator(".tg-bubble")
    await expect(preview.locator("b")).to_have_text("Nová lekce")
    await expect(preview.locator("i")).to_have_text("pojďte")
    await expect(page.locator('[data-figure="audience-size"]')).to_have_text("2")
    await expect(page.locator('[data-figure="audience"]')).to_have_text("learners using uk")
    # The preview fits the window: nothing scrolls sideways.
    assert await page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
    target = Path(os.environ.get("MLUV_SCREENSHOTS") or tmp_path)
    target = target if target.is_absolute() else REPO_ROOT / target
    target.mkdir(parents=True, exist_ok=True)
    await preview.scroll_into_view_if_needed()  # a phone shows the preview, a desktop the whole page
    await page.screenshot(path=str(target / f"compose-{device}.png"), full_page=device == "desktop")

    await page.get_by_role("button", name="Schedule").click()
    await expect(page.locator(".banner.info")).to_contain_text(
        "scheduled for " + at.strftime("%Y-%m-%d 09:00")
    )
    waiting = page.locator("#scheduled-posts tr", has_text="Nová lekce je tady")
    await expect(waiting).to_contain_text("learners using uk")
    await expect(waiting).to_contain_text("Olga")

    await page.get_by_role("button", name=f"Cancel post #{other}").click()
    await expect(page.locator(".banner.info")).to_contain_text(f"post #{other} cancelled")
    await expect(page.locator("#scheduled-posts tr", has_text="Starý plán")).to_have_count(0)
    await expect(waiting).to_have_count(1)
    async with live.session_factory() as session:
        rows = {
            r.text: (r.status, r.audience_language, r.parse_mode, r.send_at)
            for r in await session.scalars(select(ScheduledMessage))
        }
    assert rows == {
        "Starý plán: zrušit": ("cancelled", "ru", None, rows["Starý plán: zrušit"][3]),
        "<b>Nová lekce</b> je tady — <i>pojďte</i>!": ("scheduled", "uk", "HTML", at),
    }
    await context.close()
