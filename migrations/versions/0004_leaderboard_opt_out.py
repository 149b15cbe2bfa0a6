"""A learner can leave the weekly leaderboard: users.on_leaderboard, and the view keeps only those on it.

The view itself leaves out learners with on_leaderboard false (not only a filter at read time), so the
places of the others have no gaps; /top also checks the flag when it reads, so leaving takes effect at
once instead of at the next hourly refresh.

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-05
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | Sequence[str] | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

VIEW = """
CREATE MATERIALIZED VIEW weekly_leaderboard AS
SELECT
    m.user_id,
    count(*)::integer AS messages,
    coalesce(sum(m.word_count), 0)::integer AS words,
    rank() OVER (ORDER BY coalesce(sum(m.word_count), 0) DESC, count(*) DESC)::integer AS rank
FROM messages AS m
JOIN users AS u ON u.id = m.user_id
WHERE m.created_at >= now() - interval '7 days' AND u.is_active{opted_in}
GROUP BY m.user_id
WITH DATA
"""


def _create_view(*, opted_in: bool) -> None:
    op.execute("DROP MATERIALIZED VIEW IF EXISTS weekly_leaderboard")
    op.execute(VIEW.format(opted_in=" AND u.on_leaderboard" if opted_in else ""))
    # The same indexes as 0002: the unique one lets REFRESH ... CONCURRENTLY run, the rank one the top N.
    op.execute("CREATE UNIQUE INDEX ix_weekly_leaderboard_user_id ON weekly_leaderboard (user_id)")
    op.execute("CREATE INDEX ix_weekly_leaderboard_rank ON weekly_leaderboard (rank)")


def upgrade() -> None:
    # A constant server default: PostgreSQL adds the column without rewriting the table; everyone is on it.
    op.add_column(
        "users", sa.Column("on_leaderboard", sa.Boolean(), server_default=sa.text("true"), nullable=False)
    )
    _create_view(opted_in=True)


def downgrade() -> None:
    # The view depends on the column: rebuild it as 0002 made it first.
    _create_view(opted_in=False)
    op.drop_column("users", "on_leaderboard")
