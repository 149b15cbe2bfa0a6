"""The PostgreSQL schema as typed SQLAlchemy 2.0 models; `migrations/` must match it (`alembic check`).

Timestamps are `timestamptz` (UTC); columns that record "when the row was written" default to `now()` on
the server so raw SQL and bulk statements get them too. Status-like columns are text with a CHECK
constraint rather than PostgreSQL enums, because changing a CHECK is a short transactional migration.
One file because it is the schema read as a whole: one metadata that `alembic check` compares with
`migrations/`, with its naming convention and the CHECK rules the tables share.
"""

from __future__ import annotations

import datetime as dt
from enum import StrEnum
from types import MappingProxyType
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    Date,
    DateTime,
    Double,
    ForeignKey,
    Identity,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    SmallInteger,
    Text,
    UniqueConstraint,
    func,
)
from sqlalchemy import text as sql
from sqlalchemy.dialects.postgresql import ARRAY, JSONB
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from mluv.domain.review import LEVELS

# Deterministic constraint names keep autogenerate stable and let migrations refer to them by name.
NAMING_CONVENTION = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

LANGUAGES = ("ru", "uk")
SCHEDULED_TARGETS = ("user", "channel", "all")
BROADCAST_TARGETS = ("all", "channels")
# An operator's post: the learner filters (mluv.domain.audience) and who started it (the bot or the web).
_AUDIENCE_LANGUAGE = f"audience_language IS NULL OR audience_language IN {LANGUAGES!r}"
_ACTIVE_DAYS = "active_days IS NULL OR active_days BETWEEN 1 AND 365"
_LEARNER_FILTERS = "target = 'all' OR (audience_language IS NULL AND active_days IS NULL)"
_STARTED_BY = "created_by IS NOT NULL OR operator IS NOT NULL"


# The states of each status column; each is changed only by its concept's home module (docs/architecture.md).


class DeliveryStatus(StrEnum):
    """A delivery ledger row (mluv.telegram.ledger)."""

    PENDING = "pending"
    SENDING = "sending"
    SENT = "sent"
    BLOCKED = "blocked"
    FAILED = "failed"
    UNKNOWN = "unknown"
    CANCELLED = "cancelled"


class ScheduledStatus(StrEnum):
    """An operator's scheduled post."""

    SCHEDULED = "scheduled"
    SENDING = "sending"
    SENT = "sent"
    FAILED = "failed"
    CANCELLED = "cancelled"


class BroadcastStatus(StrEnum):
    """A broadcast's lifecycle."""

    DRAFT = "draft"
    CONFIRMED = "confirmed"
    RUNNING = "running"
    COMPLETED = "completed"
    CANCELLED = "cancelled"
    FAILED = "failed"


class FailureStatus(StrEnum):
    """A dead letter (mluv.jobs.failures)."""

    OPEN = "open"
    RETRIED = "retried"
    DISCARDED = "discarded"


class CronRunStatus(StrEnum):
    """A cron run's claim (mluv.jobs.cron)."""

    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"


DELIVERY_STATUSES = tuple(DeliveryStatus)
SCHEDULED_STATUSES = tuple(ScheduledStatus)
BROADCAST_STATUSES = tuple(BroadcastStatus)
JOB_FAILURE_STATUSES = tuple(FailureStatus)
CRON_RUN_STATUSES = tuple(CronRunStatus)


def _in(column: str, values: tuple[str, ...]) -> str:
    """SQL for `column IN (...)` over constant strings (for CHECK constraints and partial indexes)."""
    return f"{column} IN ({', '.join(repr(str(value)) for value in values)})"


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    # Fetch server-generated values (now(), identity, onupdate) with RETURNING, so attributes stay usable
    # after a flush in async code, where a lazy refresh would fail.
    __mapper_args__: Any = MappingProxyType({"eager_defaults": True})


def _created_at() -> Mapped[dt.datetime]:
    return mapped_column(DateTime(timezone=True), server_default=func.now())


def _updated_at() -> Mapped[dt.datetime]:
    return mapped_column(DateTime(timezone=True), server_default=func.now(), onupdate=func.now())


def _identity_pk() -> Mapped[int]:
    return mapped_column(BigInteger, Identity(), primary_key=True)


def _user_fk(*, primary_key: bool = False) -> Mapped[int]:
    return mapped_column(BigInteger, ForeignKey("users.id", ondelete="CASCADE"), primary_key=primary_key)


class User(Base):
    """A learner; the primary key is the Telegram user id."""

    __tablename__ = "users"
    __table_args__ = (
        CheckConstraint(_in("language", LANGUAGES), name="language"),
        CheckConstraint(_in("level", LEVELS), name="level"),
        CheckConstraint("reminder_hour BETWEEN 0 AND 23", name="reminder_hour"),
        # send_daily_reminders / active-user counts: active users seen since a given time.
        Index("ix_users_is_active_last_active_at", "is_active", "last_active_at"),
    )

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    username: Mapped[str | None] = mapped_column(Text)
    first_name: Mapped[str | None] = mapped_column(Text)
    last_name: Mapped[str | None] = mapped_column(Text)
    language: Mapped[str] = mapped_column(Text, server_default="ru")
    level: Mapped[str] = mapped_column(Text, server_default="beginner")
    timezone: Mapped[str] = mapped_column(Text, server_default="Europe/Prague")
    reminder_hour: Mapped[int] = mapped_column(SmallInteger, server_default="18")
    reminders_enabled: Mapped[bool] = mapped_column(Boolean, server_default=sql("true"))
    # Shown on /top (the weekly_leaderboard view leaves out those who turned it off in /settings).
    on_leaderboard: Mapped[bool] = mapped_column(Boolean, server_default=sql("true"))
    is_active: Mapped[bool] = mapped_column(Boolean, server_default=sql("true"))
    is_blocked: Mapped[bool] = mapped_column(Boolean, server_default=sql("false"))
    blocked_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    stars: Mapped[int] = mapped_column(Integer, server_default="0")
    created_at: Mapped[dt.datetime] = _created_at()
    last_active_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    updated_at: Mapped[dt.datetime] = _updated_at()


class Message(Base):
    """A text a learner wrote, with the review (feedback) once review_message has run."""

    __tablename__ = "messages"
    __table_args__ = (
        CheckConstraint("correctness BETWEEN 0 AND 100", name="correctness"),
        # A learner's messages in a period (daily stats, weekly report); also serves the FK cascade.
        Index("ix_messages_user_id_created_at", "user_id", "created_at"),
        # Retention cleanup and the set-based daily statistics over one day for all users.
        Index("ix_messages_created_at", "created_at"),
        # A message Telegram delivers twice is stored once; sent_at tells apart a development sandbox's
        # message ids, which start from 1 again after each restart.
        UniqueConstraint("user_id", "telegram_message_id", "sent_at"),
    )

    id: Mapped[int] = _identity_pk()
    user_id: Mapped[int] = _user_fk()
    text: Mapped[str] = mapped_column(Text)
    word_count: Mapped[int] = mapped_column(Integer, server_default="0")
    correctness: Mapped[int | None] = mapped_column(SmallInteger)
    review: Mapped[dict[str, Any] | None] = mapped_column(JSONB)
    reviewed_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    telegram_message_id: Mapped[int | None] = mapped_column(BigInteger)
    # Telegram's date of the message (NULL on rows from before it was stored).
    sent_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    created_at: Mapped[dt.datetime] = _created_at()


class DailyStats(Base):
    """One learner's totals for one of their local days (users.timezone), recomputed idempotently by the
    statistics jobs; correctness_avg is weighted by words."""

    __tablename__ = "daily_stats"
    __table_args__ = (
        UniqueConstraint("user_id", "date"),
        # All users' stats for a day (leaderboards, platform metrics, retention).
        Index("ix_daily_stats_date", "date"),
    )

    id: Mapped[int] = _identity_pk()
    user_id: Mapped[int] = _user_fk()
    date: Mapped[dt.date] = mapped_column(Date)
    messages_count: Mapped[int] = mapped_column(Integer, server_default="0")
    words_count: Mapped[int] = mapped_column(Integer, server_default="0")
    # Words weighted by each reviewed message's correctness: round(sum(word_count * correctness / 100)).
    correct_words: Mapped[int] = mapped_column(Integer, server_default="0")
    # Mean correctness (0-100) of the day's reviewed messages; null when none was reviewed.
    correctness_avg: Mapped[float | None] = mapped_column(Double)
    challenge_completed: Mapped[bool] = mapped_column(Boolean, server_default=sql("false"))
    computed_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())


class Streak(Base):
    """A learner's run of consecutive practice days, and the milestones already rewarded."""

    __tablename__ = "streaks"
    __table_args__ = (
        CheckConstraint("current >= 0 AND longest >= current", name="lengths"),
        # check_and_reset_streaks: running streaks whose last practice day is too old.
        Index(
            "ix_streaks_last_active_date_running",
            "last_active_date",
            postgresql_where=sql("current > 0"),
        ),
    )

    user_id: Mapped[int] = _user_fk(primary_key=True)
    current: Mapped[int] = mapped_column(Integer, server_default="0")
    longest: Mapped[int] = mapped_column(Integer, server_default="0")
    last_active_date: Mapped[dt.date | None] = mapped_column(Date)
    # Each milestone in STREAK_MILESTONES is appended once when awarded, so it is never awarded twice.
    milestones_awarded: Mapped[list[int]] = mapped_column(
        ARRAY(Integer), server_default=sql("'{}'::integer[]")
    )
    updated_at: Mapped[dt.datetime] = _updated_at()


class Delivery(Base):
    """The delivery ledger: one row per message the Sender must deliver at most once."""

    __tablename__ = "deliveries"
    __table_args__ = (
        UniqueConstraint("kind", "recipient_id", "business_key"),
        CheckConstraint(_in("status", DELIVERY_STATUSES), name="status"),
        # The reconciler: claims stuck in flight (sending since long ago) and pending rows.
        Index(
            "ix_deliveries_status_claimed_at_in_flight",
            "status",
            "claimed_at",
            postgresql_where=sql(_in("status", ("pending", "sending"))),
        ),
        # Dashboard and metrics: counts per kind and status.
        Index("ix_deliveries_kind_status", "kind", "status"),
        # Retention cleanup.
        Index("ix_deliveries_created_at", "created_at"),
    )

    id: Mapped[int] = _identity_pk()
    kind: Mapped[str] = mapped_column(Text)
    recipient_id: Mapped[int] = mapped_column(BigInteger)
    business_key: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(Text, server_default="pending")
    attempts: Mapped[int] = mapped_column(Integer, server_default="0")
    telegram_message_id: Mapped[int | None] = mapped_column(BigInteger)
    error: Mapped[str | None] = mapped_column(Text)
    payload: Mapped[dict[str, Any] | None] = mapped_column(JSONB)
    job_id: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[dt.datetime] = _created_at()
    updated_at: Mapped[dt.datetime] = _updated_at()
    claimed_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    sent_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))


class PlatformMetrics(Base):
    """A snapshot of platform-wide figures taken by aggregate_platform_metrics."""

    __tablename__ = "platform_metrics"
    __table_args__ = (
        # Latest snapshot, charts over time, retention cleanup.
        Index("ix_platform_metrics_captured_at", "captured_at"),
    )

    id: Mapped[int] = _identity_pk()
    captured_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    total_users: Mapped[int] = mapped_column(Integer, server_default="0")
    active_users_1d: Mapped[int] = mapped_column(Integer, server_default="0")
    active_users_7d: Mapped[int] = mapped_column(Integer, server_default="0")
    messages_1d: Mapped[int] = mapped_column(Integer, server_default="0")
    messages_total: Mapped[int] = mapped_column(BigInteger, server_default="0")
    extra: Mapped[dict[str, Any]] = mapped_column(JSONB, server_default=sql("'{}'::jsonb"))


class WeeklyReport(Base):
    """A learner's generated report for the week starting on week_start (a Monday), cached."""

    __tablename__ = "weekly_reports"
    __table_args__ = (UniqueConstraint("user_id", "week_start"),)

    id: Mapped[int] = _identity_pk()
    user_id: Mapped[int] = _user_fk()
    week_start: Mapped[dt.date] = mapped_column(Date)
    data: Mapped[dict[str, Any]] = mapped_column(JSONB)
    chart_png: Mapped[bytes | None] = mapped_column(LargeBinary)
    created_at: Mapped[dt.datetime] = _created_at()


class ScheduledMessage(Base):
    """A post an operator scheduled for a time, sent by send_scheduled_messages."""

    __tablename__ = "scheduled_messages"
    __table_args__ = (
        CheckConstraint(_in("target", SCHEDULED_TARGETS), name="target"),
        CheckConstraint(_in("status", SCHEDULED_STATUSES), name="status"),
        CheckConstraint("target = 'all' OR chat_id IS NOT NULL", name="chat_id_required"),
        CheckConstraint(_AUDIENCE_LANGUAGE, name="audience_language"),
        CheckConstraint(_ACTIVE_DAYS, name="active_days"),
        CheckConstraint(_LEARNER_FILTERS, name="learner_filters"),
        CheckConstraint(_STARTED_BY, name="started_by"),
        # send_scheduled_messages: due posts not yet sent.
        Index(
            "ix_scheduled_messages_send_at_scheduled",
            "send_at",
            postgresql_where=sql("status = 'scheduled'"),
        ),
    )

    id: Mapped[int] = _identity_pk()
    created_by: Mapped[int | None] = mapped_column(BigInteger)  # the admin's Telegram id (the bot)
    operator: Mapped[str | None] = mapped_column(Text)  # the web operator's name (the dashboard)
    target: Mapped[str] = mapped_column(Text)
    chat_id: Mapped[int | None] = mapped_column(BigInteger)
    # Filters of a post to learners (target 'all'): mluv.domain.audience.Audience.
    audience_language: Mapped[str | None] = mapped_column(Text)
    active_days: Mapped[int | None] = mapped_column(Integer)
    text: Mapped[str] = mapped_column(Text)
    parse_mode: Mapped[str | None] = mapped_column(Text)
    send_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))
    status: Mapped[str] = mapped_column(Text, server_default="scheduled")
    sent_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    cancelled_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[dt.datetime] = _created_at()


class Broadcast(Base):
    """An operator's message to all users or to channels; per-recipient state is in deliveries."""

    __tablename__ = "broadcasts"
    __table_args__ = (
        UniqueConstraint("idempotency_key"),
        CheckConstraint(_in("target", BROADCAST_TARGETS), name="target"),
        CheckConstraint(_in("status", BROADCAST_STATUSES), name="status"),
        CheckConstraint(_AUDIENCE_LANGUAGE, name="audience_language"),
        CheckConstraint(_ACTIVE_DAYS, name="active_days"),
        CheckConstraint(_LEARNER_FILTERS, name="learner_filters"),
        CheckConstraint(_STARTED_BY, name="started_by"),
        # Dashboard and resumption after a restart: broadcasts still running.
        Index("ix_broadcasts_status", "status"),
    )

    id: Mapped[int] = _identity_pk()
    created_by: Mapped[int | None] = mapped_column(BigInteger)  # the admin's Telegram id (the bot)
    operator: Mapped[str | None] = mapped_column(Text)  # the web operator's name (the dashboard)
    text: Mapped[str] = mapped_column(Text)
    parse_mode: Mapped[str | None] = mapped_column(Text)
    target: Mapped[str] = mapped_column(Text)
    channel_ids: Mapped[list[int] | None] = mapped_column(ARRAY(BigInteger))
    # Filters of a broadcast to learners (target 'all'): mluv.domain.audience.Audience.
    audience_language: Mapped[str | None] = mapped_column(Text)
    active_days: Mapped[int | None] = mapped_column(Integer)
    status: Mapped[str] = mapped_column(Text, server_default="draft")
    idempotency_key: Mapped[str | None] = mapped_column(Text)
    total: Mapped[int] = mapped_column(Integer, server_default="0")
    sent: Mapped[int] = mapped_column(Integer, server_default="0")
    blocked: Mapped[int] = mapped_column(Integer, server_default="0")
    failed: Mapped[int] = mapped_column(Integer, server_default="0")
    # Sent with allow_paid_broadcast at PAID_BROADCAST_RATE_PER_SECOND (chosen on confirming it)
    paid: Mapped[bool] = mapped_column(Boolean, server_default=sql("false"))
    progress_chat_id: Mapped[int | None] = mapped_column(BigInteger)
    progress_message_id: Mapped[int | None] = mapped_column(BigInteger)
    created_at: Mapped[dt.datetime] = _created_at()
    started_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    finished_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    cancelled_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))


class Channel(Base):
    """A channel the bot posts to, chosen as a broadcast's or a scheduled post's audience."""

    __tablename__ = "channels"

    chat_id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    title: Mapped[str] = mapped_column(Text)
    added_by: Mapped[str] = mapped_column(Text)  # "admin:<telegram id>" or the web operator's name
    added_at: Mapped[dt.datetime] = _created_at()


class JobFailure(Base):
    """A dead letter: a job that failed for good, kept readable so an operator can retry or discard it."""

    __tablename__ = "job_failures"
    __table_args__ = (
        CheckConstraint(_in("status", JOB_FAILURE_STATUSES), name="status"),
        # Dashboard: open failures, newest first.
        Index("ix_job_failures_status_failed_at", "status", "failed_at"),
        # Dashboard: recent failures of one job.
        Index("ix_job_failures_job_name_failed_at", "job_name", "failed_at"),
    )

    id: Mapped[int] = _identity_pk()
    job_id: Mapped[str] = mapped_column(Text)
    job_name: Mapped[str] = mapped_column(Text)
    queue: Mapped[str] = mapped_column(Text)
    arguments: Mapped[dict[str, Any]] = mapped_column(JSONB, server_default=sql("'{}'::jsonb"))
    error: Mapped[str] = mapped_column(Text)
    traceback: Mapped[str | None] = mapped_column(Text)
    tries: Mapped[int] = mapped_column(Integer, server_default="1")
    failed_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    status: Mapped[str] = mapped_column(Text, server_default="open")
    retried_job_id: Mapped[str | None] = mapped_column(Text)
    resolved_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))


class CronRun(Base):
    """One run of a cron job for one business key, so a run happens once and missed days are caught up."""

    __tablename__ = "cron_runs"
    __table_args__ = (
        UniqueConstraint("cron_name", "business_key"),
        CheckConstraint(_in("status", CRON_RUN_STATUSES), name="status"),
        # Last runs of a cron (catch-up, dashboard).
        Index("ix_cron_runs_cron_name_started_at", "cron_name", "started_at"),
    )

    id: Mapped[int] = _identity_pk()
    cron_name: Mapped[str] = mapped_column(Text)
    business_key: Mapped[str] = mapped_column(Text)
    business_date: Mapped[dt.date] = mapped_column(Date)
    status: Mapped[str] = mapped_column(Text, server_default="running")
    job_id: Mapped[str | None] = mapped_column(Text)
    attempts: Mapped[int] = mapped_column(Integer, server_default="1")
    started_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    finished_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    error: Mapped[str | None] = mapped_column(Text)
    result: Mapped[dict[str, Any] | None] = mapped_column(JSONB)
