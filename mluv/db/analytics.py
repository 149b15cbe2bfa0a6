"""SQL for statistics: daily statistics (one learner, or every learner in one statement), platform metrics,
and the report's figures (7 local days from a first day) and the weekly cache. One place for daily_stats,
platform_metrics and weekly_reports. (The report's parts: `mluv.domain.reports`.)

**Daily statistics** (`daily_stats`, one row per learner and *local* day, upserted on (user_id, date)):

- `messages_count`: messages written that day; `words_count`: Σ word_count;
- `correct_words`: round(Σ word_count × correctness / 100) over reviewed messages (halves away from zero);
- `correctness_avg`: Σ(word_count × correctness) / Σ word_count over reviewed messages, i.e. the mean
  correctness weighted by words, unrounded (the formula of `mluv.domain.progress.weighted_correctness`,
  which rounds it for the weekly report; an empty text scores 100 but has no words, so it does not
  count); NULL when no reviewed message has words;
- `challenge_completed`: at least DAILY_CHALLENGE_MESSAGES messages that day.

A learner's day is their local calendar day in `users.timezone` (an unknown zone name counts as
Europe/Prague, as everywhere else: `mluv.domain.progress.zone`). Rows exist only for days with at least one
message. Both paths below compute exactly these figures with the same SQL aggregates; they differ in how
they find the day's messages:

- `upsert_daily_stats_for_user`: one learner and one day, by the UTC bounds of the local day computed in
  Python (`day_bounds`), through the (user_id, created_at) index;
- `upsert_daily_stats_all`: every learner at once, one `INSERT … SELECT … GROUP BY … ON CONFLICT DO UPDATE`
  statement: each message's local date is `(created_at AT TIME ZONE <learner's zone>)::date`.

An upsert rewrites a row only when a figure changed (`IS DISTINCT FROM`), so a re-run over unchanged
messages writes nothing and leaves `computed_at` as it was: the same rows, byte for byte.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from sqlalchemy import ColumnElement, func, insert, select, text
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncSession

from mluv.db.models import DailyStats, Message, PlatformMetrics, WeeklyReport
from mluv.domain.progress import (
    DAILY_CHALLENGE_MESSAGES,
    DEFAULT_TIMEZONE,
    PeriodFigures,
    day_bounds,
    week_bounds,
)
from mluv.domain.report_figures import MessageFigures, Mistake

# Every timezone is within UTC-12 … UTC+14: the UTC instants of local date L lie in
# [L 00:00 - 14 h, L+1 00:00 + 12 h). A little margin on top.
EARLIEST_OFFSET = dt.timedelta(hours=15)

# --- daily statistics -----------------------------------------------------------------------------------

# The figures of one group of messages `m` (one learner, one day); shared by both paths so they agree.
_AGGREGATES = """
        count(*)::int AS messages_count,
        coalesce(sum(m.word_count), 0)::int AS words_count,
        round(coalesce(sum(m.word_count * m.correctness) FILTER (WHERE m.correctness IS NOT NULL), 0)
              / 100.0)::int AS correct_words,
        sum(m.word_count * m.correctness) FILTER (WHERE m.correctness IS NOT NULL)::float8
            / nullif(sum(m.word_count) FILTER (WHERE m.correctness IS NOT NULL), 0) AS correctness_avg,
        count(*) >= CAST(:challenge AS int) AS challenge_completed"""

_FIGURES = ("messages_count", "words_count", "correct_words", "correctness_avg", "challenge_completed")


# Upsert the rows of a CTE; rewrite a row only when one of its figures changed. (The SQL strings below are
# assembled from constants only; values are always bound parameters.)
def _upsert(source: str) -> str:
    figures = ", ".join(_FIGURES)
    return f"""
    INSERT INTO daily_stats (user_id, date, {figures}, computed_at)
    SELECT user_id, date, {figures}, now() FROM {source}
    ON CONFLICT (user_id, date) DO UPDATE SET
        {", ".join(f"{name} = excluded.{name}" for name in _FIGURES)},
        computed_at = excluded.computed_at
    WHERE ({", ".join(f"daily_stats.{name}" for name in _FIGURES)})
        IS DISTINCT FROM ({", ".join(f"excluded.{name}" for name in _FIGURES)})
    RETURNING (xmax = 0) AS inserted"""  # noqa: S608


_ONE_LEARNER = text(f"""
WITH computed AS (
    SELECT m.user_id, CAST(:day AS date) AS date, {_AGGREGATES}
    FROM messages AS m
    WHERE m.user_id = CAST(:user_id AS bigint)
      AND m.created_at >= CAST(:start AS timestamptz) AND m.created_at < CAST(:end AS timestamptz)
    GROUP BY m.user_id
),
upserted AS ({_upsert("computed")})
SELECT computed.*, (SELECT count(*) FROM upserted) AS written FROM computed
""")  # noqa: S608

# Costs, for ~10^6 messages: each message's local date is computed once (the OFFSET 0 fence keeps the
# planner from repeating the conversion in every condition and the group key); each learner's zone and
# local date at the tick once per learner; rows whose figures are already right are left out before the
# upsert, because ON CONFLICT DO UPDATE locks (writes) every conflicting row even when its WHERE is false.
_ALL_LEARNERS = text(f"""
WITH zones AS MATERIALIZED (SELECT name FROM pg_timezone_names),
learners AS MATERIALIZED (
    SELECT u.id, learner.zone, (CAST(:tick AS timestamptz) AT TIME ZONE learner.zone)::date AS tick_day
    FROM users AS u
    LEFT JOIN zones AS z ON z.name = u.timezone
    CROSS JOIN LATERAL (SELECT coalesce(z.name, CAST(:default_zone AS text)) AS zone) AS learner
),
computed AS (
    SELECT m.user_id, m.day AS date, {_AGGREGATES}
    FROM (
        SELECT message.user_id, message.word_count, message.correctness, learners.tick_day,
               (message.created_at AT TIME ZONE learners.zone)::date AS day
        FROM messages AS message
        JOIN learners ON learners.id = message.user_id
        WHERE message.created_at >= CAST(:scan_from AS timestamptz)
          AND message.created_at < CAST(:tick AS timestamptz)
        OFFSET 0
    ) AS m
    -- the two dates, and only those that are over at the tick in the learner's zone
    WHERE m.day BETWEEN CAST(:first_day AS date) AND CAST(:last_day AS date) AND m.day < m.tick_day
    GROUP BY m.user_id, m.day
),
changed AS (
    SELECT computed.*
    FROM computed
    LEFT JOIN daily_stats AS stored ON stored.user_id = computed.user_id AND stored.date = computed.date
    WHERE stored.id IS NULL
       OR ({", ".join(f"stored.{name}" for name in _FIGURES)})
          IS DISTINCT FROM ({", ".join(f"computed.{name}" for name in _FIGURES)})
),
upserted AS ({_upsert("changed")})
SELECT
    (SELECT count(*) FROM computed) AS computed,
    count(*) FILTER (WHERE inserted) AS inserted,
    count(*) FILTER (WHERE NOT inserted) AS updated
FROM upserted
""")  # noqa: S608


@dataclass(frozen=True)
class DailyFigures:
    user_id: int
    date: dt.date
    messages_count: int = 0
    words_count: int = 0
    correct_words: int = 0
    correctness_avg: float | None = None
    challenge_completed: bool = False

    def to_json(self) -> dict[str, Any]:
        return {
            "user_id": self.user_id,
            "date": self.date.isoformat(),
            "messages_count": self.messages_count,
            "words_count": self.words_count,
            "correct_words": self.correct_words,
            "correctness_avg": self.correctness_avg,
            "challenge_completed": self.challenge_completed,
        }


@dataclass(frozen=True)
class DailyFiguresWritten:
    figures: DailyFigures
    written: bool  # a row was inserted or changed


async def upsert_daily_stats_for_user(
    session: AsyncSession, user_id: int, day: dt.date, timezone: str
) -> DailyFiguresWritten:
    """Compute one learner's local `day` and upsert its row (none when the day has no messages)."""
    start, end = day_bounds(day, timezone)
    row = (
        await session.execute(
            _ONE_LEARNER,
            {
                "user_id": user_id,
                "day": day,
                "start": start,
                "end": end,
                "challenge": DAILY_CHALLENGE_MESSAGES,
            },
        )
    ).one_or_none()
    if row is None:
        return DailyFiguresWritten(DailyFigures(user_id, day), written=False)
    figures = DailyFigures(
        user_id=user_id,
        date=day,
        messages_count=row.messages_count,
        words_count=row.words_count,
        correct_words=row.correct_words,
        correctness_avg=row.correctness_avg,
        challenge_completed=row.challenge_completed,
    )
    return DailyFiguresWritten(figures, written=bool(row.written))


async def stored_days(session: AsyncSession, user_id: int, first: dt.date, last: dt.date) -> PeriodFigures:
    """The daily_stats of `first` … `last` summed; a day's words all count as reviewed if any was."""
    avg, words = DailyStats.correctness_avg, DailyStats.words_count
    figures = (
        func.sum(DailyStats.messages_count),
        func.sum(words),
        func.round(func.sum(avg * words)),
        func.sum(words).filter(avg.is_not(None)),
    )
    where = (DailyStats.user_id == user_id, DailyStats.date.between(first, last))
    row = (await session.execute(select(*(func.coalesce(f, 0) for f in figures)).where(*where))).one()
    return PeriodFigures(*(int(value) for value in row))


async def is_stored_day(session: AsyncSession, user_id: int, day: dt.date) -> bool:
    """Whether the nightly run has written the learner's row for `day` (days without messages have none)."""
    where = (DailyStats.user_id == user_id, DailyStats.date == day)
    return bool(await session.scalar(select(select(DailyStats.user_id).where(*where).exists())))


@dataclass(frozen=True)
class SetBasedRun:
    first_day: dt.date
    last_day: dt.date
    computed: int  # (learner, day) groups computed
    inserted: int
    updated: int  # rows whose figures changed; computed - inserted - updated were already right

    def to_json(self) -> dict[str, Any]:
        return {
            "first_day": self.first_day.isoformat(),
            "last_day": self.last_day.isoformat(),
            "computed": self.computed,
            "inserted": self.inserted,
            "updated": self.updated,
            "unchanged": self.computed - self.inserted - self.updated,
        }


def set_based_days(tick: dt.datetime) -> tuple[dt.date, dt.date]:
    """The local dates a run at `tick` considers: the two UTC dates before the tick's."""
    today = tick.astimezone(dt.UTC).date()
    return today - dt.timedelta(days=2), today - dt.timedelta(days=1)


async def upsert_daily_stats_all(
    session: AsyncSession, tick: dt.datetime, *, work_mem: str | None = "64MB"
) -> SetBasedRun:
    """Every learner's statistics for the local days `set_based_days(tick)` that are over at `tick`.

    One statement. A local date is over at the tick when the tick falls on a later local date in the
    learner's zone; messages from the tick on are never read, so a re-run with the same tick computes the
    same rows. `work_mem` (SET LOCAL, this transaction only) keeps the hash aggregate of ~10^5 groups in
    memory; None leaves the server's setting.
    """
    first_day, last_day = set_based_days(tick)
    scan_from = dt.datetime.combine(first_day, dt.time.min, tzinfo=dt.UTC) - EARLIEST_OFFSET
    if work_mem is not None:
        await session.execute(text("SELECT set_config('work_mem', :value, true)"), {"value": work_mem})
    row = (
        await session.execute(
            _ALL_LEARNERS,
            {
                "tick": tick,
                "scan_from": scan_from,
                "first_day": first_day,
                "last_day": last_day,
                "default_zone": DEFAULT_TIMEZONE,
                "challenge": DAILY_CHALLENGE_MESSAGES,
            },
        )
    ).one()
    return SetBasedRun(first_day, last_day, int(row.computed), int(row.inserted), int(row.updated))


# --- platform metrics -----------------------------------------------------------------------------------

_PLATFORM = text("""
SELECT
    count(*) AS total_users,
    count(*) FILTER (WHERE is_active AND last_active_at >= CAST(:day_ago AS timestamptz)) AS active_users_1d,
    count(*) FILTER (WHERE is_active AND last_active_at >= CAST(:week_ago AS timestamptz)) AS active_users_7d,
    count(*) FILTER (WHERE is_active) AS reachable_users,
    count(*) FILTER (WHERE is_blocked) AS blocked_users,
    count(*) FILTER (WHERE created_at >= CAST(:day_ago AS timestamptz)) AS new_users_1d,
    (SELECT count(*) FROM messages
      WHERE created_at >= CAST(:day_ago AS timestamptz) AND created_at < CAST(:now AS timestamptz)
    ) AS messages_1d,
    (SELECT count(*) FROM messages) AS messages_total
FROM users
""")


@dataclass(frozen=True)
class PlatformFigures:
    """Platform-wide figures at `captured_at` (see `collect_platform_metrics` for the definitions)."""

    captured_at: dt.datetime
    total_users: int
    active_users_1d: int
    active_users_7d: int
    messages_1d: int
    messages_total: int
    extra: dict[str, int]

    def to_json(self) -> dict[str, Any]:
        return {
            "captured_at": self.captured_at.isoformat(),
            "total_users": self.total_users,
            "active_users_1d": self.active_users_1d,
            "active_users_7d": self.active_users_7d,
            "messages_1d": self.messages_1d,
            "messages_total": self.messages_total,
            "extra": self.extra,
        }


async def collect_platform_metrics(session: AsyncSession, now: dt.datetime) -> PlatformFigures:
    """Figures at `now`, in one statement.

    - total_users: every learner ever registered (blocked ones included);
    - active_users_1d / _7d: reachable learners (`is_active`) whose last practice (`last_active_at`,
      set when they write; at registration before that) is within 24 h / 7 × 24 h before `now`;
    - messages_1d: messages written in the 24 h before `now`; messages_total: all stored messages (an
      exact count; retention keeps the table bounded);
    - extra: reachable_users, blocked_users, new_users_1d.
    """
    row = (
        await session.execute(
            _PLATFORM,
            {"now": now, "day_ago": now - dt.timedelta(days=1), "week_ago": now - dt.timedelta(days=7)},
        )
    ).one()
    return PlatformFigures(
        captured_at=now,
        total_users=int(row.total_users),
        active_users_1d=int(row.active_users_1d),
        active_users_7d=int(row.active_users_7d),
        messages_1d=int(row.messages_1d),
        messages_total=int(row.messages_total),
        extra={
            "reachable_users": int(row.reachable_users),
            "blocked_users": int(row.blocked_users),
            "new_users_1d": int(row.new_users_1d),
        },
    )


async def insert_platform_metrics(session: AsyncSession, figures: PlatformFigures) -> int:
    """Store a snapshot; returns its id."""
    snapshot_id: int = (
        await session.execute(
            insert(PlatformMetrics)
            .values(
                captured_at=figures.captured_at,
                total_users=figures.total_users,
                active_users_1d=figures.active_users_1d,
                active_users_7d=figures.active_users_7d,
                messages_1d=figures.messages_1d,
                messages_total=figures.messages_total,
                extra=figures.extra,
            )
            .returning(PlatformMetrics.id)
        )
    ).scalar_one()
    return snapshot_id


# --- the report (7 local days from `first_day`: up to now when they end today) ------------------------


def _in_period(user_id: int, first_day: dt.date, timezone: str) -> tuple[ColumnElement[bool], ...]:
    start, end = week_bounds(first_day, timezone)
    return Message.user_id == user_id, Message.created_at >= start, Message.created_at < end


async def period_messages(
    session: AsyncSession, user_id: int, first_day: dt.date, timezone: str
) -> list[MessageFigures]:
    """The learner's messages of the 7 local days starting `first_day`, oldest first."""
    where = _in_period(user_id, first_day, timezone)
    columns = (Message.created_at, Message.word_count, Message.correctness)
    rows = await session.execute(select(*columns).where(*where).order_by(Message.created_at))
    return [MessageFigures(row.created_at, row.word_count, row.correctness) for row in rows]


async def period_totals(
    session: AsyncSession, user_id: int, first_day: dt.date, timezone: str
) -> tuple[int, int]:
    """(messages, words) the learner wrote in the 7 local days starting `first_day`."""
    where = _in_period(user_id, first_day, timezone)
    figures = select(func.count(), func.coalesce(func.sum(Message.word_count), 0)).where(*where)
    messages, words = (await session.execute(figures)).one()
    return int(messages), int(words)


_MISTAKES = text("""
SELECT c.value->>'kind' AS kind, lower(c.value->>'original') AS original,
       lower(c.value->>'suggestion') AS suggestion, count(*) AS occurrences
FROM messages AS m
CROSS JOIN LATERAL jsonb_array_elements(
    CASE WHEN jsonb_typeof(m.review->'corrections') = 'array' THEN m.review->'corrections' ELSE '[]' END
) AS c(value)
WHERE m.user_id = CAST(:user_id AS bigint)
  AND m.created_at >= CAST(:start AS timestamptz) AND m.created_at < CAST(:end AS timestamptz)
  AND m.review IS NOT NULL
  AND jsonb_typeof(c.value) = 'object' AND c.value->>'original' IS NOT NULL
GROUP BY 1, 2, 3
""")


async def period_mistakes(
    session: AsyncSession, user_id: int, first_day: dt.date, timezone: str
) -> list[Mistake]:
    """Corrections in the reviews of the 7 local days' messages (Review.to_json: {"corrections": [{kind,
    original, suggestion}, …]}), counted per (kind, lower-cased original and suggestion)."""
    start, end = week_bounds(first_day, timezone)
    rows = await session.execute(_MISTAKES, {"user_id": user_id, "start": start, "end": end})
    return [Mistake(row.kind or "other", row.original, row.suggestion, int(row.occurrences)) for row in rows]


@dataclass(frozen=True)
class StoredReport:
    id: int
    data: dict[str, Any]
    chart_png: bytes | None
    created_at: dt.datetime


async def load_weekly_report(session: AsyncSession, user_id: int, week_start: dt.date) -> StoredReport | None:
    columns = (WeeklyReport.id, WeeklyReport.data, WeeklyReport.chart_png, WeeklyReport.created_at)
    where = (WeeklyReport.user_id == user_id, WeeklyReport.week_start == week_start)
    row = (await session.execute(select(*columns).where(*where))).one_or_none()
    return None if row is None else StoredReport(row.id, row.data, row.chart_png, row.created_at)


async def store_weekly_report(
    session: AsyncSession, user_id: int, week_start: dt.date, data: dict[str, Any], chart_png: bytes
) -> tuple[StoredReport, bool]:
    """Store the report unless one exists already; (the stored report, whether this call stored it)."""
    row = (
        await session.execute(
            pg_insert(WeeklyReport)
            .values(user_id=user_id, week_start=week_start, data=data, chart_png=chart_png)
            .on_conflict_do_nothing(index_elements=["user_id", "week_start"])
            .returning(WeeklyReport.id, WeeklyReport.created_at)
        )
    ).one_or_none()
    if row is not None:
        return StoredReport(row.id, data, chart_png, row.created_at), True
    existing = await load_weekly_report(session, user_id, week_start)
    assert existing is not None  # the conflicting row
    return existing, False
