"""The practice handler with texts that are not Czech practice: one answer, nothing stored, no review job.

The handler gets a session and a pool that fail the test if touched: a blank or Cyrillic text must not
reach the database nor the queue. The same through the real bot: tests/bot/test_e2e.py.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, cast

import pytest
from aiogram.types import Message
from arq.connections import ArqRedis
from sqlalchemy.ext.asyncio import AsyncSession

from mluv import i18n
from mluv.bot.handlers.practice import practice
from mluv.db.models import User
from mluv.i18n import t


@pytest.fixture(autouse=True)
def strict_texts() -> Iterator[None]:
    i18n.set_strict(True)
    yield
    i18n.set_strict(False)


class FakeMessage:
    def __init__(self, text: str) -> None:
        self.text = text
        self.message_id = 1
        self.answers: list[str] = []

    async def answer(self, text: str, **_: Any) -> None:
        self.answers.append(text)


class Untouchable:
    """A session or a pool the handler must not use."""

    def __init__(self, what: str) -> None:
        self.what = what

    def __getattr__(self, name: str) -> Any:
        raise AssertionError(f"the handler used the {self.what} ({name})")


def expected_answer(kind: str, language: str) -> str:
    hint = t(language, "practice-write-in-czech")
    return {
        "blank": t(language, "practice-blank"),
        "cyrillic": hint,
        "question": f"{t(language, 'practice-about-bot')}\n\n{hint}",
    }[kind]


@pytest.mark.parametrize("language", ["ru", "uk"])
@pytest.mark.parametrize(
    ("text", "kind"),
    [
        ("   ", "blank"),
        ("\n\t \u200b", "blank"),
        ("Привет, меня зовут Оля", "cyrillic"),
        ("Я живу в Праге уже 2 года.", "cyrillic"),
        ("Привіт! Я з Києва 🙂", "cyrillic"),
        ("Как это работает?", "question"),
        ("что ты умеешь", "question"),
        ("А можно писать по-русски", "question"),
        ("Чи можна писати українською", "question"),
        ("як тобою користуватися", "question"),
        ("Ты бот? 🙂", "question"),
    ],
)
async def test_a_blank_or_cyrillic_text_is_answered_and_neither_stored_nor_reviewed(
    text: str, kind: str, language: str
) -> None:
    message = FakeMessage(text)
    await practice(
        cast(Message, message),
        session=cast(AsyncSession, Untouchable("session")),
        pool=cast(ArqRedis, Untouchable("pool")),
        user=cast(User, Untouchable("user")),
        lang=language,
    )
    assert message.answers == [expected_answer(kind, language)]
