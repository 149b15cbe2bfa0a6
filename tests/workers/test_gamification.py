"""Gamification against real PostgreSQL and Redis and the Bot API sandbox: streak milestones award their
stars and congratulation exactly once (sequential, concurrent, after a crash), and streaks reset when the
learner's local yesterday had no practice."""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import AsyncIterator

import pytest

from mluv.db.gamification import lock_milestones
from mluv.domain.gamification import due_awards
from mluv.domain.progress import local_date
from mluv.i18n import t
from mluv.jobs import Queue, registry
from mluv.settings import Settings
from tests.workers.job_harness import Harness, bot_with_workers, job_harness, utc
from workers.gamification import (
    MILESTONE_KIND,
    award_streak_milestones,
    check_and_reset_streaks,
    record_awards,
)

pytestmark = pytest.mark.integration

LEARNER = 630_000_001
DAY = dt.date(2026, 11, 21)  # the local day the streak changed on: the award job's idempotency key
PRAGUE = "Europe/Prague"


@pytest.fixture
async def harness(settings: Settings, clean_tables: None, redis: object) -> AsyncIterator[Harness]:
    async with job_harness(settings) as prepared:
        yield prepared


def today_in(timezone: str) -> dt.date:
    return local_date(dt.datetime.now(dt.UTC), timezone)


def test_declarations() -> None:
    assert (award_streak_milestones.queue, award_streak_milestones.retry.max_tries) == (Queue.FAST, 5)
    values = award_streak_milestones.validate(user_id=42, day=dt.date(2026, 11, 21))
    assert award_streak_milestones.job_id_for(values) == "milestones:42:2026-11-21"
    assert registry.crons["check_and_reset_streaks"] is check_and_reset_streaks
    assert check_and_reset_streaks.minute == 5 and check_and_reset_streaks.hour is None  # hourly, UTC
    assert check_and_reset_streaks.retry.max_tries > 1


# --- milestones -----------------------------------------------------------------------------------------


async def test_a_milestone_is_awarded_once_however_often_the_job_runs(harness: Harness) -> None:
    await harness.add_learner(LEARNER, language="uk", streak=3, last_practice=today_in(PRAGUE))

    first = await harness.run(award_streak_milestones, user_id=LEARNER, day=DAY)
    again = await harness.run(award_streak_milestones, user_id=LEARNER, day=DAY)
    together = await asyncio.gather(
        *(harness.run(award_streak_milestones, user_id=LEARNER, day=DAY) for _ in range(4))
    )

    assert first == {"awarded": [3], "stars": 5, "deliveries": {"milestone:3": "sent"}}
    assert all(result["awarded"] == [] and result["stars"] == 0 for result in [again, *together])
    assert (await harness.user(LEARNER)).stars == 5
    assert (await harness.streak(LEARNER)).milestones_awarded == [3]
    assert await harness.texts(LEARNER) == [t("uk", "streak-milestone", days=3, stars=5)]
    (row,) = await harness.deliveries(LEARNER, MILESTONE_KIND)
    assert (row.business_key, row.status) == ("milestone:3", "sent")


async def test_concurrent_first_runs_award_once(harness: Harness) -> None:
    await harness.add_learner(LEARNER, streak=7, last_practice=today_in(PRAGUE), milestones=[3])

    results = await asyncio.gather(
        *(harness.run(award_streak_milestones, user_id=LEARNER, day=DAY) for _ in range(5))
    )

    assert sorted(tuple(result["awarded"]) for result in results) == [(), (), (), (), (7,)]
    assert (await harness.user(LEARNER)).stars == 10
    assert (await harness.streak(LEARNER)).milestones_awarded == [3, 7]
    assert await harness.texts(LEARNER) == [t("ru", "streak-milestone", days=7, stars=10)]


async def test_missed_milestones_are_all_awarded_once(harness: Harness) -> None:
    await harness.add_learner(LEARNER, streak=15, last_practice=today_in(PRAGUE))

    result = await harness.run(award_streak_milestones, user_id=LEARNER, day=DAY)

    assert result["awarded"] == [3, 7, 14] and result["stars"] == 35
    assert (await harness.user(LEARNER)).stars == 35
    assert await harness.texts(LEARNER) == [
        t("ru", "streak-milestone", days=days, stars=stars) for days, stars in ((3, 5), (7, 10), (14, 20))
    ]


@pytest.mark.parametrize(
    ("streak", "awarded"), [(0, []), (2, []), (6, [3]), (3, [3, 7]), (100, [3, 7, 14, 30, 100])]
)
async def test_nothing_is_awarded_below_a_new_milestone(
    harness: Harness, streak: int, awarded: list[int]
) -> None:
    # (3, [3, 7]): a learner who lost a 7-day streak and is back at 3 days is not paid again.
    await harness.add_learner(LEARNER, streak=streak, last_practice=today_in(PRAGUE), milestones=awarded)

    result = await harness.run(award_streak_milestones, user_id=LEARNER, day=DAY)

    assert result == {"awarded": [], "stars": 0, "deliveries": {}}
    assert (await harness.user(LEARNER)).stars == 0
    assert await harness.texts(LEARNER) == []


async def test_a_learner_without_a_streak_row_gets_nothing(harness: Harness) -> None:
    await harness.add_learner(LEARNER)
    assert await harness.run(award_streak_milestones, user_id=LEARNER, day=DAY) == {
        "awarded": [],
        "stars": 0,
        "deliveries": {},
    }


async def test_a_congratulation_left_pending_by_a_crash_is_sent_by_the_next_run(harness: Harness) -> None:
    await harness.add_learner(LEARNER, streak=3, last_practice=today_in(PRAGUE))
    # A run that committed its award and died before sending.
    async with harness.resources.session_factory.begin() as session:
        state = await lock_milestones(session, LEARNER)
        assert state is not None
        awards = due_awards(state.current, state.awarded)
        await record_awards(session, LEARNER, awards, {3: "🏆 3"}, job_id="crashed")
    assert (await harness.user(LEARNER)).stars == 5
    assert await harness.texts(LEARNER) == []

    result = await harness.run(award_streak_milestones, user_id=LEARNER, day=DAY)

    assert result == {"awarded": [], "stars": 0, "deliveries": {"milestone:3": "sent"}}
    assert (await harness.user(LEARNER)).stars == 5
    assert await harness.texts(LEARNER) == ["🏆 3"]
    await harness.run(award_streak_milestones, user_id=LEARNER, day=DAY)
    assert await harness.texts(LEARNER) == ["🏆 3"]


async def test_a_blocked_learner_keeps_the_stars_and_is_marked_inactive(harness: Harness) -> None:
    await harness.add_learner(LEARNER, streak=3, last_practice=today_in(PRAGUE))
    await harness.sandbox.set_chat_flags(LEARNER, blocked=True)

    result = await harness.run(award_streak_milestones, user_id=LEARNER, day=DAY)

    assert result["deliveries"] == {"milestone:3": "blocked"}
    user = await harness.user(LEARNER)
    assert (user.stars, user.is_active) == (5, False)
    await harness.run(award_streak_milestones, user_id=LEARNER, day=DAY)
    assert (await harness.sandbox.counters())["forbidden_403"] == 1


async def test_practising_on_the_third_day_in_a_row_earns_the_first_milestone(
    harness: Harness, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("mluv.bot.dispatcher.FLOOD_LIMIT", 100)
    yesterday = today_in(PRAGUE) - dt.timedelta(days=1)
    await harness.add_learner(LEARNER, streak=2, last_practice=yesterday)
    congratulation = t("ru", "streak-milestone", days=3, stars=5)

    async with bot_with_workers(harness):
        await harness.sandbox.send_text(LEARNER, "Dnes mám tři dny v řadě.")
        # feedback and the congratulation, in any order (the acknowledgement is a chat action)
        await harness.sandbox.messages(LEARNER, wait_for=2, within=15)
        # A second message the same day changes no streak: no award job, nothing more.
        await harness.sandbox.send_text(LEARNER, "A ještě jedna věta.")
        await harness.sandbox.messages(LEARNER, wait_for=3, within=15)
        await asyncio.sleep(0.5)

    texts = await harness.texts(LEARNER)
    assert len(texts) == 3 and texts.count(congratulation) == 1, texts
    assert (await harness.user(LEARNER)).stars == 5
    streak = await harness.streak(LEARNER)
    assert (streak.current, streak.milestones_awarded) == (3, [3])
    assert await harness.job_ids("milestones:", finished=True) == {f"milestones:{LEARNER}:{today_in(PRAGUE)}"}


# --- streak resets -----------------------------------------------------------------------------------

PRACTISED = dt.date(2024, 5, 1)  # every learner's last practice day (their local date)
ZONES = {
    "Europe/Prague": 640_000_001,
    "Europe/Kyiv": 640_000_002,
    "America/New_York": 640_000_003,
    "Asia/Almaty": 640_000_004,
}


@pytest.mark.parametrize(
    ("tick", "reset"),
    [
        # 2 May 21:05 UTC: already 3 May in Almaty (02:05, +5 since March 2024, or 03:05 at +6), so its
        # yesterday (2 May) had no practice; 2 May elsewhere (Prague 23:05, Kyiv 00:05 on the 3rd!).
        (utc(2024, 5, 2, 21, 5), {"Asia/Almaty", "Europe/Kyiv"}),
        # 2 May 20:05 UTC: Kyiv 23:05, Prague 22:05, New York 16:05 on 2 May; Almaty 3 May.
        (utc(2024, 5, 2, 20, 5), {"Asia/Almaty"}),
        # 2 May 22:05 UTC: Prague passes midnight (00:05 on 3 May); New York is still on 2 May (18:05).
        (utc(2024, 5, 2, 22, 5), {"Asia/Almaty", "Europe/Kyiv", "Europe/Prague"}),
        # 3 May 04:05 UTC: New York is at 00:05 on 3 May too.
        (utc(2024, 5, 3, 4, 5), set(ZONES)),
        # 2 May in every zone: yesterday (1 May) was practised everywhere.
        (utc(2024, 5, 2, 12, 5), set()),
    ],
    ids=["almaty-kyiv", "almaty-only", "prague-too", "everyone", "nobody"],
)
async def test_streaks_reset_when_the_local_yesterday_had_no_practice(
    harness: Harness, tick: dt.datetime, reset: set[str]
) -> None:
    for zone_name, user_id in ZONES.items():
        await harness.add_learner(
            user_id, timezone=zone_name, streak=5, longest=9, last_practice=PRACTISED, in_sandbox=False
        )

    result = await harness.run_cron(check_and_reset_streaks, tick)

    assert result == {"timezones": 4, "reset": len(reset)}
    for zone_name, user_id in ZONES.items():
        streak = await harness.streak(user_id)
        assert streak.current == (0 if zone_name in reset else 5), zone_name
        assert (streak.longest, streak.last_active_date) == (9, PRACTISED)


async def test_resetting_is_idempotent_per_tick_and_per_date(harness: Harness) -> None:
    await harness.add_learner(LEARNER, streak=4, last_practice=PRACTISED, in_sandbox=False)
    await harness.add_learner(LEARNER + 1, streak=2, last_practice=PRACTISED + dt.timedelta(days=1))
    tick = utc(2024, 5, 3, 1, 5)  # 3 May in Prague: LEARNER missed 2 May, LEARNER + 1 did not

    first = await harness.run_cron(check_and_reset_streaks, tick)
    same_tick = await harness.run_cron(check_and_reset_streaks, tick)
    next_hour = await harness.run_cron(check_and_reset_streaks, tick + dt.timedelta(hours=1))

    assert first == {"timezones": 1, "reset": 1}
    assert same_tick == {"skipped": "2024-05-03T01:05:00Z"}
    assert next_hour == {"timezones": 1, "reset": 0}
    assert (await harness.streak(LEARNER)).current == 0
    assert (await harness.streak(LEARNER + 1)).current == 2
