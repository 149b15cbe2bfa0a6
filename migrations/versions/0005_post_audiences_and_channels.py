"""Operators' posts: their audience, who started them, cancellable scheduled posts, and the channels table.

broadcasts and scheduled_messages get the learner filters of mluv.domain.audience (audience_language,
active_days; only for target 'all') and `operator` (the web operator's name) beside created_by (the admin's
Telegram id), which becomes nullable: one of the two names who started it. scheduled_messages gets
cancelled_at. `channels` keeps the channels the bot posts to. Every new column is nullable with no
default, so PostgreSQL adds them without rewriting the tables; the CHECKs hold for every existing row.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-08
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | Sequence[str] | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TABLES = ("broadcasts", "scheduled_messages")
CHECKS = {
    "audience_language": "audience_language IS NULL OR audience_language IN ('ru', 'uk')",
    "active_days": "active_days IS NULL OR active_days BETWEEN 1 AND 365",
    "learner_filters": "target = 'all' OR (audience_language IS NULL AND active_days IS NULL)",
    "started_by": "created_by IS NOT NULL OR operator IS NOT NULL",
}


def upgrade() -> None:
    for table in TABLES:
        op.add_column(table, sa.Column("operator", sa.Text(), nullable=True))
        op.add_column(table, sa.Column("audience_language", sa.Text(), nullable=True))
        op.add_column(table, sa.Column("active_days", sa.Integer(), nullable=True))
        op.alter_column(table, "created_by", existing_type=sa.BigInteger(), nullable=True)
        for name, condition in CHECKS.items():
            op.create_check_constraint(op.f(f"ck_{table}_{name}"), table, condition)
    op.add_column("scheduled_messages", sa.Column("cancelled_at", sa.DateTime(timezone=True), nullable=True))
    op.create_table(
        "channels",
        sa.Column("chat_id", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("title", sa.Text(), nullable=False),
        sa.Column("added_by", sa.Text(), nullable=False),
        sa.Column("added_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.PrimaryKeyConstraint("chat_id", name=op.f("pk_channels")),
    )


def downgrade() -> None:
    op.drop_table("channels")
    op.drop_column("scheduled_messages", "cancelled_at")
    for table in TABLES:
        for name in CHECKS:
            op.drop_constraint(op.f(f"ck_{table}_{name}"), table, type_="check")
        # Rows a web operator started have no admin id: they cannot survive a NOT NULL created_by.
        op.execute(f"DELETE FROM {table} WHERE created_by IS NULL")  # noqa: S608 (a constant table name)
        op.alter_column(table, "created_by", existing_type=sa.BigInteger(), nullable=False)
        op.drop_column(table, "active_days")
        op.drop_column(table, "audience_language")
        op.drop_column(table, "operator")
