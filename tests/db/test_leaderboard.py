"""The weekly leaderboard as /top reads it (mluv.db.leaderboard) on real PostgreSQL: the view refreshed as
the hourly cron does, the order, first names only, who is left out, the learner's own place; and
migration 0004 (users.on_leaderboard, the view rebuilt) both ways."""

from __future__ import annotations

import dataclasses
import datetime as dt

import pytest
from sqlalchemy import text, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from mluv.db.leaderboard import TOP_SIZE, Place, weekly_board
from mluv.db.maintenance import refresh_view
from mluv.db.migrate import downgrade, upgrade
from mluv.db.models import Message, User
from mluv.db.session import create_engine, create_session_factory

NOW = dt.datetime.now(dt.UTC)
ASKING = 1_000


async def add_learner(
    sessions: async_sessionmaker[AsyncSession],
    user_id: int,
    words: list[int],
    *,
    first_name: str | None = "Name",
    on_leaderboard: bool = True,
    is_active: bool = True,
    days_ago: float = 1,
) -> None:
    """A learner with one message per entry of `words`, written `days_ago` days ago."""
    async with sessions.begin() as session:
        session.add(
            User(
                id=user_id,
                first_name=first_name,
                last_name="Secret-Surname",
                username="secret_username",
                on_leaderboard=on_leaderboard,
                is_active=is_active,
            )
        )
        await session.flush()
        at = NOW - dt.timedelta(days=days_ago)
        session.add_all(
            Message(user_id=user_id, text="Ahoj", word_count=count, created_at=at) for count in words
        )


async def refresh(sessions: async_sessionmaker[AsyncSession]) -> None:
    await refresh_view(sessions, "weekly_leaderboard")


async def board_of(
    sessions: async_sessionmaker[AsyncSession], user_id: int = ASKING
) -> tuple[list[Place], Place | None]:
    async with sessions() as session:
        board = await weekly_board(session, user_id)
    return board.top, board.own


def ranks(places: list[Place]) -> list[tuple[int, int]]:
    return [(place.rank, place.user_id) for place in places]


async def test_places_go_by_words_then_messages_with_first_names_only(
    migrated_sessions: async_sessionmaker[AsyncSession],
) -> None:
    await add_learner(migrated_sessions, 1, [10], first_name="Olga")
    await add_learner(migrated_sessions, 2, [30], first_name="Taras")
    await add_learner(migrated_sessions, 3, [5, 5], first_name=None)  # 10 words in 2 messages beats 1
    await add_learner(migrated_sessions, 4, [10], first_name="Ivan")  # ties with 1: the same place
    await add_learner(migrated_sessions, 5, [99], days_ago=8)  # older than the 7 days
    await add_learner(migrated_sessions, 6, [99], is_active=False)  # blocked the bot
    await add_learner(migrated_sessions, 7, [99], on_leaderboard=False)  # left the board
    await refresh(migrated_sessions)

    top, own = await board_of(migrated_sessions, 1)

    assert top == [
        Place(user_id=2, rank=1, first_name="Taras", words=30, messages=1),
        Place(user_id=3, rank=2, first_name=None, words=10, messages=2),
        Place(user_id=1, rank=3, first_name="Olga", words=10, messages=1),
        Place(user_id=4, rank=3, first_name="Ivan", words=10, messages=1),
    ]
    assert own == top[2]
    # The only name a place carries is the first name.
    assert [field.name for field in dataclasses.fields(Place)] == [
        "user_id",
        "rank",
        "first_name",
        "words",
        "messages",
    ]


async def test_an_empty_week_is_an_empty_board(migrated_sessions: async_sessionmaker[AsyncSession]) -> None:
    await add_learner(migrated_sessions, ASKING, [20], days_ago=9)
    await refresh(migrated_sessions)

    assert await board_of(migrated_sessions) == ([], None)


@pytest.mark.parametrize(
    ("asking_words", "in_top", "own_rank"),
    [
        ([100], True, 1),  # first
        ([64], True, TOP_SIZE),  # the last place of the top (between 67 and 63)
        ([1], False, TOP_SIZE + 3),  # below everyone: shown as its own line after the top
    ],
)
async def test_the_asking_learners_own_place(
    migrated_sessions: async_sessionmaker[AsyncSession], asking_words: list[int], in_top: bool, own_rank: int
) -> None:
    # Twelve others with 99, 95, ..., 55 words.
    for index in range(TOP_SIZE + 2):
        await add_learner(migrated_sessions, index + 1, [99 - 4 * index])
    await add_learner(migrated_sessions, ASKING, asking_words)
    await refresh(migrated_sessions)
    async with migrated_sessions() as session:
        board = await weekly_board(session, ASKING)

    assert len(board.top) == TOP_SIZE
    assert [place.rank for place in board.top] == list(range(1, TOP_SIZE + 1))
    assert board.own is not None
    assert (board.own.rank, board.own.words) == (own_rank, asking_words[0])
    assert (board.own in board.top) is in_top
    assert board.own_outside_top is not in_top


async def test_leaving_the_board_hides_the_learner_at_once_and_the_refresh_closes_the_gap(
    migrated_sessions: async_sessionmaker[AsyncSession],
) -> None:
    await add_learner(migrated_sessions, 1, [30])
    await add_learner(migrated_sessions, ASKING, [20])
    await add_learner(migrated_sessions, 3, [10])
    await refresh(migrated_sessions)
    async with migrated_sessions.begin() as session:
        await session.execute(update(User).where(User.id == ASKING).values(on_leaderboard=False))

    # Before the hourly refresh: gone from the board already, the others keep their places.
    assert await board_of(migrated_sessions) == (
        [
            Place(user_id=1, rank=1, first_name="Name", words=30, messages=1),
            Place(user_id=3, rank=3, first_name="Name", words=10, messages=1),
        ],
        None,
    )

    await refresh(migrated_sessions)
    top, own = await board_of(migrated_sessions)
    assert ranks(top) == [(1, 1), (2, 3)]
    assert own is None

    # Coming back shows the learner from the next refresh on.
    async with migrated_sessions.begin() as session:
        await session.execute(update(User).where(User.id == ASKING).values(on_leaderboard=True))
    assert (await board_of(migrated_sessions))[1] is None
    await refresh(migrated_sessions)
    assert ranks((await board_of(migrated_sessions))[0]) == [(1, 1), (2, ASKING), (3, 3)]


async def execute(sessions: async_sessionmaker[AsyncSession], statement: str) -> list[object]:
    async with sessions.begin() as session:
        result = await session.execute(text(statement))
        return list(result.all()) if statement.lstrip().upper().startswith("SELECT") else []


async def test_migration_0004_keeps_everyone_on_the_board_and_downgrades(fresh_database_url: str) -> None:
    await upgrade(fresh_database_url, "0003")
    engine = create_engine(fresh_database_url, pool_size=1)
    sessions = create_session_factory(engine)
    try:
        await execute(sessions, "INSERT INTO users (id, first_name) VALUES (1, 'Olga'), (2, 'Taras')")
        await execute(
            sessions,
            "INSERT INTO messages (user_id, text, word_count) VALUES (1, 'Ahoj', 4), (2, 'Dobrý den', 9)",
        )

        await upgrade(fresh_database_url, "0004")
        # Existing learners are on the board; the view was rebuilt with data and is refreshed concurrently.
        assert await execute(sessions, "SELECT id, on_leaderboard FROM users ORDER BY id") == [
            (1, True),
            (2, True),
        ]
        assert await execute(sessions, "SELECT user_id, rank FROM weekly_leaderboard ORDER BY rank") == [
            (2, 1),
            (1, 2),
        ]
        await execute(sessions, "UPDATE users SET on_leaderboard = false WHERE id = 2")
        await refresh(sessions)
        assert await execute(sessions, "SELECT user_id, rank FROM weekly_leaderboard") == [(1, 1)]

        await downgrade(fresh_database_url, "0003")
        columns = await execute(
            sessions, "SELECT column_name FROM information_schema.columns WHERE table_name = 'users'"
        )
        assert ("on_leaderboard",) not in columns
        # The view is 0002's again: everyone active, refreshable without blocking readers.
        await refresh(sessions)
        assert await execute(sessions, "SELECT user_id, rank FROM weekly_leaderboard ORDER BY rank") == [
            (2, 1),
            (1, 2),
        ]
    finally:
        await engine.dispose()
