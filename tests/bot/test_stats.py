"""/stats end to end (the bot polling the sandbox, real PostgreSQL and Redis): today live from messages,
the last 7 days (the ended days from daily_stats, today live), the streak, the daily challenge by level on
one line, stars and the next milestone the streak can still earn; in ru and uk."""

from __future__ import annotations

import datetime as dt
from collections.abc import AsyncIterator
from typing import Literal

import pytest
from sqlalchemy import update

from mluv.db.models import DailyStats, User
from mluv.domain.progress import day_bounds, local_date
from mluv.i18n import t
from mluv.settings import Settings
from tests.workers.job_harness import Harness, bot_with_workers, job_harness

pytestmark = [pytest.mark.integration, pytest.mark.e2e]

LEARNER = 620_000_001
PRAGUE = "Europe/Prague"
LANGUAGES = ["ru", "uk"]


@pytest.fixture
async def harness(settings: Settings, clean_tables: None, redis: object) -> AsyncIterator[Harness]:
    async with job_harness(settings) as prepared:
        yield prepared


async def learner(
    harness: Harness, lang: str, *, level: str, stars: int, streak: int, longest: int, milestones: list[int]
) -> dt.date:
    today = local_date(dt.datetime.now(dt.UTC), PRAGUE)
    await harness.add_learner(
        LEARNER, language=lang, streak=streak, longest=longest, last_practice=today, milestones=milestones
    )
    async with harness.resources.session_factory.begin() as session:
        await session.execute(update(User).where(User.id == LEARNER).values(level=level, stars=stars))
    return today


async def add_day(harness: Harness, day: dt.date, messages: int, words: int, avg: float | None) -> None:
    async with harness.resources.session_factory.begin() as session:
        session.add(
            DailyStats(
                user_id=LEARNER, date=day, messages_count=messages, words_count=words, correctness_avg=avg
            )
        )


async def ask_stats(harness: Harness) -> str:
    async with bot_with_workers(harness):
        await harness.sandbox.send_text(LEARNER, "/stats")
        (answer,) = await harness.sandbox.messages(LEARNER, wait_for=1, within=15)
    return answer["text"] or ""


@pytest.mark.parametrize("lang", LANGUAGES)
async def test_stats_show_today_the_week_the_streak_stars_and_the_next_milestone(
    harness: Harness, lang: Literal["ru", "uk"]
) -> None:
    today = await learner(harness, lang, level="intermediate", stars=15, streak=4, longest=9, milestones=[3])
    await add_day(harness, today - dt.timedelta(days=1), 3, 30, 80.0)
    await add_day(harness, today - dt.timedelta(days=3), 1, 10, None)  # nothing reviewed that day
    await add_day(harness, today - dt.timedelta(days=7), 5, 50, 10.0)  # 8 days ago: not in the week
    # Today, live: two reviewed messages of 5 words at 90 %.
    await harness.add_messages(LEARNER, day_bounds(today, PRAGUE)[0] + dt.timedelta(seconds=1), count=2)

    text = await ask_stats(harness)

    # 7 days: 3 + 1 + 2 messages, 30 + 10 + 10 words; (30 × 80 + 10 × 90) / 40 = 82.5 → 83 %.
    assert text.splitlines() == [
        *t(lang, "stats", messages=2, words=10, streak=4, longest=9, done=2, goal=5).splitlines(),
        t(lang, "stats-week-correctness", messages=6, words=50, correctness=83),
        t(lang, "stats-stars", stars=15),
        t(lang, "stats-next-milestone", left=3, days=7, stars=10),
    ]


@pytest.mark.parametrize("lang", LANGUAGES)
async def test_yesterday_not_yet_in_daily_stats_is_counted_live(
    harness: Harness, lang: Literal["ru", "uk"]
) -> None:
    # West of UTC the nightly run writes yesterday only the next night: until then it comes from messages.
    today = await learner(harness, lang, level="intermediate", stars=0, streak=1, longest=1, milestones=[])
    await add_day(harness, today - dt.timedelta(days=2), 1, 10, None)
    yesterday = day_bounds(today - dt.timedelta(days=1), PRAGUE)[0] + dt.timedelta(hours=12)
    await harness.add_messages(LEARNER, yesterday, count=3)

    text = await ask_stats(harness)

    # 1 + 3 messages, 10 + 15 words; only yesterday's 15 words were reviewed, at 90 %.
    assert t(lang, "stats-week-correctness", messages=4, words=25, correctness=90) in text.splitlines()


@pytest.mark.parametrize("lang", LANGUAGES)
async def test_a_beginner_done_for_today_sees_the_challenge_once_and_skips_paid_milestones(
    harness: Harness, lang: Literal["ru", "uk"]
) -> None:
    # Streak 2 with the 3-, 7- and 14-day milestones paid in an earlier streak: the next one is 30 days.
    today = await learner(
        harness, lang, level="beginner", stars=35, streak=2, longest=20, milestones=[3, 7, 14]
    )
    await harness.add_messages(
        LEARNER, day_bounds(today, PRAGUE)[0] + dt.timedelta(seconds=1), count=3, correctness=None
    )

    text = await ask_stats(harness)

    lines = text.splitlines()
    assert lines == [
        *t(lang, "stats-completed", messages=3, words=15, streak=2, longest=20, goal=3).splitlines(),
        t(lang, "stats-week", messages=3, words=15),  # nothing reviewed yet: no correctness
        t(lang, "stats-stars", stars=35),
        t(lang, "stats-next-milestone", left=28, days=30, stars=50),
    ]
    assert sum("🎯" in line for line in lines) == 1  # the challenge line once


@pytest.mark.parametrize("lang", LANGUAGES)
async def test_every_milestone_paid(harness: Harness, lang: Literal["ru", "uk"]) -> None:
    await learner(
        harness, lang, level="advanced", stars=285, streak=120, longest=120, milestones=[3, 7, 14, 30, 100]
    )

    text = await ask_stats(harness)

    assert text.splitlines()[-3:] == [
        t(lang, "stats-week", messages=0, words=0),
        t(lang, "stats-stars", stars=285),
        t(lang, "stats-milestones-done"),
    ]
    assert text.startswith(t(lang, "stats", messages=0, words=0, streak=120, longest=120, done=0, goal=7))
