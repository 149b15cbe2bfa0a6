"""Practice: a learner's Czech text is stored, acknowledged at once and reviewed by a job.

The acknowledgement is a "typing…" chat action, not a message: chat actions do not count against the
chat's one message a second, so the feedback is the first message the learner gets, and it comes sooner.

What is not Czech practice (`mluv.domain.language.classify_message`) is neither stored nor reviewed: a
blank text gets a request for a Czech sentence; a text all in Cyrillic gets a hint to write it in Czech,
after a short answer about what the bot does when it looks like a question to the bot.
"""

from __future__ import annotations

import contextlib
import datetime as dt

from aiogram import F, Router
from aiogram.enums import ChatAction
from aiogram.exceptions import TelegramAPIError
from aiogram.types import Message
from arq.connections import ArqRedis
from sqlalchemy.ext.asyncio import AsyncSession

from mluv.db.learners import record_practice
from mluv.db.models import User
from mluv.domain.czech import count_words
from mluv.domain.language import classify_message
from mluv.domain.progress import DAILY_CHALLENGE_NUDGES, local_date
from mluv.i18n import t
from workers.gamification import award_streak_milestones
from workers.notifications import send_daily_challenge_notification
from workers.review import review_message

router = Router(name="practice")

# Longer texts are refused with a hint: feedback on a whole essay would not fit a Telegram message.
MAX_PRACTICE_CHARS = 1500


@router.message(F.text & ~F.text.startswith("/"))
async def practice(message: Message, session: AsyncSession, pool: ArqRedis, user: User, lang: str) -> None:
    text = (message.text or "").strip()
    kind = classify_message(text)
    if kind == "blank":
        await message.answer(t(lang, "practice-blank"))
        return
    if kind != "practice":
        # One message, not two: Telegram allows about one message a second per chat.
        about = [t(lang, "practice-about-bot")] if kind == "question" else []
        await message.answer("\n\n".join([*about, t(lang, "practice-write-in-czech")]))
        return
    if len(text) > MAX_PRACTICE_CHARS:
        await message.answer(t(lang, "text-too-long", limit=MAX_PRACTICE_CHARS, length=len(text)))
        return
    now = dt.datetime.now(dt.UTC)
    practice = await record_practice(
        session,
        user,
        text=text,
        word_count=count_words(text),
        telegram_message_id=message.message_id,
        now=now,
        sent_at=message.date,
    )
    # Commit before enqueueing: the worker must find the row the job points at.
    await session.commit()
    await review_message.enqueue(pool, message_id=practice.message.id)
    today = local_date(now, user.timezone)
    if practice.messages_today in DAILY_CHALLENGE_NUDGES:
        await send_daily_challenge_notification.enqueue(
            pool, user_id=user.id, day=today, count=practice.messages_today
        )
    if practice.streak_changed:
        await award_streak_milestones.enqueue(pool, user_id=user.id, day=today)
    # The acknowledgement is a courtesy (the feedback follows): if Telegram refuses it, skip it rather
    # than fail an update whose review is already queued.
    if message.bot is not None:
        with contextlib.suppress(TelegramAPIError):
            await message.bot.send_chat_action(chat_id=message.chat.id, action=ChatAction.TYPING)
