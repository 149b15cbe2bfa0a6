"""/report end to end: the first request enqueues the report job and the photo arrives; a second request
for the same week is answered with one plain sentence (checked in the ledger before enqueueing), replying
to the report already in the chat; a report that was stored but never delivered is not "already sent"."""

from __future__ import annotations

import datetime as dt
from typing import Literal

import pytest

from mluv.db.models import Delivery, DeliveryStatus
from mluv.domain.progress import local_date, previous_week_start
from mluv.domain.reports import week_label
from mluv.i18n import t
from mluv.telegram.sandbox import MessageRecord
from tests.bot.test_e2e import eventually
from tests.bot.test_start import BotStack, bot_stack
from workers.analytics import REPORT_KIND

__all__ = ["bot_stack"]  # the fixture, shared with test_start.py

pytestmark = [pytest.mark.integration, pytest.mark.e2e]

LANGUAGES = ["ru", "uk"]


def this_report_week(timezone: str = "Europe/Prague") -> dt.date:
    return previous_week_start(local_date(dt.datetime.now(dt.UTC), timezone))


async def photo(stack: BotStack, learner: int) -> MessageRecord | None:
    return next((r for r in await stack.sandbox.messages(learner) if r["photo_file_id"]), None)


@pytest.mark.parametrize("lang", LANGUAGES)
async def test_a_second_report_request_says_plainly_it_was_already_sent(
    bot_stack: BotStack, lang: Literal["ru", "uk"]
) -> None:
    learner = await bot_stack.learner(lang)
    await bot_stack.sandbox.send_text(learner, "/report")
    assert (await bot_stack.next_message(1))["text"] == t(lang, "report-queued")
    report = await eventually(lambda: photo(bot_stack, learner), within=30, what="the report photo")

    await bot_stack.sandbox.send_text(learner, "/report")
    expected = t(lang, "report-sent-before", time=week_label(this_report_week()))

    async def answer() -> MessageRecord | None:
        return next((r for r in await bot_stack.sandbox.messages(learner) if r["text"] == expected), None)

    repeat = await eventually(answer, what="the plain answer")
    assert repeat["reply_to_message_id"] == report["message_id"]
    texts = [r["text"] for r in await bot_stack.sandbox.messages(learner)]
    assert texts.count(t(lang, "report-queued")) == 1  # no "preparing…" the second time
    assert texts.index(expected) == len(texts) - 1


@pytest.mark.parametrize("lang", LANGUAGES)
@pytest.mark.parametrize(("status", "sent"), [(DeliveryStatus.SENT, True), (DeliveryStatus.FAILED, False)])
async def test_only_a_delivered_report_counts_as_sent(
    bot_stack: BotStack, lang: Literal["ru", "uk"], status: DeliveryStatus, sent: bool
) -> None:
    learner = await bot_stack.learner(lang)
    await bot_stack.sandbox.send_text(learner, "/start")
    welcome = await bot_stack.next_message(1)
    week = this_report_week()
    async with bot_stack.resources.session_factory.begin() as session:
        session.add(
            Delivery(
                kind=REPORT_KIND,
                recipient_id=learner,
                business_key=f"report:{week.isoformat()}",
                status=status.value,
                telegram_message_id=welcome["message_id"] if sent else None,
            )
        )
    await bot_stack.sandbox.send_text(learner, "/report")
    answer = await bot_stack.next_message(2)
    if sent:
        assert answer["text"] == t(lang, "report-sent-before", time=week_label(week))
        assert answer["reply_to_message_id"] == welcome["message_id"]  # it stands in for the report
    else:
        assert answer["text"] == t(lang, "report-queued")


@pytest.mark.parametrize("lang", LANGUAGES)
def test_the_plain_sentence_names_the_week(lang: str) -> None:
    text = t(lang, "report-sent-before", time="16.11–22.11")
    assert "16.11–22.11" in text and "↑" not in text
