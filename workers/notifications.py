"""Notifications: streak reminders at each learner's local hour, daily-challenge nudges and "done", the weekly
report.

Every message goes through the Sender, whose delivery ledger is unique per (kind, learner, business key):
a reminder's key is its local date, so however often a reminder job runs (re-enqueued, retried, run by
two workers) the learner gets at most one reminder that day. Deterministic job ids only keep the queue
from filling with duplicates; the ledger is what guarantees "once".

    job                                  queue  tries  job id / schedule (UTC)
    send_streak_reminder(user_id, day)   fast   5      reminder:{day}:{user_id}
    send_daily_reminders                 long   3      hourly at :00
    (requeue_lost_reminders: called by the reconciler every minute; re-enqueues what Redis lost)
    send_daily_challenge_notification    fast   5      challenge:{day}:{user_id}:{count}
    send_weekly_report_notification      long   3      Mondays 12:00, caught up

The weekly report itself (building, storing, sending) is workers.analytics.generate_weekly_report; the
Monday cron here only decides who gets it (see `mluv.domain.reports` for where each part lives).
"""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import Mapping, Sequence
from typing import Annotated, Any

from arq.connections import ArqRedis
from pydantic import Field

from mluv.domain.progress import (
    challenge_event,
    challenge_target,
    day_bounds,
    local_date,
    previous_week_start,
    streak_as_of,
)
from mluv.domain.reminders import reminder_slots
from mluv.jobs import CronRun, DeclaredJob, JobContext, Queue, cron, job
from mluv.jobs.arq_state import forget_expired, jobs_known
from mluv.jobs.cron import run_succeeded
from mluv.jobs.retry import BATCH_RETRY, DELIVERY_RETRY
from mluv.logs import get_logger
from mluv.resources import Resources
from workers.analytics import generate_weekly_report

log = get_logger(__name__)


# Ledger kinds (deliveries.kind).
REMINDER_KIND = "reminder"
CHALLENGE_KIND = "challenge"

# The nudge waits a little so it follows the feedback on the message that triggered it.
CHALLENGE_NUDGE_DELAY = dt.timedelta(seconds=3)
# Expiry policy (docs/jobs.md): a reminder or nudge this late is about an hour that has passed; skipped.
REMINDER_STALE_AFTER = dt.timedelta(hours=1)
CHALLENGE_STALE_AFTER = dt.timedelta(minutes=30)
# Enqueues in flight at once during a fan-out: fast, without opening a Redis connection per learner.
ENQUEUE_CONCURRENCY = 20
# A fan-out is spread over time at this share of the global send rate, leaving room for other messages.
FAN_OUT_RATE_SHARE = 0.8


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def fan_out_spacing(ctx: JobContext[Resources]) -> float:
    """Seconds between the due times of a fan-out's jobs: a share of the global send rate.

    This is not the pacing (the Sender's shared limiter does that): it keeps thousands of jobs from
    reaching the limiter at once, where every one refused with RateLimited would use up one of its tries.
    """
    return 1.0 / (ctx.resources.settings.rate_limit_global_per_second * FAN_OUT_RATE_SHARE)


async def enqueue_each(
    pool: ArqRedis,
    declared: DeclaredJob[Any, Any],
    batch: Sequence[Mapping[str, Any]],
    *,
    spacing: float = 0.0,
) -> int:
    """Enqueue `declared` once per set of keyword arguments, the n-th due `n * spacing` seconds from now;
    the number actually enqueued (not already queued under the job's deterministic id).
    """
    enqueued = 0
    for start in range(0, len(batch), ENQUEUE_CONCURRENCY):
        jobs = await asyncio.gather(
            *(
                declared.options(defer_by=index * spacing or None).enqueue(pool, **batch[index])
                for index in range(start, min(start + ENQUEUE_CONCURRENCY, len(batch)))
            )
        )
        enqueued += sum(1 for queued in jobs if queued is not None)
    return enqueued


# --- reminders ---------------------------------------------------------------------------------------


@job(
    queue=Queue.FAST,
    retry=DELIVERY_RETRY,
    job_id="reminder:{day}:{user_id}",
    stale_after=REMINDER_STALE_AFTER,
)
async def send_streak_reminder(ctx: JobContext[Resources], user_id: int, day: dt.date) -> dict[str, Any]:
    """Remind a learner to practise on their local `day`, once, unless they already did."""
    from mluv.db.notifications import recipient
    from mluv.i18n import t

    async with ctx.resources.session_factory() as session:
        learner = await recipient(session, user_id)
    if learner is None:
        return {"skipped": "unknown learner"}
    if not learner.reachable:
        return {"skipped": "inactive"}
    if not learner.reminders_enabled:
        return {"skipped": "reminders off"}
    if local_date(_now(), learner.timezone) != day:
        # Retried past the learner's midnight (or the timezone changed): that day's reminder is moot.
        return {"skipped": "not the learner's day"}
    last = learner.streak.last_active_date
    if last is not None and last >= day:
        return {"skipped": "practised today"}
    streak = streak_as_of(learner.streak, day)
    text = (
        t(learner.language, "streak-reminder", streak=streak)
        if streak > 0
        else t(learner.language, "daily-reminder")
    )
    result = await ctx.resources.sender.send_message(
        kind=REMINDER_KIND,
        chat_id=user_id,
        business_key=f"reminder:{day.isoformat()}",
        text=text,
        job_id=ctx.job_id,
    )
    return {"delivery": result.status.value, "duplicate": result.duplicate, "streak": streak}


@cron(queue=Queue.LONG, minute=0, retry=BATCH_RETRY)
async def send_daily_reminders(ctx: JobContext[Resources], run: CronRun) -> dict[str, int]:
    """Hourly: enqueue a reminder for each learner whose local reminder hour it is at this tick.

    Learners qualify when reachable, with reminders on, active in the last 7 days, and not yet practised
    on their local date. The tick (not the clock) decides the hour, so a late or retried run handles the
    hour it was scheduled for. No sleeps: the Sender's shared rate limiter paces the sends (the jobs' due
    times are only spread, see fan_out_spacing). A tick lost while no worker ran is not caught up (the
    framework catches up daily crons only); DST gaps skip an hour that does not exist locally, and a
    repeated local hour is harmless (job ids and the ledger).
    """
    from mluv.db.notifications import due_reminders, reminder_timezones

    tick = run.tick
    async with ctx.resources.session_factory() as session:
        slots = reminder_slots(tick, await reminder_timezones(session, tick))
        due = await due_reminders(session, slots, tick)
    batch = [{"user_id": item.user_id, "day": item.day} for item in due]
    enqueued = await enqueue_each(ctx.redis, send_streak_reminder, batch, spacing=fan_out_spacing(ctx))
    log.info("reminders enqueued", due=len(due), enqueued=enqueued, tick=tick.isoformat())
    return {"timezones": len(slots), "due": len(due), "enqueued": enqueued}


async def requeue_lost_reminders(
    resources: Resources, redis: ArqRedis, now: dt.datetime | None = None
) -> int:
    """Enqueue again the reminders of the latest hourly tick that Redis lost before they ran (a flush, a
    failover to an empty replica): due, no ledger row yet (a row is made only when the job runs) and no
    job, running job or result in Redis. Only once that tick's run succeeded; returns how many.

    The reconciler calls it every minute (bench/chaos.py redis-flushall-broadcast found them never sent).
    """
    from mluv.db.notifications import due_reminders, reminder_timezones

    tick = send_daily_reminders.previous_tick(now or _now())
    if tick is None or not await run_succeeded(resources.session_factory, send_daily_reminders, tick):
        return 0
    async with resources.session_factory() as session:
        slots = reminder_slots(tick, await reminder_timezones(session, tick))
        due = await due_reminders(session, slots, tick, not_in_ledger=(REMINDER_KIND, "reminder:"))
    batch = [{"user_id": item.user_id, "day": item.day} for item in due]
    ids = [send_streak_reminder.job_id_for(send_streak_reminder.validate(**values)) for values in batch]
    known = await jobs_known(redis, [job_id for job_id in ids if job_id])
    # A flush between a worker's claim and its read leaves arq's "job expired" result: lost all the same.
    known -= await forget_expired(redis, known)
    lost = [values for values, job_id in zip(batch, ids, strict=True) if job_id not in known]
    if not lost:
        return 0
    enqueued = await enqueue_each(
        redis,
        send_streak_reminder,
        lost,
        spacing=1.0 / (resources.settings.rate_limit_global_per_second * FAN_OUT_RATE_SHARE),
    )
    log.warning("lost reminders enqueued again", lost=len(lost), enqueued=enqueued, tick=tick.isoformat())
    return enqueued


# --- daily challenge ---------------------------------------------------------------------------------


@job(
    queue=Queue.FAST,
    retry=DELIVERY_RETRY,
    job_id="challenge:{day}:{user_id}:{count}",
    defer_by=CHALLENGE_NUDGE_DELAY,
    stale_after=CHALLENGE_STALE_AFTER,
)
async def send_daily_challenge_notification(
    ctx: JobContext[Resources],
    user_id: int,
    day: dt.date,
    count: Annotated[int, Field(ge=1)],
) -> dict[str, Any]:
    """React to a learner's `count`-th message of `day`, as their level's challenge size says.

    The practice handler enqueues it at every count in DAILY_CHALLENGE_NUDGES; the job decides
    (`challenge_event`): a nudge at target-2 and target-1, "done 🎉" at the target, nothing otherwise.
    A nudge is skipped when the challenge is already done or a later message made it stale (the later
    one's job speaks instead); "done" is sent once a day (business key challenge:{day}:done) even if the
    count is passed. Not gated on reminders_enabled: it answers the learner's own practice, it reminds no one.
    """
    from mluv.db.learners import learner_level
    from mluv.db.notifications import count_written, recipient
    from mluv.i18n import t

    async with ctx.resources.session_factory() as session:
        learner = await recipient(session, user_id)
        level = await learner_level(session, user_id)
        if learner is None or level is None or not learner.reachable:
            return {"skipped": "inactive"}
        start, end = day_bounds(day, learner.timezone)
        done = await count_written(session, user_id, start, end)
    event = challenge_event(level, count)
    if event is None:
        return {"skipped": "not a nudge count"}
    if local_date(_now(), learner.timezone) != day:
        return {"skipped": "not the learner's day"}
    goal = challenge_target(level)
    if event == "done":
        text, key = (
            t(learner.language, "challenge-completed", goal=goal),
            f"challenge:{day.isoformat()}:done",
        )
    elif done >= goal:
        return {"skipped": "challenge completed"}
    elif done > count:
        return {"skipped": "superseded"}
    else:
        text = t(learner.language, "daily-challenge-nudge", done=count, goal=goal, left=goal - count)
        key = f"challenge:{day.isoformat()}:{count}"
    result = await ctx.resources.sender.send_message(
        kind=CHALLENGE_KIND, chat_id=user_id, business_key=key, text=text, job_id=ctx.job_id
    )
    return {"event": event, "delivery": result.status.value, "duplicate": result.duplicate}


# --- weekly report -------------------------------------------------------------------------------------


@cron(queue=Queue.LONG, weekday=0, hour=12, minute=0, catch_up=True, retry=BATCH_RETRY)
async def send_weekly_report_notification(ctx: JobContext[Resources], run: CronRun) -> dict[str, Any]:
    """Mondays: every learner active last week gets their weekly report (generate_weekly_report).

    The week is the one before the tick's (UTC) week; 12:00 UTC is after Sunday has ended for every
    learner, UTC-12 included (the report job refuses unfinished weeks). The report job's id,
    `report:{user_id}:{week_start}`, keeps a re-run (a retry, a caught-up tick) from queueing it twice.
    """
    from mluv.db.notifications import weekly_recipients

    week_start = previous_week_start(run.tick.astimezone(dt.UTC).date())
    async with ctx.resources.session_factory() as session:
        learners = await weekly_recipients(session, week_start)
    batch = [{"user_id": user_id, "week_start": week_start} for user_id in learners]
    enqueued = await enqueue_each(ctx.redis, generate_weekly_report, batch, spacing=fan_out_spacing(ctx))
    return {
        "week_start": week_start.isoformat(),
        "learners": len(learners),
        "enqueued": enqueued,
        "via": generate_weekly_report.name,
    }
