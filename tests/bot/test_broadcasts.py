"""/broadcast end to end against the sandbox: the confirmation fits one message whatever the text's length,
and an old draft's Confirm button sends nothing."""

from __future__ import annotations

import datetime as dt
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Literal

import pytest
from sqlalchemy import select, update

from mluv.bot.dispatcher import create_dispatcher
from mluv.bot.handlers.broadcasts import confirm_text
from mluv.bot.runner import BotRunner
from mluv.db.models import Broadcast, BroadcastStatus
from mluv.domain.telegram_text import TELEGRAM_TEXT_LIMIT, utf16_length
from mluv.i18n import t
from mluv.resources import Resources
from mluv.settings import Settings
from mluv.telegram import posts
from mluv.telegram.sandbox import MessageRecord, SandboxClient, SandboxConfig, run_sandbox
from tests.bot.test_e2e import button_data, eventually

pytestmark = [pytest.mark.integration, pytest.mark.e2e]

ADMINS: dict[Literal["ru", "uk"], int] = {"ru": 555_000_301, "uk": 555_000_302}
IN_BOTH_LANGUAGES = pytest.mark.parametrize("lang", ["ru", "uk"])


@dataclass
class Stack:
    sandbox: SandboxClient
    resources: Resources


@pytest.fixture
async def stack(settings: Settings, clean_tables: None, redis: object) -> AsyncIterator[Stack]:
    async with (
        run_sandbox(port=0, config=SandboxConfig(auto_create_chats=False)) as url,
        SandboxClient(url) as sandbox,
    ):
        for lang, admin in ADMINS.items():
            await sandbox.create_user(admin, "Operator", language_code=lang)
        configured = settings.model_copy(
            update={"telegram_api_base": url, "admin_ids": list(ADMINS.values())}
        )
        resources = await Resources.create(configured)
        runner = BotRunner(create_dispatcher(resources), resources.bot, configured)
        await runner.start()
        try:
            yield Stack(sandbox, resources)
        finally:
            await runner.stop()
            await resources.close()


@IN_BOTH_LANGUAGES
@pytest.mark.parametrize("length", [20, 4000, 4060, 4085], ids=["short", "4000", "4060", "longest-command"])
async def test_the_confirmation_fits_one_message_whatever_the_length(
    stack: Stack, lang: Literal["ru", "uk"], length: int
) -> None:
    admin = ADMINS[lang]
    text = ("Ahoj všichni, dnes píšeme česky! " * 200)[:length].strip()
    await stack.sandbox.send_text(admin, f"/broadcast {text}")
    (confirm,) = await stack.sandbox.messages(admin, wait_for=1, within=10)
    assert confirm["text"] == confirm_text(lang, text, 1)
    assert utf16_length(confirm["text"] or "") <= TELEGRAM_TEXT_LIMIT
    assert len(button_data(confirm)) == 2
    shortened = t(lang, "broadcast-preview-shortened", count=utf16_length(text))
    whole = t(lang, "broadcast-confirm", preview=text, count=1)
    if utf16_length(whole) > TELEGRAM_TEXT_LIMIT:  # Telegram would refuse it: the preview is shortened
        assert (confirm["text"] or "").endswith(
            t(lang, "broadcast-confirm", preview=shortened, count=1)[-40:]
        )
        assert shortened in (confirm["text"] or "") and "…" in (confirm["text"] or "")
    else:
        assert confirm["text"] == whole
    async with stack.resources.session_factory() as session:
        (draft,) = (await session.scalars(select(Broadcast))).all()
    assert draft.text == text  # the broadcast itself is the whole text


@IN_BOTH_LANGUAGES
@pytest.mark.parametrize(
    ("age", "expired"),
    [
        (dt.timedelta(minutes=1), False),
        (posts.DRAFT_LIFETIME - dt.timedelta(minutes=1), False),
        (posts.DRAFT_LIFETIME + dt.timedelta(seconds=1), True),
        (dt.timedelta(days=3), True),
    ],
    ids=["fresh", "just-in-time", "just-expired", "days-old"],
)
async def test_an_old_drafts_confirm_button_sends_nothing(
    stack: Stack, lang: Literal["ru", "uk"], age: dt.timedelta, expired: bool
) -> None:
    admin = ADMINS[lang]
    await stack.sandbox.send_text(admin, "/broadcast Ahoj všichni!")
    (confirm,) = await stack.sandbox.messages(admin, wait_for=1, within=10)
    async with stack.resources.session_factory.begin() as session:
        await session.execute(update(Broadcast).values(created_at=dt.datetime.now(dt.UTC) - age))
    confirm_button = next(data for data in button_data(confirm) if "confirm" in data)
    await stack.sandbox.press_button(admin, confirm["message_id"], confirm_button)
    minutes = int(posts.DRAFT_LIFETIME.total_seconds() // 60)
    wanted = t(lang, "broadcast-expired", count=minutes) if expired else None

    async def decided() -> tuple[Broadcast, MessageRecord] | None:
        async with stack.resources.session_factory() as session:
            row = await session.scalar(select(Broadcast))
        (message,) = await stack.sandbox.messages(admin)
        done = row is not None and row.status != BroadcastStatus.DRAFT and message["edits"]
        return (row, message) if done and row is not None else None

    row, edited = await eventually(decided, what="the decision and its edited message")
    assert row.status == (BroadcastStatus.CANCELLED if expired else BroadcastStatus.CONFIRMED)
    if wanted is not None:
        assert edited["text"] == wanted
        assert button_data(edited) == []
    else:
        assert edited["text"] == t(lang, "broadcast-confirmed", count=1)
