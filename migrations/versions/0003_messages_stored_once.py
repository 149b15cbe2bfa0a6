"""A learner's message is stored once however often Telegram delivers it.

Adds messages.sent_at (Telegram's date of the message) and a unique (user_id, telegram_message_id,
sent_at): `record_practice` inserts with ON CONFLICT DO NOTHING. The date is part of the key because a
development sandbox numbers each chat's messages from 1 again after a restart, while the database keeps
the earlier ones. Rows from before have sent_at NULL, which never conflicts, so nothing is rewritten.

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-02
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | Sequence[str] | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

CONSTRAINT = "uq_messages_user_id_telegram_message_id_sent_at"


def upgrade() -> None:
    op.add_column("messages", sa.Column("sent_at", sa.DateTime(timezone=True), nullable=True))
    op.create_unique_constraint(CONSTRAINT, "messages", ["user_id", "telegram_message_id", "sent_at"])


def downgrade() -> None:
    op.drop_constraint(CONSTRAINT, "messages", type_="unique")
    op.drop_column("messages", "sent_at")
