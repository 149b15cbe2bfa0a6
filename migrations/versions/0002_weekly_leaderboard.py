"""The weekly leaderboard: a materialized view of learners' messages and words in the last 7 days, ranked.

Refreshed hourly by refresh_materialized_views with REFRESH ... CONCURRENTLY (readers are never blocked),
which needs a unique index on the view. The view is not in the models: migrations/env.py keeps
autogenerate (`alembic check`) from reporting it.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-28
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0002"
down_revision: str | Sequence[str] | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # WITH DATA: CONCURRENTLY refuses a view that was never populated; one week of messages is quick to
    # read through ix_messages_created_at.
    op.execute(
        """
        CREATE MATERIALIZED VIEW weekly_leaderboard AS
        SELECT
            m.user_id,
            count(*)::integer AS messages,
            coalesce(sum(m.word_count), 0)::integer AS words,
            rank() OVER (ORDER BY coalesce(sum(m.word_count), 0) DESC, count(*) DESC)::integer AS rank
        FROM messages AS m
        JOIN users AS u ON u.id = m.user_id
        WHERE m.created_at >= now() - interval '7 days' AND u.is_active
        GROUP BY m.user_id
        WITH DATA
        """
    )
    op.execute("CREATE UNIQUE INDEX ix_weekly_leaderboard_user_id ON weekly_leaderboard (user_id)")
    # The board is read top-down (first N places).
    op.execute("CREATE INDEX ix_weekly_leaderboard_rank ON weekly_leaderboard (rank)")


def downgrade() -> None:
    op.execute("DROP MATERIALIZED VIEW IF EXISTS weekly_leaderboard")
