"""Who an operator's post reaches (mluv.telegram.audiences) on real PostgreSQL: all learners, a language,
those active in the last N days, both, or a kept channel; the size shown is the snapshot's own count, and
the channels are added, listed and removed."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from mluv.db.models import User
from mluv.domain.audience import Audience
from mluv.domain.post_format import PostError
from mluv.i18n import t
from mluv.telegram import audiences, ledger

NOW = dt.datetime.now(dt.UTC)
# id: (language, days since last active, active, blocked)
LEARNERS = {
    1: ("ru", 0, True, False),
    2: ("ru", 5, True, False),
    3: ("ru", 40, True, False),
    4: ("uk", 0, True, False),
    5: ("uk", 10, True, False),
    6: ("uk", 1, False, False),  # left: never in an audience
    7: ("ru", 1, True, True),  # blocked the bot: never in an audience
}


@pytest.fixture
async def learners(clean_tables: None, session_factory: async_sessionmaker[AsyncSession]) -> None:
    async with session_factory.begin() as db:
        db.add_all(
            User(
                id=user_id,
                first_name="Learner",
                language=language,
                last_active_at=NOW - dt.timedelta(days=days, minutes=1),
                is_active=active,
                is_blocked=blocked,
            )
            for user_id, (language, days, active, blocked) in LEARNERS.items()
        )


@pytest.mark.parametrize(
    ("audience", "expected"),
    [
        (Audience(), {1, 2, 3, 4, 5}),
        (Audience(language="ru"), {1, 2, 3}),
        (Audience(language="uk"), {4, 5}),
        (Audience(active_days=1), {1, 4}),
        (Audience(active_days=7), {1, 2, 4}),
        (Audience(active_days=30), {1, 2, 4, 5}),
        (Audience(language="uk", active_days=7), {4}),
        (Audience(language="ru", active_days=365), {1, 2, 3}),
    ],
    ids=["all", "ru", "uk", "active-1", "active-7", "active-30", "uk-active-7", "ru-active-365"],
)
async def test_the_size_shown_is_the_snapshot_taken(
    learners: None,
    session_factory: async_sessionmaker[AsyncSession],
    audience: Audience,
    expected: set[int],
) -> None:
    async with session_factory.begin() as db:
        size = await audiences.size(db, audience)
        total = await ledger.snapshot(
            db, kind="broadcast", business_key="test", recipients=audiences.learners(audience), payload={}
        )
        chosen = set((await db.scalars(audiences.learners(audience))).all())
    assert chosen == expected
    assert size == total == len(expected)


async def test_channels_are_kept_listed_described_and_removed(
    clean_tables: None, session_factory: async_sessionmaker[AsyncSession]
) -> None:
    channel = Audience(channel_id=-1001)
    async with session_factory.begin() as db:
        with pytest.raises(PostError) as unknown:
            await audiences.check_audience(db, channel)
        assert unknown.value.key == "post-option-channel"
        await audiences.add_channel(db, chat_id=-1001, title="Mluv novinky", added_by="admin:5")
        await audiences.add_channel(db, chat_id=-1002, title="Archiv", added_by="olga")
        again = await audiences.add_channel(db, chat_id=-1001, title=" Mluv — novinky ", added_by="petr")
        with pytest.raises(PostError):
            await audiences.add_channel(db, chat_id=-1003, title="  ", added_by="olga")
    assert (again.title, again.added_by) == ("Mluv — novinky", "admin:5")  # renamed, still who added it
    async with session_factory.begin() as db:
        await audiences.check_audience(db, channel)
        assert await audiences.size(db, channel) == 1
        assert [c.chat_id for c in await audiences.list_channels(db)] == [-1002, -1001]  # by title
        assert await audiences.describe(db, "uk", channel) == t(
            "uk", "audience-channel", title="Mluv — novinky"
        )
        assert await audiences.remove_channel(db, -1001)
        assert not await audiences.remove_channel(db, -1001)
        assert [c.chat_id for c in await audiences.list_channels(db)] == [-1002]


@pytest.mark.parametrize(
    ("audience", "key", "args"),
    [
        (Audience(), "audience-everyone", {}),
        (Audience(language="uk"), "audience-language", {"language": "uk"}),
        (Audience(active_days=7), "audience-active", {"days": 7}),
        (Audience(language="ru", active_days=1), "audience-language-active", {"language": "ru", "days": 1}),
    ],
)
@pytest.mark.parametrize("lang", ["ru", "uk"])
async def test_audiences_are_described_in_the_operators_language(
    clean_tables: None,
    session_factory: async_sessionmaker[AsyncSession],
    audience: Audience,
    key: str,
    args: dict[str, object],
    lang: str,
) -> None:
    async with session_factory() as db:
        assert await audiences.describe(db, lang, audience) == t(lang, key, **args)
