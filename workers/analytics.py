"""Analytics jobs: daily statistics, platform metrics and the report (a calendar week, the last 7 days).

| job | queue | trigger | tries | idempotency |
|---|---|---|---|---|
| calculate_all_users_daily_stats | long | cron 00:05 UTC, catch-up | 3 | cron_runs key: the UTC date |
| aggregate_platform_metrics | long | cron :00 and :30 UTC | 3 | cron_runs key: the tick; ≤ 10/min |
| generate_weekly_report(user_id, week_start) | fast | Monday cron | 3 | id `report:{user_id}:{week_start}` |
| send_recent_report(user_id, today, messages) | fast | /report | 3 | id `recent-report:{user_id}:…` |

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

**The report** (its parts and where each lives: `mluv.domain.reports`), of two kinds:

- `generate_weekly_report`: a Monday–Sunday week that is over in the learner's timezone (the Monday
  cron passes last week). A finished week never changes, so the report is generated once, stored in
  weekly_reports (unique per learner and week) and reused by any later run for that week. It is delivered
  once as a photo (the chart) with a caption by `Sender.send_photo` (ledger kind `weekly_report`, business
  key `report:{week_start}`; rate-limited like every send): a re-run finds it delivered and stays silent.
  A week that is not over yet in the learner's timezone is refused (its figures would still change).
- `send_recent_report` (`/report`): the 7 local days ending today, today's figures up to the moment it
  runs, compared with the 7 days before. Computed and sent, never stored (a rolling period changes with
  every message, and it must not overwrite a week's stored report). Ledger kind `recent_report`, business
  key `report:recent:{today}:{messages}` (`recent_report_key`): the same day and message count is the same
  report, sent once. The /report handler looks that key up before enqueueing: delivered already (no new
  message since) → one plain answer replying to it; otherwise this job. A learner who practised since
  has a new count, hence a new key and a fresh report.
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Annotated, Any

from pydantic import AfterValidator
from redis.asyncio import Redis

from mluv.domain.progress import WEEK_DAYS, local_date, streak_as_of, week_is_over
from mluv.domain.report_figures import WeeklyReport, day_figures
from mluv.jobs import CronRun, JobContext, Queue, cron, every, job
from mluv.jobs.deployment import namespace_of
from mluv.jobs.retry import BATCH_RETRY, MAINTENANCE_RETRY
from mluv.logs import get_logger
from mluv.resources import Resources

# The database, Telegram and heavy domain modules are imported by the jobs: a worker starts without them.
if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncSession

    from mluv.db.models import User

log = get_logger(__name__)


PLATFORM_METRICS_LIMIT = 10
PLATFORM_METRICS_WINDOW = 60
REPORT_KIND = "weekly_report"  # a calendar week's report (the Monday cron)
RECENT_REPORT_KIND = "recent_report"  # the last 7 days' report (/report)


# --- daily statistics -----------------------------------------------------------------------------------


@cron(queue=Queue.LONG, hour=0, minute=5, catch_up=True, retry=MAINTENANCE_RETRY)
async def calculate_all_users_daily_stats(ctx: JobContext[Resources], run: CronRun) -> dict[str, Any]:
    """Every learner's finished local days D-2 and D-1 (D: the tick's UTC date), in one statement."""
    from mluv.db.analytics import upsert_daily_stats_all

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
        return namespace_of(self.redis).key(f"limit:{self.name}:{self.window}:{int(now // self.window)}")

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
    from mluv.db.analytics import collect_platform_metrics, insert_platform_metrics

    decision = await platform_metrics_limiter(ctx.redis).acquire()
    if not decision.allowed:
        log.warning("platform metrics rate-limited", count=decision.count, retry_in=decision.retry_in)
        return {"skipped": "rate limited", "count": decision.count, "retry_in": decision.retry_in}
    now = dt.datetime.now(dt.UTC)
    async with ctx.resources.session_factory.begin() as session:
        figures = await collect_platform_metrics(session, now)
        snapshot_id = await insert_platform_metrics(session, figures)
    return {"id": snapshot_id, **figures.to_json()}


# --- the report -----------------------------------------------------------------------------------------


def _monday(day: dt.date) -> dt.date:
    if day.weekday() != 0:
        raise ValueError(f"week_start must be a Monday, not {day:%A} {day}")
    return day


Monday = Annotated[dt.date, AfterValidator(_monday)]


# manual: a missed weekly report can be sent again by hand; its id, store and ledger key make it once only.
@job(
    queue=Queue.FAST,
    retry=BATCH_RETRY,
    job_id="report:{user_id}:{week_start}",
    keep_result=0,
    must_run=True,
    manual=True,
)
async def generate_weekly_report(
    ctx: JobContext[Resources], user_id: int, week_start: Monday
) -> dict[str, Any]:
    """The learner's report of a calendar week that is over, generated once and delivered once as a photo
    with a caption (the Monday cron)."""
    from mluv.db.analytics import load_weekly_report, store_weekly_report
    from mluv.db.models import User
    from mluv.domain.reports import render_caption, weekly_chart_png

    resources = ctx.resources
    async with resources.session_factory() as session:
        user = await session.get(User, user_id)
    if user is None:
        return {"user_id": user_id, "skipped": "user not found"}
    today = local_date(dt.datetime.now(dt.UTC), user.timezone)
    week = week_start
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
    return outcome | {"delivery": delivery.status.value, "duplicate": delivery.duplicate}


def recent_report_key(today: dt.date, messages: int) -> str:
    """The ledger key of the last 7 days' report: the same day and message count, the same report."""
    return f"report:recent:{today.isoformat()}:{messages}"


@job(
    queue=Queue.FAST,
    retry=BATCH_RETRY,
    job_id="recent-report:{user_id}:{today}:{messages}",
    keep_result=0,
    must_run=True,  # the learner asked for it: answered however late
)
async def send_recent_report(
    ctx: JobContext[Resources], user_id: int, today: dt.date, messages: int
) -> dict[str, Any]:
    """/report: the learner's 7 local days ending `today` (today up to now), computed and sent as a photo
    with a caption, not stored. `messages`: the period's messages when the learner asked (the job id, so a
    double tap enqueues one job); the ledger key counts the messages the report shows."""
    from mluv.db.models import User
    from mluv.domain.reports import recent_period_start, render_caption, weekly_chart_png

    resources = ctx.resources
    first_day = recent_period_start(today)
    outcome: dict[str, Any] = {
        "user_id": user_id,
        "first_day": first_day.isoformat(),
        "today": today.isoformat(),
    }
    async with resources.session_factory() as session:
        user = await session.get(User, user_id)
        if user is None:
            return {**outcome, "skipped": "user not found"}
        if user.is_blocked:
            return {**outcome, "skipped": "the learner blocked the bot"}
        report = await _compute_report(session, user, first_day, today)
    delivery = await resources.sender.send_photo(
        kind=RECENT_REPORT_KIND,
        chat_id=user_id,
        business_key=recent_report_key(today, report.messages),
        photo=weekly_chart_png(report, user.language, recent=True),
        filename=f"mluv-7-days-{today.isoformat()}.png",
        caption=render_caption(report, user.language, recent=True),
        job_id=ctx.job_id,
    )
    return outcome | {
        "messages": report.messages,
        "delivery": delivery.status.value,
        "duplicate": delivery.duplicate,
    }


async def _compute_report(
    session: AsyncSession, user: User, first_day: dt.date, today: dt.date
) -> WeeklyReport:
    """The 7 local days from `first_day` (a week that is over, or the last 7 days up to now), compared
    with the 7 days before; the streak as of `today`."""
    from mluv.db.analytics import period_messages, period_mistakes, period_totals
    from mluv.db.learners import streak_state
    from mluv.domain.reports import build_weekly_report

    messages = await period_messages(session, user.id, first_day, user.timezone)
    mistakes = await period_mistakes(session, user.id, first_day, user.timezone)
    before = first_day - dt.timedelta(days=WEEK_DAYS)
    _, previous_words = await period_totals(session, user.id, before, user.timezone)
    streak = await streak_state(session, user.id)
    return build_weekly_report(
        first_day,
        day_figures(messages, first_day, user.timezone),
        mistakes,
        streak=streak_as_of(streak, today),
        longest=streak.longest,
        previous_words=previous_words,
    )
