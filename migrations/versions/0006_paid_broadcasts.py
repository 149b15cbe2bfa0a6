"""Paid broadcasts: broadcasts.paid says a broadcast was sent with allow_paid_broadcast (0.1 Telegram Stars
a message, at PAID_BROADCAST_RATE_PER_SECOND instead of the free limit), as the operator chose when
confirming it. NOT NULL with a constant default: PostgreSQL 11+ adds it without rewriting the table.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-03
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | Sequence[str] | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column(
        "broadcasts", sa.Column("paid", sa.Boolean(), server_default=sa.text("false"), nullable=False)
    )


def downgrade() -> None:
    op.drop_column("broadcasts", "paid")
