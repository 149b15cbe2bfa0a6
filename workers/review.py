"""review_message: the learner's feedback, computed and sent off the handler's path."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import update

from mluv.db.models import Message, User
from mluv.domain.feedback import format_feedback
from mluv.domain.review import Review
from mluv.jobs import JobContext, Queue, job
from mluv.jobs.retry import REVIEW_RETRY
from mluv.resources import Resources
from mluv.reviewers.llm import review_text


@job(queue=Queue.FAST, retry=REVIEW_RETRY, job_id="review:{message_id}", timeout=25)
async def review_message(ctx: JobContext[Resources], message_id: int) -> dict[str, Any]:
    """Review a stored learner message, store the review on it, and send the feedback once."""
    resources = ctx.resources
    async with resources.session_factory() as session:
        message = await session.get(Message, message_id)
        user = await session.get(User, message.user_id) if message is not None else None
    if message is None or user is None:
        return {"skipped": "message not found"}
    if message.review is not None:
        # A re-run (crash, retry after a 429) reuses the stored review instead of reviewing again.
        review = Review.from_json(message.review)
    else:
        key = resources.settings.openai_api_key
        review = await review_text(
            message.text, language=user.language, openai_api_key=key.get_secret_value() if key else None
        )
        async with resources.session_factory.begin() as session:
            await session.execute(
                update(Message)
                .where(Message.id == message_id)
                .values(
                    review=review.to_json(),
                    correctness=review.correctness,
                    word_count=review.word_count,
                    reviewed_at=dt.datetime.now(dt.UTC),
                )
            )
    result = await resources.sender.send_message(
        kind="feedback",
        chat_id=user.id,
        business_key=f"message:{message_id}",
        text=format_feedback(review, user.language),
        reply_to_message_id=message.telegram_message_id,
        job_id=ctx.job_id,
    )
    return {"correctness": review.correctness, "delivery": result.status.value, "duplicate": result.duplicate}
