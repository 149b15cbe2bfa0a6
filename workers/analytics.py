"""Analytics jobs: daily statistics, platform metrics and the weekly report.

| job | queue | trigger | tries | idempotency |
|---|---|---|---|---|
| calculate_all_users_daily_stats | long | cron 00:05 UTC, catch-up | 3 | cron_runs key: the UTC date |
| aggregate_platform_metrics | long | cron :00 and :30 UTC | 3 | cron_runs key: the tick; ≤ 10/min |
| generate_weekly_report(user_id, week_start=None) | fast | /report | 3 | id `report:{user_id}:{week_start}` |

**Daily statistics** (definitions: `mluv.db.analytics`). A learner's day is their local calendar day.

- `calculate_all_users_daily_stats` is one set-based statement for every learner (no job per learner;
  /stats reads the rows for ended days and computes today live, so no per-learner job is needed).
  The run at tick T (00:05 UTC on date D) covers the local dates D-2 and D-1 of every learner, each only
  if it is already over at T in the learner's timezone. East of UTC (Europe, Asia) D-1 is over at 00:05
  UTC and is computed the same night; west of UTC (the Americas) D-1 is still running, so it is computed
  the next night, as that run's D-2. Every local day is therefore computed within ~24 h after it ends,
  whatever the zone and across DST changes (a run keyed by "the local yesterday at the tick" would skip a
  day a year in zones whose offset crosses UTC, such as the Azores), and days computed the night before
  are recomputed once more, which changes nothing. Messages from T on are never read, so a re-run for the
  same date computes the same rows; rows whose figures did not change are not rewritten at all.

**Platform metrics**: a snapshot row in platform_metrics every 30 minutes (definitions:
`mluv.db.analytics.collect_platform_metrics`). "At most 10 runs a minute across all workers" is a Redis
fixed-window counter (`FixedWindowLimiter`: INCR of a key per calendar minute, shared by every process).
A run over the limit does nothing and says so in its result: a snapshot taken in the same minute exists,
so skipping loses nothing, and deferring would only pile runs up. The cron ticks twice an hour; the limit
guards on-demand runs (`aggregate_platform_metrics.enqueue_now(pool)`, e.g. a dashboard button).

**Weekly report** (its parts and where each lives: `mluv.domain.reports`). Without
`week_start` it covers the most recent Monday–Sunday week that is over in the learner's timezone (on a
Wednesday: the week that ended last Sunday). A finished week never changes, so the report is generated
once, stored in weekly_reports (unique per learner and week) and reused: "cached a week" means every
/report until the next week ends gets the stored one, without recomputing. It is delivered once as a photo
(the chart) with a caption by `Sender.send_photo` (the delivery ledger, kind `weekly_report`, business key
`report:{week_start}`; rate-limited like every send). A learner who asks again (`/report`, which passes
no week) after it was delivered gets a short text pointing to it (a reply to the photo), once per request;
a run for an explicit week (the Monday notification cron, operators) finds it delivered and stays silent.
A week that is not over yet in the learner's timezone is refused (its figures would still change).
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Annotated, Any

from pydantic import AfterValidator, BaseModel
from redis.asyncio import Redis
from sqlalchemy.ext.asyncio import AsyncSession

from mluv.db.analytics import (
    collect_platform_metrics,
    insert_platform_metrics,
    load_weekly_report,
    store_weekly_report,
    upsert_daily_stats_all,
    week_messages,
    week_mistakes,
    week_words,
)
from mluv.db.learners import streak_state
from mluv.db.models import DeliveryStatus, User
from mluv.domain.progress import WEEK_DAYS, local_date, previous_week_start, streak_as_of, week_is_over
from mluv.domain.report_figures import WeeklyReport, day_figures
from mluv.domain.reports import build_weekly_report, render_caption, week_label, weekly_chart_png
from mluv.i18n import t
from mluv.jobs import CronRun, JobContext, Queue, cron, every, job
from mluv.jobs.retry import BATCH_RETRY, MAINTENANCE_RETRY
from mluv.logs import get_logger
from mluv.resources import Resources

log = get_logger(__name__)


PLATFORM_METRICS_LIMIT = 10
PLATFORM_METRICS_WINDOW = 60
REPORT_KIND = "weekly_report"
REPORT_REPEAT_KIND = "weekly_report_repeat"


# --- daily statistics -----------------------------------------------------------------------------------


@cron(queue=Queue.LONG, hour=0, minute=5, catch_up=True, retry=MAINTENANCE_RETRY)
async def calculate_all_users_daily_stats(ctx: JobContext[Resources], run: CronRun) -> dict[str, Any]:
    """Every learner's finished local days D-2 and D-1 (D: the tick's UTC date), in one statement."""
    started = time.perf_counter()
    async with ctx.resources.session_factory.begin() as session:
        result = await upsert_daily_stats_all(session, run.tick)
    figures = {
        "tick": run.tick.isoformat(),
        **result.to_json(),
        "seconds": round(time.perf_counter() - started, 3),
    }
    log.info("daily statistics computed", **figures)
    return figures


# --- platform metrics -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class LimitDecision:
    allowed: bool
    count: int  # acquisitions in this window so far, this one included
    retry_in: float  # seconds until the next window when refused, else 0


class FixedWindowLimiter:
    """At most `limit` acquisitions per fixed window of `window` seconds, shared by every process.

    One Redis key per window (`mluv:limit:<name>:<window>:<window number>`), INCR'd atomically with its
    expiry in a MULTI. Fixed windows are calendar-aligned: "10 a minute" allows 10 in 12:00:00–12:00:59,
    so up to 20 can fall within one sliding minute across a boundary, which is fine for this purpose.
    """

    def __init__(
        self,
        redis: Redis,
        name: str,
        *,
        limit: int,
        window: int,
        clock: Callable[[], float] = time.time,
    ) -> None:
        if limit < 1 or window < 1:
            raise ValueError("limit and window must be positive")
        self.redis = redis
        self.name = name
        self.limit = limit
        self.window = window
        self.clock = clock

    def key(self, now: float) -> str:
        return f"mluv:limit:{self.name}:{self.window}:{int(now // self.window)}"

    async def acquire(self) -> LimitDecision:
        now = self.clock()
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.incr(self.key(now))
            pipe.expire(self.key(now), self.window * 2)
            count, _ = await pipe.execute()
        if count <= self.limit:
            return LimitDecision(True, int(count), 0.0)
        window_end = (int(now // self.window) + 1) * self.window
        return LimitDecision(False, int(count), round(window_end - now, 3))


def platform_metrics_limiter(redis: Redis) -> FixedWindowLimiter:
    return FixedWindowLimiter(
        redis, "aggregate_platform_metrics", limit=PLATFORM_METRICS_LIMIT, window=PLATFORM_METRICS_WINDOW
    )


@cron(queue=Queue.LONG, **every(1800), retry=MAINTENANCE_RETRY)
async def aggregate_platform_metrics(ctx: JobContext[Resources], run: CronRun) -> dict[str, Any]:
    """A platform_metrics snapshot: total users, active users 1d/7d, messages 1d/total; ≤ 10 runs/min."""
    decision = await platform_metrics_limiter(ctx.redis).acquire()
    if not decision.allowed:
        log.warning("platform metrics rate-limited", count=decision.count, retry_in=decision.retry_in)
        return {"skipped": "rate limited", "count": decision.count, "retry_in": decision.retry_in}
    now = dt.datetime.now(dt.UTC)
    async with ctx.resources.session_factory.begin() as session:
        figures = await collect_platform_metrics(session, now)
        snapshot_id = await insert_platform_metrics(session, figures)
    return {"id": snapshot_id, **figures.to_json()}


# --- the weekly report ----------------------------------------------------------------------------------


def _monday(day: dt.date) -> dt.date:
    if day.weekday() != 0:
        raise ValueError(f"week_start must be a Monday, not {day:%A} {day}")
    return day


Monday = Annotated[dt.date, AfterValidator(_monday)]


def report_job_id(values: BaseModel) -> str:
    """`report:{user_id}:{week_start}`; without a week, the most recent finished week in UTC (the job
    itself picks the week in the learner's timezone, which differs only around Monday midnight)."""
    arguments = dict(values)
    week = arguments.get("week_start") or previous_week_start(dt.datetime.now(dt.UTC).date())
    return f"report:{arguments['user_id']}:{week}"


@job(queue=Queue.FAST, retry=BATCH_RETRY, job_id=report_job_id, keep_result=0)
async def generate_weekly_report(
    ctx: JobContext[Resources], user_id: int, week_start: Monday | None = None
) -> dict[str, Any]:
    """The learner's weekly report, generated once per week and delivered once as a photo with a caption."""
    resources = ctx.resources
    async with resources.session_factory() as session:
        user = await session.get(User, user_id)
    if user is None:
        return {"user_id": user_id, "skipped": "user not found"}
    today = local_date(dt.datetime.now(dt.UTC), user.timezone)
    week = week_start or previous_week_start(today)
    outcome: dict[str, Any] = {"user_id": user_id, "week_start": week.isoformat()}
    if not week_is_over(week, today):
        return {**outcome, "skipped": "the week is not over yet"}
    if user.is_blocked:
        return {**outcome, "skipped": "the learner blocked the bot"}

    started = time.perf_counter()
    async with resources.session_factory.begin() as session:
        stored = await load_weekly_report(session, user_id, week)
        if stored is None:
            report = await _compute_report(session, user, week, today)
            stored, _ = await store_weekly_report(
                session, user_id, week, report.to_json(), weekly_chart_png(report, user.language)
            )
            outcome["cached"] = False
        else:
            outcome["cached"] = True
    report = WeeklyReport.from_json(stored.data)
    chart = stored.chart_png or weekly_chart_png(report, user.language)
    outcome["prepare_ms"] = round((time.perf_counter() - started) * 1000, 1)

    delivery = await resources.sender.send_photo(
        kind=REPORT_KIND,
        chat_id=user_id,
        business_key=f"report:{week.isoformat()}",
        photo=chart,
        filename=f"mluv-week-{week.isoformat()}.png",
        caption=render_caption(report, user.language),
        job_id=ctx.job_id,
    )
    outcome |= {"delivery": delivery.status.value, "duplicate": delivery.duplicate}
    if delivery.duplicate and delivery.status is DeliveryStatus.SENT and week_start is None:
        # The learner asked again: point to the report already in the chat, once per request (a retry of
        # this job keeps its enqueue time, so it does not repeat the pointer).
        enqueued = ctx.enqueue_time or dt.datetime.now(dt.UTC)
        notice = await resources.sender.send_message(
            kind=REPORT_REPEAT_KIND,
            chat_id=user_id,
            business_key=f"report:{week.isoformat()}:{int(enqueued.timestamp() * 1000)}",
            text=t(user.language, "report-already-sent", time=week_label(week)),
            reply_to_message_id=delivery.telegram_message_id,
            job_id=ctx.job_id,
        )
        outcome["notice"] = notice.status.value
    return outcome


async def _compute_report(session: AsyncSession, user: User, week: dt.date, today: dt.date) -> WeeklyReport:
    messages = await week_messages(session, user.id, week, user.timezone)
    mistakes = await week_mistakes(session, user.id, week, user.timezone)
    previous_words = await week_words(session, user.id, week - dt.timedelta(days=WEEK_DAYS), user.timezone)
    streak = await streak_state(session, user.id)
    return build_weekly_report(
        week,
        day_figures(messages, week, user.timezone),
        mistakes,
        streak=streak_as_of(streak, today),
        longest=streak.longest,
        previous_words=previous_words,
    )
