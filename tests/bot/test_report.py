"""/report end to end: the last 7 local days up to now, today included. A learner who just wrote five
messages gets a photo whose caption counts them, in their language; a second request with nothing new is
answered with one plain sentence (checked in the ledger before enqueueing), replying to the photo; after a
new message, /report sends a fresh report. A report whose send failed is not "already sent"."""

from __future__ import annotations

import datetime as dt
from typing import Literal

import pytest
from sqlalchemy import func, select

from mluv.bot import dispatcher
from mluv.db.models import Delivery, DeliveryStatus, Message
from mluv.domain.progress import local_date
from mluv.domain.reports import period_label, recent_period_start
from mluv.i18n import t
from mluv.telegram.sandbox import MessageRecord
from tests.bot.test_e2e import eventually
from tests.bot.test_start import BotStack, bot_stack
from workers.analytics import RECENT_REPORT_KIND, recent_report_key

__all__ = ["bot_stack"]  # the fixture, shared with test_start.py

pytestmark = [pytest.mark.integration, pytest.mark.e2e]

LANGUAGES = ["ru", "uk"]
PRAGUE = "Europe/Prague"  # a new learner's time zone
TEXTS = [
    "Dnes je krásný den.",
    "Ráno jsem pil kávu.",
    "Bydlím v Praze.",
    "Učím se česky každý den.",
    "Večer jdu do kina.",
    "Zítra pojedu do Brna.",
]


@pytest.fixture
def unthrottled(monkeypatch: pytest.MonkeyPatch) -> None:
    """Six texts and three /report within seconds: the flood limit (3 per 3 s) is not tested here."""
    monkeypatch.setattr(dispatcher, "FLOOD_LIMIT", 50)


def today() -> dt.date:
    return local_date(dt.datetime.now(dt.UTC), PRAGUE)


async def photos(stack: BotStack, learner: int) -> list[MessageRecord]:
    return [r for r in await stack.sandbox.messages(learner) if r["photo_file_id"]]


async def texts(stack: BotStack, learner: int) -> list[str]:
    return [r["text"] or "" for r in await stack.sandbox.messages(learner)]


async def written(stack: BotStack, learner: int) -> tuple[int, int]:
    """(messages, words) the learner has stored."""
    async with stack.resources.session_factory() as session:
        row = (
            await session.execute(
                select(func.count(Message.id), func.coalesce(func.sum(Message.word_count), 0)).where(
                    Message.user_id == learner
                )
            )
        ).one()
    return int(row[0]), int(row[1])


async def write(stack: BotStack, learner: int, text: str) -> tuple[int, int]:
    """Send a Czech text and wait until it is stored (committed before the bot answers anything)."""
    before, _ = await written(stack, learner)
    await stack.sandbox.send_text(learner, text)

    async def stored() -> tuple[int, int] | None:
        figures = await written(stack, learner)
        return figures if figures[0] > before else None

    result: tuple[int, int] = await eventually(stored, what=f"{text!r} stored")
    return result


async def nth_photo(stack: BotStack, learner: int, count: int) -> MessageRecord:
    async def arrived() -> MessageRecord | None:
        sent = await photos(stack, learner)
        return sent[count - 1] if len(sent) >= count else None

    record: MessageRecord = await eventually(arrived, within=30, what=f"report photo {count}")
    return record


@pytest.mark.usefixtures("unthrottled")
@pytest.mark.parametrize("lang", LANGUAGES)
async def test_report_covers_today_and_a_repeat_with_nothing_new_says_it_was_sent(
    bot_stack: BotStack, lang: Literal["ru", "uk"]
) -> None:
    learner = await bot_stack.learner(lang)
    for text in TEXTS[:5]:
        messages, words = await write(bot_stack, learner, text)
    assert messages == 5
    label = period_label(recent_period_start(today()))

    await bot_stack.sandbox.send_text(learner, "/report")
    report = await nth_photo(bot_stack, learner, 1)
    caption = (report["caption"] or "").split("\n")
    # Today's five messages, in the learner's language, titled as the last 7 days (not "no messages").
    assert caption[:2] == [
        t(lang, "report-recent-title", time=label),
        t(lang, "report-totals", messages=5, words=words),
    ]
    assert t(lang, "report-active-days", days=1) in caption
    assert t(lang, "report-recent-empty") not in caption and t(lang, "report-empty") not in caption
    assert (await texts(bot_stack, learner)).count(t(lang, "report-queued")) == 1  # sent before the job

    # Again, nothing written since: one plain answer replying to the report, no "preparing…".
    await bot_stack.sandbox.send_text(learner, "/report")
    expected = t(lang, "report-sent-before", time=label)

    async def answer() -> MessageRecord | None:
        return next((r for r in await bot_stack.sandbox.messages(learner) if r["text"] == expected), None)

    repeat = await eventually(answer, what="the plain answer")
    assert repeat["reply_to_message_id"] == report["message_id"]
    chat = await texts(bot_stack, learner)
    assert chat.count(t(lang, "report-queued")) == 1 and chat.count(expected) == 1
    assert len(await photos(bot_stack, learner)) == 1

    # A new message, then /report: a fresh report with it.
    messages, words = await write(bot_stack, learner, TEXTS[5])
    await bot_stack.sandbox.send_text(learner, "/report")
    fresh = await nth_photo(bot_stack, learner, 2)
    assert (fresh["caption"] or "").split("\n")[:2] == [
        t(lang, "report-recent-title", time=label),
        t(lang, "report-totals", messages=6, words=words),
    ]
    chat = await texts(bot_stack, learner)
    assert chat.count(t(lang, "report-queued")) == 2 and chat.count(expected) == 1


@pytest.mark.parametrize("lang", LANGUAGES)
@pytest.mark.parametrize(("status", "sent"), [(DeliveryStatus.SENT, True), (DeliveryStatus.FAILED, False)])
async def test_only_a_delivered_report_counts_as_sent(
    bot_stack: BotStack, lang: Literal["ru", "uk"], status: DeliveryStatus, sent: bool
) -> None:
    learner = await bot_stack.learner(lang)
    await bot_stack.sandbox.send_text(learner, "/start")
    welcome = await bot_stack.next_message(1)
    day = today()
    async with bot_stack.resources.session_factory.begin() as session:
        session.add(
            Delivery(
                kind=RECENT_REPORT_KIND,
                recipient_id=learner,
                business_key=recent_report_key(day, 0),  # no message in the last 7 days
                status=status.value,
                telegram_message_id=welcome["message_id"] if sent else None,
            )
        )
    await bot_stack.sandbox.send_text(learner, "/report")
    answer = await bot_stack.next_message(2)
    if sent:
        assert answer["text"] == t(lang, "report-sent-before", time=period_label(recent_period_start(day)))
        assert answer["reply_to_message_id"] == welcome["message_id"]  # it stands in for the report
    else:
        assert answer["text"] == t(lang, "report-queued")


@pytest.mark.parametrize("lang", LANGUAGES)
def test_the_plain_sentences_name_the_7_days(lang: str) -> None:
    text = t(lang, "report-sent-before", time="27.11–03.12")
    assert "27.11–03.12" in text and "7" in text and "↑" not in text
    assert "7" in t(lang, "report-queued")
