"""Initial schema: learners and their activity, the delivery ledger, operator messaging, jobs bookkeeping.

Revision ID: 0001
Revises:
Create Date: 2026-11-21
"""

import datetime as dt
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0001"
down_revision: str | Sequence[str] | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _id() -> sa.Column[int]:
    return sa.Column("id", sa.BigInteger(), sa.Identity(always=False), nullable=False)


def _timestamp(name: str, *, default_now: bool = False) -> sa.Column[dt.datetime]:
    if default_now:
        return sa.Column(name, sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False)
    return sa.Column(name, sa.DateTime(timezone=True), nullable=True)


def _user_id() -> sa.Column[int]:
    return sa.Column("user_id", sa.BigInteger(), nullable=False)


def _user_fk(table: str) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(
        ["user_id"], ["users.id"], name=op.f(f"fk_{table}_user_id_users"), ondelete="CASCADE"
    )


def _counter(name: str, default: int = 0) -> sa.Column[int]:
    return sa.Column(name, sa.Integer(), server_default=str(default), nullable=False)


def _jsonb(name: str, *, nullable: bool = True, default_empty: bool = False) -> sa.Column[dict[str, object]]:
    return sa.Column(
        name,
        postgresql.JSONB(astext_type=sa.Text()),
        server_default=sa.text("'{}'::jsonb") if default_empty else None,
        nullable=nullable,
    )


def upgrade() -> None:
    # Learners and their activity.
    op.create_table(
        "users",
        sa.Column("id", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("username", sa.Text(), nullable=True),
        sa.Column("first_name", sa.Text(), nullable=True),
        sa.Column("last_name", sa.Text(), nullable=True),
        sa.Column("language", sa.Text(), server_default="ru", nullable=False),
        sa.Column("level", sa.Text(), server_default="beginner", nullable=False),
        sa.Column("timezone", sa.Text(), server_default="Europe/Prague", nullable=False),
        sa.Column("reminder_hour", sa.SmallInteger(), server_default="18", nullable=False),
        sa.Column("reminders_enabled", sa.Boolean(), server_default=sa.text("true"), nullable=False),
        sa.Column("is_active", sa.Boolean(), server_default=sa.text("true"), nullable=False),
        sa.Column("is_blocked", sa.Boolean(), server_default=sa.text("false"), nullable=False),
        _timestamp("blocked_at"),
        _counter("stars"),
        _timestamp("created_at", default_now=True),
        _timestamp("last_active_at", default_now=True),
        _timestamp("updated_at", default_now=True),
        sa.CheckConstraint("language IN ('ru', 'uk')", name=op.f("ck_users_language")),
        sa.CheckConstraint("level IN ('beginner', 'intermediate', 'advanced')", name=op.f("ck_users_level")),
        sa.CheckConstraint("reminder_hour BETWEEN 0 AND 23", name=op.f("ck_users_reminder_hour")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_users")),
    )
    op.create_index("ix_users_is_active_last_active_at", "users", ["is_active", "last_active_at"])

    op.create_table(
        "messages",
        _id(),
        _user_id(),
        sa.Column("text", sa.Text(), nullable=False),
        _counter("word_count"),
        sa.Column("correctness", sa.SmallInteger(), nullable=True),
        _jsonb("review"),
        _timestamp("reviewed_at"),
        sa.Column("telegram_message_id", sa.BigInteger(), nullable=True),
        _timestamp("created_at", default_now=True),
        sa.CheckConstraint("correctness BETWEEN 0 AND 100", name=op.f("ck_messages_correctness")),
        _user_fk("messages"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_messages")),
    )
    op.create_index("ix_messages_user_id_created_at", "messages", ["user_id", "created_at"])
    op.create_index("ix_messages_created_at", "messages", ["created_at"])

    op.create_table(
        "daily_stats",
        _id(),
        _user_id(),
        sa.Column("date", sa.Date(), nullable=False),
        _counter("messages_count"),
        _counter("words_count"),
        _counter("correct_words"),
        sa.Column("correctness_avg", sa.Double(), nullable=True),
        sa.Column("challenge_completed", sa.Boolean(), server_default=sa.text("false"), nullable=False),
        _timestamp("computed_at", default_now=True),
        _user_fk("daily_stats"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_daily_stats")),
        sa.UniqueConstraint("user_id", "date", name=op.f("uq_daily_stats_user_id_date")),
    )
    op.create_index("ix_daily_stats_date", "daily_stats", ["date"])

    op.create_table(
        "streaks",
        _user_id(),
        _counter("current"),
        _counter("longest"),
        sa.Column("last_active_date", sa.Date(), nullable=True),
        sa.Column(
            "milestones_awarded",
            postgresql.ARRAY(sa.Integer()),
            server_default=sa.text("'{}'::integer[]"),
            nullable=False,
        ),
        _timestamp("updated_at", default_now=True),
        sa.CheckConstraint("current >= 0 AND longest >= current", name=op.f("ck_streaks_lengths")),
        _user_fk("streaks"),
        sa.PrimaryKeyConstraint("user_id", name=op.f("pk_streaks")),
    )
    op.create_index(
        "ix_streaks_last_active_date_running",
        "streaks",
        ["last_active_date"],
        postgresql_where=sa.text("current > 0"),
    )

    op.create_table(
        "weekly_reports",
        _id(),
        _user_id(),
        sa.Column("week_start", sa.Date(), nullable=False),
        _jsonb("data", nullable=False),
        sa.Column("chart_png", sa.LargeBinary(), nullable=True),
        _timestamp("created_at", default_now=True),
        _user_fk("weekly_reports"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_weekly_reports")),
        sa.UniqueConstraint("user_id", "week_start", name=op.f("uq_weekly_reports_user_id_week_start")),
    )

    # The delivery ledger.
    op.create_table(
        "deliveries",
        _id(),
        sa.Column("kind", sa.Text(), nullable=False),
        sa.Column("recipient_id", sa.BigInteger(), nullable=False),
        sa.Column("business_key", sa.Text(), nullable=False),
        sa.Column("status", sa.Text(), server_default="pending", nullable=False),
        _counter("attempts"),
        sa.Column("telegram_message_id", sa.BigInteger(), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        _jsonb("payload"),
        sa.Column("job_id", sa.Text(), nullable=True),
        _timestamp("created_at", default_now=True),
        _timestamp("updated_at", default_now=True),
        _timestamp("claimed_at"),
        _timestamp("sent_at"),
        sa.CheckConstraint(
            "status IN ('pending', 'sending', 'sent', 'blocked', 'failed', 'unknown', 'cancelled')",
            name=op.f("ck_deliveries_status"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_deliveries")),
        sa.UniqueConstraint(
            "kind", "recipient_id", "business_key", name=op.f("uq_deliveries_kind_recipient_id_business_key")
        ),
    )
    op.create_index(
        "ix_deliveries_status_claimed_at_in_flight",
        "deliveries",
        ["status", "claimed_at"],
        postgresql_where=sa.text("status IN ('pending', 'sending')"),
    )
    op.create_index("ix_deliveries_kind_status", "deliveries", ["kind", "status"])
    op.create_index("ix_deliveries_created_at", "deliveries", ["created_at"])

    # Operator messaging.
    op.create_table(
        "scheduled_messages",
        _id(),
        sa.Column("created_by", sa.BigInteger(), nullable=False),
        sa.Column("target", sa.Text(), nullable=False),
        sa.Column("chat_id", sa.BigInteger(), nullable=True),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("parse_mode", sa.Text(), nullable=True),
        sa.Column("send_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("status", sa.Text(), server_default="scheduled", nullable=False),
        _timestamp("sent_at"),
        sa.Column("error", sa.Text(), nullable=True),
        _timestamp("created_at", default_now=True),
        sa.CheckConstraint("target IN ('user', 'channel', 'all')", name=op.f("ck_scheduled_messages_target")),
        sa.CheckConstraint(
            "status IN ('scheduled', 'sending', 'sent', 'failed', 'cancelled')",
            name=op.f("ck_scheduled_messages_status"),
        ),
        sa.CheckConstraint(
            "target = 'all' OR chat_id IS NOT NULL", name=op.f("ck_scheduled_messages_chat_id_required")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_scheduled_messages")),
    )
    op.create_index(
        "ix_scheduled_messages_send_at_scheduled",
        "scheduled_messages",
        ["send_at"],
        postgresql_where=sa.text("status = 'scheduled'"),
    )

    op.create_table(
        "broadcasts",
        _id(),
        sa.Column("created_by", sa.BigInteger(), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("parse_mode", sa.Text(), nullable=True),
        sa.Column("target", sa.Text(), nullable=False),
        sa.Column("channel_ids", postgresql.ARRAY(sa.BigInteger()), nullable=True),
        sa.Column("status", sa.Text(), server_default="draft", nullable=False),
        sa.Column("idempotency_key", sa.Text(), nullable=True),
        _counter("total"),
        _counter("sent"),
        _counter("blocked"),
        _counter("failed"),
        sa.Column("progress_chat_id", sa.BigInteger(), nullable=True),
        sa.Column("progress_message_id", sa.BigInteger(), nullable=True),
        _timestamp("created_at", default_now=True),
        _timestamp("started_at"),
        _timestamp("finished_at"),
        _timestamp("cancelled_at"),
        sa.CheckConstraint("target IN ('all', 'channels')", name=op.f("ck_broadcasts_target")),
        sa.CheckConstraint(
            "status IN ('draft', 'confirmed', 'running', 'completed', 'cancelled', 'failed')",
            name=op.f("ck_broadcasts_status"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_broadcasts")),
        sa.UniqueConstraint("idempotency_key", name=op.f("uq_broadcasts_idempotency_key")),
    )
    op.create_index("ix_broadcasts_status", "broadcasts", ["status"])

    # Jobs bookkeeping and platform figures.
    op.create_table(
        "platform_metrics",
        _id(),
        _timestamp("captured_at", default_now=True),
        _counter("total_users"),
        _counter("active_users_1d"),
        _counter("active_users_7d"),
        _counter("messages_1d"),
        sa.Column("messages_total", sa.BigInteger(), server_default="0", nullable=False),
        _jsonb("extra", nullable=False, default_empty=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_platform_metrics")),
    )
    op.create_index("ix_platform_metrics_captured_at", "platform_metrics", ["captured_at"])

    op.create_table(
        "job_failures",
        _id(),
        sa.Column("job_id", sa.Text(), nullable=False),
        sa.Column("job_name", sa.Text(), nullable=False),
        sa.Column("queue", sa.Text(), nullable=False),
        _jsonb("arguments", nullable=False, default_empty=True),
        sa.Column("error", sa.Text(), nullable=False),
        sa.Column("traceback", sa.Text(), nullable=True),
        _counter("tries", default=1),
        _timestamp("failed_at", default_now=True),
        sa.Column("status", sa.Text(), server_default="open", nullable=False),
        sa.Column("retried_job_id", sa.Text(), nullable=True),
        _timestamp("resolved_at"),
        sa.CheckConstraint("status IN ('open', 'retried', 'discarded')", name=op.f("ck_job_failures_status")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_job_failures")),
    )
    op.create_index("ix_job_failures_status_failed_at", "job_failures", ["status", "failed_at"])
    op.create_index("ix_job_failures_job_name_failed_at", "job_failures", ["job_name", "failed_at"])

    op.create_table(
        "cron_runs",
        _id(),
        sa.Column("cron_name", sa.Text(), nullable=False),
        sa.Column("business_key", sa.Text(), nullable=False),
        sa.Column("business_date", sa.Date(), nullable=False),
        sa.Column("status", sa.Text(), server_default="running", nullable=False),
        sa.Column("job_id", sa.Text(), nullable=True),
        _counter("attempts", default=1),
        _timestamp("started_at", default_now=True),
        _timestamp("finished_at"),
        sa.Column("error", sa.Text(), nullable=True),
        _jsonb("result"),
        sa.CheckConstraint("status IN ('running', 'succeeded', 'failed')", name=op.f("ck_cron_runs_status")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_cron_runs")),
        sa.UniqueConstraint("cron_name", "business_key", name=op.f("uq_cron_runs_cron_name_business_key")),
    )
    op.create_index("ix_cron_runs_cron_name_started_at", "cron_runs", ["cron_name", "started_at"])


def downgrade() -> None:
    # Dropping a table drops its indexes and constraints; dependants of users go first.
    for table in (
        "cron_runs",
        "job_failures",
        "platform_metrics",
        "broadcasts",
        "scheduled_messages",
        "deliveries",
        "weekly_reports",
        "streaks",
        "daily_stats",
        "messages",
        "users",
    ):
        op.drop_table(table)
