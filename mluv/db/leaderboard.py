"""The weekly leaderboard as /top reads it: the first places of the `weekly_leaderboard` view and the
asking learner's own place, with first names only.

The view (migrations 0002, 0004) is refreshed hourly; it already leaves out inactive learners and those
who left the board. The read checks both flags again, so leaving in /settings takes effect at once.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Integer, Select, column, select, table
from sqlalchemy.ext.asyncio import AsyncSession

from mluv.db.models import User

# Places /top lists before "…" and the learner's own place.
TOP_SIZE = 10

# The view is not a model (autogenerate must ignore it): a lightweight table clause for the query builder.
weekly_leaderboard = table(
    "weekly_leaderboard",
    column("user_id", Integer),
    column("messages", Integer),
    column("words", Integer),
    column("rank", Integer),
)


@dataclass(frozen=True)
class Place:
    """One line of the board; `first_name` is the only name it shows (None when Telegram has none)."""

    user_id: int
    rank: int
    first_name: str | None
    words: int
    messages: int


@dataclass(frozen=True)
class Board:
    top: list[Place]
    # The asking learner's place, wherever it is; None when they are not on the board.
    own: Place | None

    @property
    def own_outside_top(self) -> bool:
        return self.own is not None and all(place.user_id != self.own.user_id for place in self.top)


def _places() -> Select[tuple[int, int, str | None, int, int]]:
    board = weekly_leaderboard.c
    return (
        select(board.user_id, board.rank, User.first_name, board.words, board.messages)
        .join(User, User.id == board.user_id)
        .where(User.on_leaderboard, User.is_active)
    )


async def weekly_board(session: AsyncSession, user_id: int, *, size: int = TOP_SIZE) -> Board:
    """The first `size` places (ties in rank by user id, so the order is stable) and `user_id`'s own."""
    board = weekly_leaderboard.c
    top = await session.execute(_places().order_by(board.rank, board.user_id).limit(size))
    own = await session.execute(_places().where(board.user_id == user_id))
    row = own.one_or_none()
    return Board(top=[Place(*place) for place in top], own=None if row is None else Place(*row))
