"""Notifications against real PostgreSQL and Redis and the Bot API sandbox: streak reminders (once per
local day however often their job runs; skipped when practised, off, blocked), the hourly cron at each
learner's local hour, the daily challenge by level (nudges with 2 and 1 messages left, "done 🎉" at the
target, once each), the Monday weekly report."""

from __future__ import annotations

import asyncio
import datetime as dt
import functools
import os
import subprocess
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Literal

import pytest
from arq import Retry
from arq.jobs import Job, serialize_result
from arq.worker import JobExecutionFailed
from sqlalchemy import update

from mluv.db.models import Delivery, DeliveryStatus, User
from mluv.domain.progress import day_bounds, local_date, zone
from mluv.i18n import t
from mluv.jobs import InvalidJobArguments, Queue, registry
from mluv.jobs.cron import CronJobSpec
from mluv.jobs.serializer import deserialize, serialize
from mluv.settings import Settings
from tests.workers.job_harness import Harness, bot_with_workers, eventually, job_harness, utc
from workers.analytics import generate_weekly_report
from workers.notifications import (
    requeue_lost_reminders,
    send_daily_challenge_notification,
    send_daily_reminders,
    send_streak_reminder,
    send_weekly_report_notification,
)

pytestmark = pytest.mark.integration

LEARNER = 610_000_001
PRAGUE = "Europe/Prague"


@pytest.fixture
async def harness(settings: Settings, clean_tables: None, redis: object) -> AsyncIterator[Harness]:
    async with job_harness(settings) as prepared:
        yield prepared


def today_in(timezone: str) -> dt.date:
    return local_date(dt.datetime.now(dt.UTC), timezone)


# --- declarations ----------------------------------------------------------------------------------------


def test_jobs_are_declared_with_queue_tries_and_ids() -> None:
    day = dt.date(2026, 11, 21)
    assert (send_streak_reminder.queue, send_streak_reminder.retry.max_tries) == (Queue.FAST, 5)
    assert send_streak_reminder.job_id_for(send_streak_reminder.validate(user_id=42, day=day)) == (
        "reminder:2026-11-21:42"
    )
    values = send_daily_challenge_notification.validate(user_id=42, day=day, count=3)
    assert send_daily_challenge_notification.job_id_for(values) == "challenge:2026-11-21:42:3"
    assert send_daily_challenge_notification.queue is Queue.FAST
    with pytest.raises(InvalidJobArguments):
        send_daily_challenge_notification.validate(user_id=42, day=day, count=0)
    with pytest.raises(InvalidJobArguments):
        send_streak_reminder.validate(user_id="42", day=day)


@pytest.mark.parametrize(
    ("spec", "schedule", "catch_up"),
    [
        (send_daily_reminders, {"minute": 0}, False),
        (send_weekly_report_notification, {"weekday": 0, "hour": 12, "minute": 0}, True),
    ],
)
def test_crons_are_scheduled_in_utc_with_retries(
    spec: CronJobSpec, schedule: dict[str, int], catch_up: bool
) -> None:
    assert registry.crons[spec.name] is spec
    assert {key: value for key, value in spec.schedule.items() if value is not None and key != "second"} == (
        schedule
    )
    assert spec.catch_up is catch_up
    assert spec.retry.max_tries > 1
    assert spec.queue is Queue.LONG


# --- send_streak_reminder ----------------------------------------------------------------------------------


async def test_a_reminder_reaches_the_learner_once_however_often_its_job_runs(harness: Harness) -> None:
    day = today_in(PRAGUE)
    await harness.add_learner(LEARNER, streak=4, last_practice=day - dt.timedelta(days=1))

    first = await harness.run(send_streak_reminder, user_id=LEARNER, day=day)
    again = [await harness.run(send_streak_reminder, user_id=LEARNER, day=day) for _ in range(2)]
    together = await asyncio.gather(
        *(harness.run(send_streak_reminder, user_id=LEARNER, day=day) for _ in range(3))
    )

    assert first == {"delivery": "sent", "duplicate": False, "streak": 4}
    assert all(result["duplicate"] for result in [*again, *together])
    assert await harness.texts(LEARNER) == [t("ru", "streak-reminder", streak=4)]
    (row,) = await harness.deliveries(LEARNER, "reminder")
    assert (row.business_key, row.status, row.attempts) == (f"reminder:{day}", "sent", 1)


async def test_concurrent_first_runs_send_once(harness: Harness) -> None:
    day = today_in(PRAGUE)
    await harness.add_learner(LEARNER, language="uk")

    results = await asyncio.gather(
        *(harness.run(send_streak_reminder, user_id=LEARNER, day=day) for _ in range(5))
    )

    assert sorted(result["duplicate"] for result in results) == [False, True, True, True, True]
    # No streak to keep: the plain daily reminder, in the learner's language.
    assert await harness.texts(LEARNER) == [t("uk", "daily-reminder")]


@pytest.mark.parametrize(
    ("learner", "reason"),
    [
        ({"streak": 3, "practised_today": True}, "practised today"),
        ({"reminders_enabled": False}, "reminders off"),
        ({"is_active": False}, "inactive"),
        ({"yesterday": True}, "not the learner's day"),
    ],
    ids=["practised-today", "reminders-off", "blocked", "stale-day"],
)
async def test_no_reminder_when(harness: Harness, learner: dict[str, bool | int], reason: str) -> None:
    day = today_in(PRAGUE)
    await harness.add_learner(
        LEARNER,
        streak=int(learner.get("streak", 0)),
        last_practice=day if learner.get("practised_today") else None,
        reminders_enabled=bool(learner.get("reminders_enabled", True)),
        is_active=bool(learner.get("is_active", True)),
    )
    if learner.get("practised_today"):
        await harness.add_messages(LEARNER, day_bounds(day, PRAGUE)[0] + dt.timedelta(seconds=1))
    run_day = day - dt.timedelta(days=1) if learner.get("yesterday") else day

    result = await harness.run(send_streak_reminder, user_id=LEARNER, day=run_day)

    assert result == {"skipped": reason}
    assert await harness.texts(LEARNER) == []
    assert await harness.deliveries(LEARNER) == []


async def test_unknown_learner_is_skipped(harness: Harness) -> None:
    result = await harness.run(send_streak_reminder, user_id=LEARNER, day=today_in(PRAGUE))
    assert result == {"skipped": "unknown learner"}


async def test_a_blocked_bot_marks_the_learner_inactive_without_retry(harness: Harness) -> None:
    day = today_in(PRAGUE)
    await harness.add_learner(LEARNER)
    await harness.sandbox.set_chat_flags(LEARNER, blocked=True)

    # No Retry raised: a 403 is final. The last try would also be final, so try 1 proves it.
    result = await harness.run(send_streak_reminder, user_id=LEARNER, day=day)

    assert result["delivery"] == "blocked"
    user = await harness.user(LEARNER)
    assert (user.is_active, user.is_blocked) == (False, True)
    (row,) = await harness.deliveries(LEARNER)
    assert row.status == DeliveryStatus.BLOCKED
    assert (await harness.sandbox.counters())["forbidden_403"] == 1
    # The next run does not even try.
    assert await harness.run(send_streak_reminder, user_id=LEARNER, day=day) == {"skipped": "inactive"}
    assert (await harness.sandbox.counters())["forbidden_403"] == 1


async def test_a_telegram_outage_retries_with_backoff(harness: Harness) -> None:
    day = today_in(PRAGUE)
    await harness.add_learner(LEARNER)
    await harness.sandbox.set_faults(error_rate=1.0, error_statuses=[502])

    with pytest.raises(Retry) as retry:
        await harness.run(send_streak_reminder, user_id=LEARNER, day=day)
    assert retry.value.defer_score is not None and 9_000 <= retry.value.defer_score <= 11_000

    await harness.sandbox.set_faults(error_rate=0.0)
    result = await harness.run(send_streak_reminder, user_id=LEARNER, day=day, job_try=2)
    assert result["delivery"] == "sent"
    assert len(await harness.texts(LEARNER)) == 1


# --- send_daily_reminders: the learner's local hour ---------------------------------------------------

# In January (no DST anywhere here): Prague +1, Kyiv +2, New York -5, Almaty +6 (before its 2024 change).
ZONES = ("Europe/Prague", "Europe/Kyiv", "America/New_York", "Asia/Almaty")
BASE_ID = 620_000_000


@pytest.mark.parametrize(
    ("tick", "due_zone", "hour", "local_day"),
    [
        (utc(2024, 1, 15, 17), "Europe/Prague", 18, dt.date(2024, 1, 15)),
        (utc(2024, 1, 15, 16), "Europe/Kyiv", 18, dt.date(2024, 1, 15)),
        (utc(2024, 1, 15, 23), "America/New_York", 18, dt.date(2024, 1, 15)),
        (utc(2024, 1, 15, 12), "Asia/Almaty", 18, dt.date(2024, 1, 15)),
        # Summer time: Prague +2, New York -4.
        (utc(2024, 7, 15, 16), "Europe/Prague", 18, dt.date(2024, 7, 15)),
        (utc(2024, 7, 15, 22), "America/New_York", 18, dt.date(2024, 7, 15)),
        # Early birds: 07:00 in Almaty is 01:00 UTC; 20:00 in New York is 01:00 UTC the next day.
        (utc(2024, 1, 16, 1), "Asia/Almaty", 7, dt.date(2024, 1, 16)),
        (utc(2024, 1, 16, 1), "America/New_York", 20, dt.date(2024, 1, 15)),
    ],
    ids=[
        "prague",
        "kyiv",
        "new-york",
        "almaty",
        "prague-summer",
        "new-york-summer",
        "almaty-7am",
        "new-york-8pm-previous-utc-day",
    ],
)
async def test_reminders_go_out_at_the_local_reminder_hour(
    harness: Harness, tick: dt.datetime, due_zone: str, hour: int, local_day: dt.date
) -> None:
    ids = {}
    for index, zone_name in enumerate(ZONES):
        # Everyone else keeps the default 18:00, which is some other UTC hour for them at this tick.
        reminder_hour = hour if zone_name == due_zone else 18
        ids[zone_name] = BASE_ID + index
        await harness.add_learner(
            ids[zone_name],
            timezone=zone_name,
            reminder_hour=reminder_hour,
            last_active_at=tick - dt.timedelta(days=2),
            streak=2,
            last_practice=local_day - dt.timedelta(days=1),
            in_sandbox=False,
        )

    result = await harness.run_cron(send_daily_reminders, tick)

    assert result["due"] == result["enqueued"] == 1
    assert await harness.job_ids("reminder:") == {f"reminder:{local_day}:{ids[due_zone]}"}


async def test_the_cron_skips_learners_who_should_not_be_reminded(harness: Harness) -> None:
    tick = utc(2024, 1, 15, 17)  # 18:00 in Prague
    day = dt.date(2024, 1, 15)
    recent = tick - dt.timedelta(days=6, hours=23)
    learners = {
        1: {"last_active_at": recent},  # due
        2: {"last_active_at": recent, "reminders_enabled": False},
        3: {"last_active_at": recent, "is_active": False},
        4: {"last_active_at": tick - dt.timedelta(days=7, minutes=1)},  # not active in the last 7 days
        5: {"last_active_at": tick - dt.timedelta(hours=1), "streak": 3, "last_practice": day},
        6: {"last_active_at": recent, "reminder_hour": 19},
        7: {"last_active_at": recent, "streak": 5, "last_practice": day - dt.timedelta(days=1)},  # due
    }
    for offset, fields in learners.items():
        await harness.add_learner(BASE_ID + offset, in_sandbox=False, **fields)  # type: ignore[arg-type]

    result = await harness.run_cron(send_daily_reminders, tick)

    assert result == {"timezones": 1, "due": 2, "enqueued": 2}
    first, second = f"reminder:{day}:{BASE_ID + 1}", f"reminder:{day}:{BASE_ID + 7}"
    assert await harness.job_ids("reminder:") == {first, second}
    # Due times are spread at 80% of the global send rate (25/s → 50 ms apart), not all at once.
    scores = [await harness.resources.pool.zscore(Queue.FAST.value, job_id) for job_id in (first, second)]
    assert scores[0] is not None and scores[1] is not None
    assert 45 <= scores[1] - scores[0] <= 1_000


async def test_the_hourly_cron_run_often_still_reminds_each_learner_once(harness: Harness) -> None:
    tick = dt.datetime.now(dt.UTC).replace(minute=0, second=0, microsecond=0)
    learners = {BASE_ID + index: zone_name for index, zone_name in enumerate(ZONES)}
    for user_id, zone_name in learners.items():
        await harness.add_learner(
            user_id, timezone=zone_name, reminder_hour=tick.astimezone(zone(zone_name)).hour
        )

    async with bot_with_workers(harness):
        # The scheduled tick three times (two of them at once) and two manual runs of the same hour.
        await asyncio.gather(*(harness.run_cron(send_daily_reminders, tick) for _ in range(2)))
        await harness.run_cron(send_daily_reminders, tick)
        for attempt in range(2):
            await send_daily_reminders.run(harness.ctx(f"send_daily_reminders:manual-{attempt}"))
        for user_id in learners:
            await eventually(lambda uid=user_id: harness.texts(uid), what=f"reminder to {user_id}")  # type: ignore[misc]
        await asyncio.sleep(0.5)

    for user_id in learners:
        assert await harness.texts(user_id) == [t("ru", "daily-reminder")]
        assert len(await harness.deliveries(user_id)) == 1


@pytest.mark.parametrize(
    ("ran", "delivered", "still_queued", "expired", "requeued"),
    [
        (True, set(), set(), set(), {1, 2, 3}),  # Redis flushed after the fan-out: every job gone
        (True, {2}, set(), set(), {1, 3}),  # 2's job ran (its ledger row exists) before the flush
        (True, set(), {3}, set(), {1, 2}),  # 3's job is still in Redis (queued, running or its result kept)
        # 1's job key vanished between a worker's claim and its read: arq kept a "job expired" result.
        (True, set(), {2, 3}, {1}, {1}),
        (False, set(), set(), set(), set()),  # the tick's run has not succeeded: the run itself enqueues them
    ],
    ids=["all-lost", "one-delivered", "one-still-queued", "one-expired-unrun", "run-not-succeeded"],
)
async def test_the_reconciler_enqueues_again_the_reminders_redis_lost(
    harness: Harness,
    ran: bool,
    delivered: set[int],
    still_queued: set[int],
    expired: set[int],
    requeued: set[int],
) -> None:
    tick, day = utc(2024, 1, 15, 17), dt.date(2024, 1, 15)  # 18:00 in Prague
    for offset in (1, 2, 3):
        await harness.add_learner(
            BASE_ID + offset, last_active_at=tick - dt.timedelta(days=1), in_sandbox=False
        )
    if ran:
        assert (await harness.run_cron(send_daily_reminders, tick))["enqueued"] == 3
    pool = harness.resources.pool
    for offset in (1, 2, 3):  # what a FLUSHALL leaves: no job, no in-progress key, no result
        if offset not in still_queued:
            await pool.delete(f"arq:job:reminder:{day}:{BASE_ID + offset}")
            await pool.zrem(Queue.FAST.value, f"reminder:{day}:{BASE_ID + offset}")
        if offset in expired:
            job_id = f"reminder:{day}:{BASE_ID + offset}"
            result = serialize_result(
                "<unknown>",
                (),
                {},
                1,
                0,
                False,
                JobExecutionFailed("job expired"),
                0,
                0,
                f"{job_id}:<unknown>",
                Queue.FAST.value,
                job_id,
                serializer=serialize,
            )
            await pool.set(f"arq:result:{job_id}", result or b"", ex=3600)
    async with harness.resources.session_factory.begin() as session:
        session.add_all(
            Delivery(
                kind="reminder", recipient_id=BASE_ID + offset, business_key=f"reminder:{day}", payload={}
            )
            for offset in delivered
        )

    count = await requeue_lost_reminders(harness.resources, pool, now=tick + dt.timedelta(minutes=7))

    expected = {f"reminder:{day}:{BASE_ID + offset}" for offset in requeued | still_queued}
    assert count == len(requeued)
    assert await harness.job_ids("reminder:") == expected
    # A second reconciler run finds nothing more to do.
    assert await requeue_lost_reminders(harness.resources, pool, now=tick + dt.timedelta(minutes=8)) == 0


# --- the daily challenge -----------------------------------------------------------------------------


async def set_level(harness: Harness, user_id: int, level: str) -> None:
    async with harness.resources.session_factory.begin() as session:
        await session.execute(update(User).where(User.id == user_id).values(level=level))


@pytest.mark.parametrize("language", ["ru", "uk"])
async def test_challenge_nudge_is_sent_once_with_the_count(harness: Harness, language: str) -> None:
    day = today_in(PRAGUE)
    await harness.add_learner(LEARNER, language=language)
    await set_level(harness, LEARNER, "intermediate")
    await harness.add_messages(LEARNER, day_bounds(day, PRAGUE)[0] + dt.timedelta(seconds=1), count=3)

    results = await asyncio.gather(
        *(harness.run(send_daily_challenge_notification, user_id=LEARNER, day=day, count=3) for _ in range(3))
    )

    assert sorted(result["duplicate"] for result in results) == [False, True, True]
    assert await harness.texts(LEARNER) == [t(language, "daily-challenge-nudge", done=3, goal=5, left=2)]
    (row,) = await harness.deliveries(LEARNER, "challenge")
    assert row.business_key == f"challenge:{day}:3"


@pytest.mark.parametrize("language", ["ru", "uk"])
@pytest.mark.parametrize(("level", "goal"), [("beginner", 3), ("intermediate", 5), ("advanced", 7)])
async def test_the_done_message_follows_the_level_and_is_sent_once(
    harness: Harness, language: str, level: str, goal: int
) -> None:
    day = today_in(PRAGUE)
    await harness.add_learner(LEARNER, language=language)
    await set_level(harness, LEARNER, level)
    # One more message than the target: "done" is still sent for the target's count.
    await harness.add_messages(LEARNER, day_bounds(day, PRAGUE)[0] + dt.timedelta(seconds=1), count=goal + 1)

    results = await asyncio.gather(
        *(
            harness.run(send_daily_challenge_notification, user_id=LEARNER, day=day, count=goal)
            for _ in range(3)
        )
    )
    after = await harness.run(send_daily_challenge_notification, user_id=LEARNER, day=day, count=goal + 1)

    assert sorted(result["duplicate"] for result in results) == [False, True, True]
    assert after == {"skipped": "not a nudge count"}
    assert await harness.texts(LEARNER) == [t(language, "challenge-completed", goal=goal)]
    (row,) = await harness.deliveries(LEARNER, "challenge")
    assert row.business_key == f"challenge:{day}:done"


@pytest.mark.parametrize(
    ("level", "written", "count", "reason"),
    [
        ("intermediate", 4, 3, "superseded"),
        ("intermediate", 5, 4, "challenge completed"),
        ("intermediate", 7, 4, "challenge completed"),
        ("intermediate", 2, 2, "not a nudge count"),
        ("beginner", 4, 4, "not a nudge count"),
        ("advanced", 4, 4, "not a nudge count"),
    ],
)
async def test_a_stale_or_useless_challenge_message_is_skipped(
    harness: Harness, level: str, written: int, count: int, reason: str
) -> None:
    day = today_in(PRAGUE)
    await harness.add_learner(LEARNER)
    await set_level(harness, LEARNER, level)
    await harness.add_messages(LEARNER, day_bounds(day, PRAGUE)[0] + dt.timedelta(seconds=1), count=written)

    result = await harness.run(send_daily_challenge_notification, user_id=LEARNER, day=day, count=count)

    assert result == {"skipped": reason}
    assert await harness.texts(LEARNER) == []


@pytest.mark.parametrize("language", ["ru", "uk"])
async def test_the_handler_nudges_then_says_done_at_the_beginner_target(
    harness: Harness, monkeypatch: pytest.MonkeyPatch, language: Literal["ru", "uk"]
) -> None:
    monkeypatch.setattr(send_daily_challenge_notification, "defer_by", dt.timedelta(seconds=0.2))
    monkeypatch.setattr("mluv.bot.dispatcher.FLOOD_LIMIT", 100)
    await harness.sandbox.create_user(LEARNER, "Olga", language_code=language)
    # A new learner is a beginner: 3 messages; a nudge after the 2nd, "done" after the 3rd, then nothing.
    challenge = [
        t(language, "daily-challenge-nudge", done=2, goal=3, left=1),
        t(language, "challenge-completed", goal=3),
    ]

    day = today_in(PRAGUE)

    async def finished(count: int) -> set[str]:
        return await harness.job_ids(f"challenge:{day}:{LEARNER}:{count}", finished=True)

    async with bot_with_workers(harness):
        for number in range(1, 5):
            await harness.sandbox.send_text(LEARNER, f"Dnes píšu zprávu číslo {number}.")
            if number >= 2:  # the practice handler enqueues the challenge job from the 2nd message on
                await eventually(functools.partial(finished, number), within=15, what=f"job {number}")
        texts = await harness.texts(LEARNER)

    assert [text for text in texts if text in challenge] == challenge
    # the 4th message's job ran and said nothing
    assert len(await harness.deliveries(LEARNER, "challenge")) == len(challenge)
    assert (await harness.user(LEARNER)).level == "beginner"


# --- the weekly report -------------------------------------------------------------------------------

MONDAY = utc(2024, 1, 15, 8)  # the cron's tick; the week reported is Monday 8 to Sunday 14 January
WEEK = dt.date(2024, 1, 8)


async def _week_of_practice(harness: Harness) -> None:
    """LEARNER (Prague) wrote 4 messages on 3 local days of the week; others are inactive or blocked."""
    await harness.add_learner(LEARNER, last_active_at=utc(2024, 1, 14, 22))
    await harness.add_learner(LEARNER + 1, last_active_at=utc(2024, 1, 5))  # not active last week
    await harness.add_learner(LEARNER + 2, last_active_at=utc(2024, 1, 14), is_active=False)
    await harness.add_messages(LEARNER, utc(2024, 1, 8, 9), count=2, words=5, correctness=80)
    await harness.add_messages(LEARNER, utc(2024, 1, 10, 12), words=5, correctness=100)
    await harness.add_messages(LEARNER, utc(2024, 1, 14, 22, 30), words=5, correctness=60)  # 23:30 Sunday
    await harness.add_messages(LEARNER, utc(2024, 1, 14, 23, 30), words=50)  # 00:30 Monday: next week
    await harness.add_messages(LEARNER, utc(2024, 1, 7, 22, 59), words=50)  # 23:59 the Sunday before
    # Active now, but wrote nothing during the reported week: nothing to report.
    await harness.add_learner(LEARNER + 3, last_active_at=utc(2024, 1, 15, 13))
    await harness.add_messages(LEARNER + 3, utc(2024, 1, 15, 13), words=5)


async def test_weekly_report_notification_enqueues_the_report_job_once_per_learner_and_week(
    harness: Harness,
) -> None:
    await _week_of_practice(harness)

    result = await harness.run_cron(send_weekly_report_notification, MONDAY)

    assert result == {
        "week_start": "2024-01-08",
        "learners": 1,
        "enqueued": 1,
        "via": "generate_weekly_report",
    }
    job_id = f"report:{LEARNER}:{WEEK}"
    assert await harness.job_ids("report:") == {job_id}
    info = await Job(job_id, harness.resources.pool, _deserializer=deserialize).info()
    assert info is not None and info.function == generate_weekly_report.name
    assert info.kwargs == {"user_id": LEARNER, "week_start": WEEK}
    # The same tick again (a second worker, a retry) does nothing.
    assert await harness.run_cron(send_weekly_report_notification, MONDAY) == {"skipped": "2024-01-15"}
    # Another run for the same week (a later tick, a manual run) finds the report job already queued.
    again = await harness.run_cron(send_weekly_report_notification, utc(2024, 1, 17, 12))
    assert again["week_start"] == "2024-01-08" and again["learners"] == 1 and again["enqueued"] == 0
    assert await harness.job_ids("report:") == {job_id}


# --- in a real worker process ------------------------------------------------------------------------

REPO_ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.slow
async def test_a_worker_process_delivers_a_reminder_once(
    harness: Harness, database_url: str, redis_url: str, tmp_path: Path
) -> None:
    day = today_in(PRAGUE)
    await harness.add_learner(LEARNER, streak=9, last_practice=day - dt.timedelta(days=1))
    env = {k: v for k, v in os.environ.items() if not k.startswith(("BOT_", "WEBHOOK_", "TELEGRAM_"))}
    env.update(
        ENVIRONMENT="test",
        DATABASE_URL=database_url,
        REDIS_URL=redis_url,
        DATA_DIR=str(tmp_path / "data"),
        # workers/__init__.py does not import these modules (yet): the worker loads them this way.
        EXTRA_JOB_MODULES="workers.notifications,workers.gamification",
        TELEGRAM_API_BASE=harness.settings.telegram_api_base or "",
        PYTHONPATH=str(REPO_ROOT),
        LOG_JSON="true",
    )
    log_path = tmp_path / "worker.log"
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            [str(Path(sys.executable).parent / "arq"), "workers.WorkerSettings"],
            cwd=REPO_ROOT,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        try:
            await eventually(lambda: _started(log_path), within=30, what="worker start")
            queued = [
                await send_streak_reminder.enqueue(harness.resources.pool, user_id=LEARNER, day=day)
                for _ in range(3)
            ]
            assert queued[0] is not None and queued[1:] == [None, None]
            await harness.sandbox.messages(LEARNER, wait_for=1, within=20)
            assert (await queued[0].result(timeout=10))["delivery"] == "sent"
            # A second worker-side run (the id freed as if its result expired) is stopped by the ledger.
            await harness.resources.pool.delete(f"arq:result:reminder:{day}:{LEARNER}")
            again = await send_streak_reminder.enqueue(harness.resources.pool, user_id=LEARNER, day=day)
            assert again is not None
            assert (await again.result(timeout=10))["duplicate"] is True
        finally:
            process.kill()
            process.wait(10)
    assert await harness.texts(LEARNER) == [t("ru", "streak-reminder", streak=9)]


async def _started(log_path: Path) -> bool:
    return "worker started" in log_path.read_text(errors="replace")
