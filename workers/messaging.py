"""Messaging: single sends, operators' scheduled posts, and the delivery reconciler.

- `send_message(chat_id, text, kind, business_key, parse_mode)`: fast queue, 5 tries (backoff 10 → 160 s),
  id `message:{kind}:{chat_id}:{business_key}` (or a fresh one without a key);
- `redeliver_delivery(delivery_id, attempt)`: fast, 5 tries, id `redeliver:{delivery_id}:{attempt}`;
- `send_scheduled_messages`: fast cron, every minute at :00; `reconcile_deliveries`: fast cron, at :30.

Every send goes through the Sender (rate limit shared by all workers, delivery ledger). Broadcasts' jobs
are in workers/broadcasts.py; a scheduled post for everyone starts one. See docs/delivery.md.
"""

from __future__ import annotations

import datetime as dt
import time
import uuid
from collections import Counter
from typing import TYPE_CHECKING, Annotated, Any, cast

from pydantic import BaseModel, Field

from mluv.jobs import CronRun, JobContext, Queue, RetryableError, cron, job
from mluv.jobs.retry import DELIVERY_RETRY
from mluv.logs import get_logger
from mluv.resources import Resources
from workers.broadcasts import broadcast, reconcile_broadcasts
from workers.notifications import requeue_lost_reminders

if TYPE_CHECKING:
    from mluv.settings import Settings
    from mluv.telegram.sender import Sender

log = get_logger(__name__)

SCHEDULED_KIND = "scheduled"
MESSAGE_KIND = "message"
DUE_POSTS_PER_RUN = 100


# --- send_message -------------------------------------------------------------------------------------


def _message_job_id(values: BaseModel) -> str:
    args = cast(Any, values)
    if args.business_key:
        return f"message:{args.kind}:{args.chat_id}:{args.business_key}"
    # No business key: each enqueue is a new message; the ledger key then comes from this id.
    return f"message:{uuid.uuid4().hex}"


@job(queue=Queue.FAST, retry=DELIVERY_RETRY, job_id=_message_job_id, must_run=True)
async def send_message(
    ctx: JobContext[Resources],
    chat_id: int,
    text: Annotated[str, Field(min_length=1)],
    kind: Annotated[str, Field(min_length=1, max_length=64)] = MESSAGE_KIND,
    business_key: str | None = None,
    parse_mode: str | None = None,
) -> dict[str, Any]:
    """Send one message once: idempotent through the ledger; delay it with `.options(defer_by=...)`."""
    result = await ctx.resources.sender.send_message(
        kind=kind,
        chat_id=chat_id,
        business_key=business_key or f"job:{ctx.job_id}",
        text=text,
        parse_mode=parse_mode,
        job_id=ctx.job_id,
    )
    return {
        "status": result.status.value,
        "duplicate": result.duplicate,
        "delivery_id": result.delivery_id,
        "parts": len(result.parts) or 1,
    }


@job(queue=Queue.FAST, retry=DELIVERY_RETRY, job_id="redeliver:{delivery_id}:{attempt}", must_run=True)
async def redeliver_delivery(
    ctx: JobContext[Resources], delivery_id: int, attempt: int = 0
) -> dict[str, Any]:
    """Send a pending ledger row from its stored payload (the reconciler found its job gone)."""
    result = await ctx.resources.sender.redeliver(delivery_id, job_id=ctx.job_id)
    if result is None:
        return {"skipped": "no such delivery"}
    return {"status": result.status.value, "duplicate": result.duplicate}


# --- scheduled posts ----------------------------------------------------------------------------------


@cron(queue=Queue.FAST, second=0)  # every minute, UTC
async def send_scheduled_messages(ctx: JobContext[Resources], run: CronRun) -> dict[str, int]:
    """Send the posts whose time has come, each once: claimed (scheduled → sending) with SKIP LOCKED, then
    sent while holding the post's row lock; a post left `sending` by a dead run is picked up again, and
    the ledger (business key `scheduled:{id}`) keeps it from being sent twice."""
    from mluv.telegram import posts

    now = dt.datetime.now(dt.UTC)
    due = await posts.claim_due_posts(ctx.resources.session_factory, now=now, limit=DUE_POSTS_PER_RUN)
    outcomes: Counter[str] = Counter()
    for post_id in due:
        outcomes[await _send_post(ctx, post_id)] += 1
    return dict(outcomes)


async def _send_post(ctx: JobContext[Resources], post_id: int) -> str:
    from aiogram.exceptions import TelegramRetryAfter

    from mluv.db.models import DeliveryStatus
    from mluv.telegram import audiences, posts
    from mluv.telegram.ratelimit import RateLimited

    resources = ctx.resources
    async with resources.session_factory.begin() as session:
        post = await posts.lock_post(session, post_id)
        if post is None:
            return "skipped"
        now = dt.datetime.now(dt.UTC)
        if post.target == "all":
            broadcast_id = await posts.create_confirmed(
                resources.session_factory,
                started_by=posts.started_by_of(post),
                text=post.text,
                parse_mode=post.parse_mode,
                idempotency_key=f"scheduled:{post.id}",
                audience=audiences.of_post(post),
            )
            # Deterministic id broadcast:{id}: a repeated run cannot start it twice.
            await broadcast.enqueue(ctx.redis, broadcast_id=broadcast_id)
            posts.post_sent(post, now)
            return "broadcast"
        assert post.chat_id is not None  # a CHECK constraint: chat_id is required unless target = 'all'
        try:
            result = await resources.sender.send_message(
                kind=SCHEDULED_KIND,
                chat_id=post.chat_id,
                business_key=f"scheduled:{post.id}",
                text=post.text,
                parse_mode=post.parse_mode,
                job_id=ctx.job_id,
            )
        except (TelegramRetryAfter, RateLimited, RetryableError) as error:
            # The post stays `sending`; the next run tries again, and the ledger keeps it to one send.
            log.warning("scheduled post deferred", post_id=post_id, error=f"{type(error).__name__}: {error}")
            return "deferred"
        if result.status is DeliveryStatus.SENT:
            posts.post_sent(post, now)
            return "sent"
        if result.status in (DeliveryStatus.PENDING, DeliveryStatus.SENDING):
            return "in_flight"  # another run holds the ledger row; a later run records the outcome
        posts.post_failed(post, f"{result.status.value}: {result.error or ''}".strip(": "))
        return "failed"


# --- the reconciler -----------------------------------------------------------------------------------


def crash_window(settings: Settings, sender: Sender) -> float:
    """How long a row may legitimately stay `sending`: the request timeout bounds a send, and a fast
    job's timeout bounds the job around it; twice the larger is safely past both."""
    return 2.0 * max(float(settings.fast_job_timeout), float(sender.request_timeout))


@cron(queue=Queue.FAST, second=30)  # every minute, half a minute after the scheduled posts
async def reconcile_deliveries(ctx: JobContext[Resources], run: CronRun) -> dict[str, Any]:
    """Repair the ledger after crashes and lost jobs (mluv.telegram.reconcile), restart stalled
    broadcasts and enqueue again the hour's reminders whose jobs Redis lost."""
    from mluv.telegram.broadcasts import BROADCAST_KIND
    from mluv.telegram.reconcile import PENDING_AFTER, reconcile_ledger

    resources = ctx.resources

    async def requeue(delivery_id: int, attempts: int) -> None:
        await redeliver_delivery.enqueue(ctx.redis, delivery_id=delivery_id, attempt=attempts)

    started = time.perf_counter()
    report = await reconcile_ledger(
        resources.session_factory,
        ctx.redis,
        stuck_after=crash_window(resources.settings, resources.sender),
        pending_after=PENDING_AFTER,
        requeue=requeue,
        skip_kinds=(BROADCAST_KIND,),
    )
    broadcasts = await reconcile_broadcasts(resources, ctx.redis)
    reminders = await requeue_lost_reminders(resources, ctx.redis)
    return {
        "unknown": len(report.unknown),
        "requeued": len(report.requeued),
        "expired": len(report.expired),
        "gave_up": len(report.gave_up),
        "broadcasts": broadcasts,
        "reminders_requeued": reminders,
        "ms": round((time.perf_counter() - started) * 1000, 1),
    }
