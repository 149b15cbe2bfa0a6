"""Practice handler latency: the review offloaded to a job (as shipped) next to the same handler doing the
review inline, in one run.

    .venv/bin/python -m bench.handler_latency [--count 500]

Each sample feeds one learner's Czech message to aiogram's dispatcher (all middlewares: dedupe, throttle,
DB session, learner upsert) and times it until the handler has replied. The bot talks over HTTP to the
local Bot API sandbox (limits off); PostgreSQL and Redis are real (a throwaway database). The inline
variant reviews the text, stores the review and sends the feedback before returning, as a handler that
does slow work would. Every learner writes once; the inline variant sends two messages to the chat
(the acknowledgement, then the feedback), and the second waits for the chat's turn (Telegram: about
one message per second per chat; handlers' replies are paced by the shared limiter, PacedRequests), so
the inline variant takes at most 60 samples.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import time
from collections.abc import Awaitable, Callable
from typing import Any

from aiogram import F, Router
from aiogram.enums import ChatAction
from aiogram.types import Message, Update
from sqlalchemy import update as sql_update
from sqlalchemy.ext.asyncio import AsyncSession

from bench.common import bench_database_url, bench_redis_url, percentiles, write_result
from mluv.bot.dispatcher import create_dispatcher, get_routers
from mluv.db.learners import record_practice
from mluv.db.models import Message as MessageRow
from mluv.db.models import User
from mluv.domain.czech import count_words, warm_up
from mluv.domain.feedback import format_feedback
from mluv.domain.review import OfflineReviewer
from mluv.resources import Resources
from mluv.reviewers.llm import offline_review
from mluv.settings import load_settings
from mluv.telegram.sandbox import SandboxConfig, run_sandbox

TEXTS = [
    "Dobry den, jak se mas? Dnes je krasne pocasi a ja jdu do prace.",
    "Vcera jsem byl v obchode a koupil jsem chleba, mleko a syr.",
    "Ucim se cesky uz dva roky a moc me to bavi, i kdyz je to tezke.",
]


def inline_router() -> Router:
    """The same practice handler, but doing the review inside the update (what we avoid)."""
    router = Router(name="practice-inline")

    @router.message(F.text & ~F.text.startswith("/"))
    async def practice_inline(message: Message, session: AsyncSession, user: User, lang: str) -> None:
        text = (message.text or "").strip()
        practice = await record_practice(
            session,
            user,
            text=text,
            word_count=count_words(text),
            telegram_message_id=message.message_id,
            now=dt.datetime.now(dt.UTC),
        )
        review = await offline_review(text, "beginner")
        await session.execute(
            sql_update(MessageRow)
            .where(MessageRow.id == practice.message.id)
            .values(
                review=review.to_json(), correctness=review.correctness, reviewed_at=dt.datetime.now(dt.UTC)
            )
        )
        # As the shipped handler acknowledges: a chat action, which is not a message.
        await message.bot.send_chat_action(message.chat.id, ChatAction.TYPING)  # type: ignore[union-attr]
        await message.answer(format_feedback(review, lang))

    return router


async def measure(
    feed: Callable[[Update], Awaitable[Any]], count: int, base_id: int, *, update_ids: list[int]
) -> list[float]:
    samples = []
    for i in range(count):
        user_id = base_id + i
        update_ids[0] += 1
        update = Update.model_validate(
            {
                "update_id": update_ids[0],
                "message": {
                    "message_id": 1,
                    "date": int(time.time()),
                    "chat": {"id": user_id, "type": "private"},
                    "from": {"id": user_id, "is_bot": False, "first_name": "Bench", "language_code": "ru"},
                    "text": TEXTS[i % len(TEXTS)],
                },
            }
        )
        started = time.perf_counter()
        await feed(update)
        samples.append((time.perf_counter() - started) * 1000)
    return samples


def review_cost(rounds: int = 200) -> dict[str, float]:
    """What the offloaded work itself costs: the offline review of a ~100-word message (ms), CPU only."""
    text = "Ja nevim, co mam delat, ale dnes je krasny den a ja jsem stastny, protoze mam xqzvbn. " * 6
    reviewer = OfflineReviewer()
    samples = []
    for _ in range(rounds):
        started = time.perf_counter()
        reviewer.review(text)
        samples.append((time.perf_counter() - started) * 1000)
    return {"words": count_words(text), **percentiles(samples)}


async def main(count: int) -> None:
    await asyncio.to_thread(warm_up)  # the lexicon is built once per process, not per sample
    review = review_cost()
    config = SandboxConfig.model_validate({"auto_create_chats": True, "limits": {"enabled": False}})
    with bench_redis_url() as redis_url:
        async with bench_database_url() as database_url, run_sandbox(port=0, config=config) as sandbox_url:
            settings = load_settings(
                _env_file=None,
                environment="test",
                database_url=database_url,
                redis_url=redis_url,
                telegram_api_base=sandbox_url,
                # Every learner writes once, to a sandbox without limits: the shared limiter (which
                # paces handlers' replies too) must not turn the run into a 25/s queue.
                rate_limit_global_per_second=1000,
            )
            resources = await Resources.create(settings)
            try:
                await resources.pool.flushdb()  # the dedupe middleware remembers update ids of earlier runs
                update_ids = [0]
                offloaded = create_dispatcher(resources)
                feed = offloaded.feed_update
                await measure(lambda u: feed(resources.bot, u), 50, 800_000_000, update_ids=update_ids)
                shipped = percentiles(
                    await measure(lambda u: feed(resources.bot, u), count, 810_000_000, update_ids=update_ids)
                )
                # The inline variant's router goes first, so it takes the practice messages.
                inline = create_dispatcher(resources, [inline_router(), *get_routers()])
                feed = inline.feed_update
                # Each inline sample waits ~1 s for its chat's second turn: 60 samples show it.
                in_handler = percentiles(
                    await measure(
                        lambda u: feed(resources.bot, u), min(count, 60), 820_000_000, update_ids=update_ids
                    )
                )
                await resources.pool.delete("mluv:queue:fast")
            finally:
                await resources.close()
    print(f"practice handler latency over {count} messages (ms), sandbox over HTTP, real PostgreSQL/Redis")
    print(f"{'':<26}{'p50':>8}{'p90':>8}{'p99':>8}{'max':>8}")
    for label, figures in (("review offloaded (job)", shipped), ("review inline", in_handler)):
        print(f"{label:<26}" + "".join(f"{figures[k]:>8.2f}" for k in ("p50", "p90", "p99", "max")))
    print(f"p99 ratio inline/offloaded: {in_handler['p99'] / shipped['p99']:.2f}x")
    words, p50, p99 = review["words"], review["p50"], review["p99"]
    print(f"offline review of {words:.0f} words alone: p50 {p50:.2f} ms, p99 {p99:.2f} ms")
    path = write_result(
        "handler_latency",
        {"count": count, "unit": "ms", "offloaded": shipped, "inline": in_handler, "review": review},
    )
    print(f"wrote {path}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--count", type=int, default=500)
    asyncio.run(main(parser.parse_args().count))
