"""review_message: the learner's feedback, computed and sent off the handler's path.

The review uses the learner's level (users.level, chosen at /start) and language: the offline reviewer,
merged with the LLM's answer when `LLM_API_KEY` is set and today's budgets allow (`mluv.reviewers.llm`;
budgets and cache in the job's Redis, `ctx.redis`). The review is stored on the message before the
feedback is sent, so a re-run sends the same feedback without reviewing (or spending budget) again.
"""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING, Any, cast

from mluv.jobs import JobContext, Queue, job
from mluv.jobs.retry import REVIEW_RETRY
from mluv.resources import Resources

# The database, Telegram and heavy domain modules are imported by the jobs: a worker starts without them.
if TYPE_CHECKING:
    from mluv.domain.review import Level


@job(queue=Queue.FAST, retry=REVIEW_RETRY, job_id="review:{message_id}", timeout=25, must_run=True)
async def review_message(ctx: JobContext[Resources], message_id: int) -> dict[str, Any]:
    """Review a stored learner message, store the review on it, and send the feedback once."""
    from sqlalchemy import update

    from mluv.db.models import Message, User
    from mluv.domain.feedback import format_feedback
    from mluv.domain.review import LEVELS, Level, Review
    from mluv.reviewers.llm import review_text

    resources = ctx.resources
    async with resources.session_factory() as session:
        message = await session.get(Message, message_id)
        user = await session.get(User, message.user_id) if message is not None else None
    if message is None or user is None:
        return {"skipped": "message not found"}
    # users.level is constrained to LEVELS by the table; the default covers a row from before /start.
    level: Level = cast(Level, user.level) if user.level in LEVELS else "beginner"
    outcome = "stored"
    if message.review is not None:
        # A re-run (crash, retry after a 429) reuses the stored review instead of reviewing again.
        review = Review.from_json(message.review)
    else:
        reviewed = await review_text(
            message.text,
            language=user.language,
            level=level,
            user_id=user.id,
            settings=resources.settings,
            redis=ctx.redis,
        )
        review, outcome = reviewed.review, reviewed.outcome
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
        text=format_feedback(review, user.language, level=level),
        reply_to_message_id=message.telegram_message_id,
        job_id=ctx.job_id,
    )
    return {
        "correctness": review.correctness,
        "reviewer": review.reviewer,
        "review": outcome,
        "delivery": result.status.value,
        "duplicate": result.duplicate,
    }
