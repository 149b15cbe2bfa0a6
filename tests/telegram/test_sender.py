"""The Sender against the Bot API sandbox, real PostgreSQL and Redis: the error policy, the rate limiter in
the loop, over-long texts, photos, edits and redelivery. The ledger's own rules: test_ledger.py; the
reconciler: test_reconcile.py; handlers' direct replies: test_pacing.py."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import pytest
from aiogram import Bot
from aiogram.client.session.aiohttp import AiohttpSession
from aiogram.client.telegram import TelegramAPIServer
from aiogram.exceptions import TelegramRetryAfter
from redis.asyncio import Redis
from redis.exceptions import ConnectionError as RedisConnectionError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from mluv.db.models import Delivery, DeliveryStatus, User
from mluv.domain.telegram_text import TELEGRAM_TEXT_LIMIT, utf16_length
from mluv.jobs.retry import RetryableError
from mluv.resources import SANDBOX_BOT_TOKEN
from mluv.telegram import ledger
from mluv.telegram.ratelimit import Limits, RateLimited, RateLimiter, read_ratelimit_stats
from mluv.telegram.sandbox import SandboxClient
from mluv.telegram.sender import Sender
from tests.telegram.sender_harness import LEARNERS, OLGA, PNG, RecordingSession, received, rows

# --- the error policy ---------------------------------------------------------------------------------------


async def test_forbidden_marks_the_learner_inactive_and_is_not_retried(
    sender: Sender,
    control: SandboxClient,
    session_factory: async_sessionmaker[AsyncSession],
    session: RecordingSession,
) -> None:
    await control.set_chat_flags(OLGA, blocked=True)
    result = await sender.send_message(kind="reminder", chat_id=OLGA, business_key="d1", text="Ahoj")
    assert result.status is DeliveryStatus.BLOCKED and "blocked" in (result.error or "")
    async with session_factory() as db:
        user = await db.get(User, OLGA)
    assert user is not None and not user.is_active and user.is_blocked
    again = await sender.send_message(kind="reminder", chat_id=OLGA, business_key="d1", text="Ahoj")
    assert again.duplicate and again.status is DeliveryStatus.BLOCKED
    assert [c.outcome for c in session.calls] == ["TelegramForbiddenError"]
    assert (await control.counters())["forbidden_403"] == 1


async def test_bad_request_fails_without_retry(
    sender: Sender, control: SandboxClient, session_factory: async_sessionmaker[AsyncSession]
) -> None:
    bad_html = await sender.send_message(
        kind="k", chat_id=OLGA, business_key="1", text="<b>Ahoj", parse_mode="HTML"
    )
    unknown_chat = await sender.send_message(kind="k", chat_id=999, business_key="1", text="Ahoj")
    assert bad_html.status is DeliveryStatus.FAILED and "parse entities" in (bad_html.error or "")
    assert unknown_chat.status is DeliveryStatus.FAILED and "chat not found" in (unknown_chat.error or "")
    assert (await control.counters())["bad_request_400"] == 2
    assert {row.status for row in await rows(session_factory)} == {"failed"}


async def test_server_errors_and_refused_connections_go_back_to_pending_for_a_retry(
    sender: Sender, control: SandboxClient, session_factory: async_sessionmaker[AsyncSession]
) -> None:
    await control.set_faults(error_rate=1.0)
    with pytest.raises(RetryableError, match="TelegramServerError"):
        await sender.send_message(kind="k", chat_id=OLGA, business_key="5xx", text="Ahoj")
    (row,) = await rows(session_factory)
    assert row.status == "pending" and row.attempts == 1
    await control.set_faults(error_rate=0.0)
    result = await sender.send_message(kind="k", chat_id=OLGA, business_key="5xx", text="Ahoj")
    assert result.status is DeliveryStatus.SENT and not result.duplicate
    assert await received(control, OLGA) == ["Ahoj"]

    closed = Bot(
        SANDBOX_BOT_TOKEN, session=AiohttpSession(api=TelegramAPIServer.from_base("http://127.0.0.1:9"))
    )
    try:
        offline = Sender(closed, sender.session_factory, sender.limiter)
        with pytest.raises(RetryableError, match="ClientConnectorError"):
            await offline.send_message(kind="k", chat_id=OLGA, business_key="offline", text="Ahoj")
    finally:
        await closed.session.close()
    (row,) = await rows(session_factory, business_key="offline")
    assert row.status == "pending"


@pytest.mark.parametrize("mode", ["close", "hang"])
async def test_a_dropped_answer_is_unknown_and_never_resent(
    sender: Sender,
    control: SandboxClient,
    session_factory: async_sessionmaker[AsyncSession],
    mode: str,
) -> None:
    sender.request_timeout = 1  # the client gives up on a held answer after a second
    await control.set_faults(drop_rate=1.0, drop_mode=mode, drop_hold_seconds=5)
    result = await sender.send_message(kind="k", chat_id=OLGA, business_key="drop", text="Dorazí?")
    assert result.status is DeliveryStatus.UNKNOWN
    assert await received(control, OLGA) == ["Dorazí?"]  # Telegram did deliver it
    await control.set_faults(drop_rate=0.0)
    again = await sender.send_message(
        kind="k", chat_id=OLGA, business_key="drop", text="Dorazí?", job_id="rerun"
    )
    assert again.duplicate and again.status is DeliveryStatus.UNKNOWN
    assert await received(control, OLGA) == ["Dorazí?"]
    (row,) = await rows(session_factory)
    assert row.status == "unknown" and row.attempts == 1


async def test_a_429_storm_is_obeyed_by_every_sender(
    sender: Sender,
    control: SandboxClient,
    session: RecordingSession,
    limiter: RateLimiter,
    redis: Redis,
) -> None:
    # Warm the connection pools first, so the storm's timing is the limiter's, not connection set-up.
    await asyncio.gather(
        *(sender.send_message(kind="w", chat_id=c, business_key="w", text="w") for c in LEARNERS)
    )
    session.calls.clear()
    penalized: list[float] = []
    penalize = limiter.penalize

    async def recorded_penalize(
        seconds: float, chat_id: int | None = None, *, everyone: bool = False
    ) -> None:
        await penalize(seconds, chat_id, everyone=everyone)
        penalized.append(time.monotonic())

    limiter.penalize = recorded_penalize  # type: ignore[method-assign]
    await control.set_faults(rate_limit_rate=0.35, rate_limit_retry_after=1, seed=7)

    async def deliver(chat_id: int) -> int:
        """A job and its retries: each 429 is re-raised, and the retry waits for the limiter."""
        for attempt in range(1, 20):
            try:
                await sender.send_message(kind="k", chat_id=chat_id, business_key="storm", text="Ahoj")
                return attempt
            except TelegramRetryAfter:
                continue
        raise AssertionError("never delivered")

    attempts = await asyncio.gather(*(deliver(chat) for chat in LEARNERS))
    sends = [c for c in session.calls if c.method == "sendMessage"]
    storms = [c for c in sends if c.outcome == "TelegramRetryAfter"]
    assert storms, "the storm produced no 429 (seed)"
    assert len(storms) == sum(attempts) - len(LEARNERS)
    assert all(storm.retry_after == 1 for storm in storms) and len(penalized) == len(storms)
    # Once a 429's penalty is recorded, no send starts before retry_after has passed: the limiter holds
    # new turns, and a send granted just before the 429 checks again right before its request.
    for recorded in penalized:
        later = [c.started - recorded for c in sends if c.started > recorded + 0.01]
        assert all(gap >= 1.0 - 0.02 for gap in later), sorted(later)
    for chat in LEARNERS:
        assert await received(control, chat) == ["w", "Ahoj"]
    counters = await control.counters()
    await limiter.flush()
    assert counters["rate_limited_429"] == len(storms)
    assert (await read_ratelimit_stats(redis))["telegram_429"] == len(storms)


async def test_a_long_penalty_gives_the_worker_back(
    sender: Sender,
    limiter: RateLimiter,
    control: SandboxClient,
    session_factory: async_sessionmaker[AsyncSession],
) -> None:
    sender.max_wait = 0.5
    await limiter.penalize(30)
    with pytest.raises(RateLimited) as raised:
        await sender.send_message(kind="k", chat_id=OLGA, business_key="later", text="Ahoj")
    assert raised.value.retry_after == pytest.approx(30, abs=0.5)
    (row,) = await rows(session_factory)
    assert row.status == "pending" and row.attempts == 0
    assert await received(control, OLGA) == []


async def test_redis_lost_between_the_claim_and_the_request_leaves_the_row_pending(
    sender: Sender,
    limiter: RateLimiter,
    control: SandboxClient,
    session_factory: async_sessionmaker[AsyncSession],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    async def unreachable(*args: Any, **kwargs: Any) -> None:
        raise RedisConnectionError("Error 111 connecting to 127.0.0.1:6379. Connection refused.")

    monkeypatch.setattr(limiter, "depart", unreachable)
    with pytest.raises(RedisConnectionError):
        await sender.send_message(kind="k", chat_id=OLGA, business_key="outage", text="Ahoj")
    (row,) = await rows(session_factory)
    assert (row.status, row.attempts) == ("pending", 1) and "Connection refused" in (row.error or "")
    assert await received(control, OLGA) == []
    monkeypatch.undo()  # Redis is back: the retry sends it, once
    result = await sender.send_message(kind="k", chat_id=OLGA, business_key="outage", text="Ahoj")
    assert result.status == "sent"
    assert await received(control, OLGA) == ["Ahoj"]


async def test_sends_wait_for_the_shared_limit(
    sender: Sender, session: RecordingSession, redis: Redis, control: SandboxClient
) -> None:
    sender.limiter = RateLimiter(redis, Limits(global_per_second=20, per_chat_per_second=50))
    started = time.monotonic()
    await asyncio.gather(
        *(sender.send_message(kind="k", chat_id=chat, business_key="paced", text="x") for chat in LEARNERS)
    )
    starts = sorted(c.started - started for c in session.calls)
    # The n-th request cannot start before the n-th turn, 1/20 s apart (lower bounds only: a loaded
    # machine can only start a request late, never early; the 2 ms cover Redis's clock against ours).
    assert len(starts) == len(LEARNERS)
    for n, start in enumerate(starts):
        assert start >= n * 0.05 - 0.002, (n, starts)


# --- over-long texts ----------------------------------------------------------------------------------------


async def test_a_9000_character_text_is_split_into_ledgered_parts(
    sender: Sender, control: SandboxClient, session_factory: async_sessionmaker[AsyncSession]
) -> None:
    paragraph = ("Toto je dlouhý odstavec o češtině, háčcích a čárkách. " * 9).strip()  # ~500 characters
    text = "\n\n".join(f"{n}. {paragraph}" for n in range(19))
    assert 9000 <= len(text) <= 9600
    result = await sender.send_message(kind="report", chat_id=OLGA, business_key="week-47", text=text)
    assert result.status is DeliveryStatus.SENT and len(result.parts) == 3
    got = await received(control, OLGA)
    assert len(got) == 3 and all(utf16_length(part) <= TELEGRAM_TEXT_LIMIT for part in got)
    assert "\n\n".join(got) == text  # cut at paragraph boundaries, nothing lost
    ledger = await rows(session_factory)
    assert [row.business_key for row in ledger] == ["week-47#1", "week-47#2", "week-47#3"]
    assert all(row.status == "sent" for row in ledger)
    assert [row.payload["part"] for row in ledger if row.payload] == [[1, 3], [2, 3], [3, 3]]
    again = await sender.send_message(kind="report", chat_id=OLGA, business_key="week-47", text=text)
    assert again.duplicate and len(await received(control, OLGA)) == 3


async def test_a_split_resumes_after_a_failed_part(sender: Sender, control: SandboxClient) -> None:
    text = "\n\n".join(["a" * 3000, "b" * 3000, "c" * 3000])
    await control.set_faults(error_rate=1.0)
    with pytest.raises(RetryableError):
        await sender.send_message(kind="k", chat_id=OLGA, business_key="long", text=text)
    await control.set_faults(error_rate=0.0)
    result = await sender.send_message(kind="k", chat_id=OLGA, business_key="long", text=text)
    assert [part.status for part in result.parts] == [DeliveryStatus.SENT] * 3
    assert [len(t) for t in await received(control, OLGA)] == [3000, 3000, 3000]


async def test_over_long_markup_and_empty_texts_are_refused_before_sending(
    sender: Sender, session: RecordingSession, session_factory: async_sessionmaker[AsyncSession]
) -> None:
    long_html = await sender.send_message(
        kind="k", chat_id=OLGA, business_key="html", text="<b>" + "x" * 5000 + "</b>", parse_mode="HTML"
    )
    empty = await sender.send_message(kind="k", chat_id=OLGA, business_key="empty", text="  ")
    fits = await sender.send_message(
        kind="k", chat_id=OLGA, business_key="fits", text="<b>" + "x" * 4090 + "</b>", parse_mode="HTML"
    )
    assert long_html.status is DeliveryStatus.FAILED and "cannot be split" in (long_html.error or "")
    assert empty.status is DeliveryStatus.FAILED and empty.error == "text is empty"
    assert fits.status is DeliveryStatus.SENT  # 4096+ characters of HTML, 4090 visible: Telegram accepts
    assert [c.method for c in session.calls] == ["sendMessage"]


# --- photos, edits, redelivery ------------------------------------------------------------------------------


async def test_photos_are_ledgered_and_long_captions_refused(
    sender: Sender, control: SandboxClient, session_factory: async_sessionmaker[AsyncSession]
) -> None:
    sent = await sender.send_photo(
        kind="weekly_report", chat_id=OLGA, business_key="2026-11-16", photo=PNG, caption="Tvůj týden"
    )
    again = await sender.send_photo(
        kind="weekly_report", chat_id=OLGA, business_key="2026-11-16", photo=PNG, caption="Tvůj týden"
    )
    refused = await sender.send_photo(
        kind="weekly_report", chat_id=OLGA, business_key="long", photo=PNG, caption="x" * 1025
    )
    assert sent.status is DeliveryStatus.SENT and again.duplicate
    assert refused.status is DeliveryStatus.FAILED and "1025" in (refused.error or "")
    records = await control.messages(OLGA)
    assert [(r["method"], r["caption"]) for r in records] == [("sendPhoto", "Tvůj týden")]
    (row, _) = await rows(session_factory)
    assert row.payload and row.payload["photo_bytes"] == len(PNG) and row.payload["photo"] is None


async def test_edits_are_paced_per_chat_and_tolerate_no_change(
    sender: Sender, control: SandboxClient
) -> None:
    sent = await sender.send_message(kind="k", chat_id=OLGA, business_key="progress", text="0 / 10")
    assert sent.telegram_message_id is not None
    assert await sender.edit_message_text(chat_id=OLGA, message_id=sent.telegram_message_id, text="5 / 10")
    assert await sender.edit_message_text(chat_id=OLGA, message_id=sent.telegram_message_id, text="5 / 10")
    assert not await sender.edit_message_text(chat_id=OLGA, message_id=999_999, text="?")
    (record,) = await control.messages(OLGA)
    assert record["text"] == "5 / 10" and len(record["edits"]) == 1


async def test_redeliver_sends_a_pending_row_from_its_payload(
    sender: Sender, control: SandboxClient, session_factory: async_sessionmaker[AsyncSession]
) -> None:
    async with session_factory.begin() as db:
        db.add(
            Delivery(
                kind="message",
                recipient_id=OLGA,
                business_key="lost",
                payload={"method": "sendMessage", "text": "Znovu", "parse_mode": None},
                job_id="vanished",
            )
        )
        db.add(
            Delivery(
                kind="weekly_report",
                recipient_id=OLGA,
                business_key="bytes",
                payload={"method": "sendPhoto", "photo": None, "photo_bytes": 10},
            )
        )
    lost, photo = await rows(session_factory)
    result = await sender.redeliver(lost.id, job_id="redeliver:1:0")
    assert result is not None and result.status is DeliveryStatus.SENT
    assert await received(control, OLGA) == ["Znovu"]
    again = await sender.redeliver(lost.id, job_id="redeliver:1:1")
    assert again is not None and again.duplicate
    refused = await sender.redeliver(photo.id)
    assert refused is not None and refused.status is DeliveryStatus.FAILED
    assert await sender.redeliver(123_456) is None


@pytest.mark.parametrize("paid", [False, True], ids=["free", "paid"])
async def test_deliver_text_sends_a_paid_broadcast_with_allow_paid_broadcast_on_its_schedule(
    sender: Sender,
    session_factory: async_sessionmaker[AsyncSession],
    control: SandboxClient,
    redis: Redis,
    session: RecordingSession,
    paid: bool,
) -> None:
    sender.limiter.limits = Limits(global_per_second=200, per_chat_per_second=50, paid_per_second=500)
    async with session_factory.begin() as db:
        await ledger.snapshot(db, kind="broadcast", business_key="b:1", recipients=LEARNERS[:3], payload={})
    async with session_factory() as db:
        pending = await ledger.recipients(db, kind="broadcast", business_key="b:1", offset=0, limit=10)
    for row in pending:
        result = await sender.deliver_text(row.id, chat_id=row.recipient_id, text="Ahoj", paid=paid)
        assert result.status is DeliveryStatus.SENT
    records = [record for chat_id in LEARNERS[:3] for record in await control.messages(chat_id)]
    assert [record["paid_broadcast"] for record in records] == [paid] * 3
    assert bool(await redis.exists(sender.limiter.tat_key(None, paid=True))) is paid
    assert bool(await redis.exists(sender.limiter.tat_key(None))) is not paid
    assert [row.status for row in await rows(session_factory, business_key="b:1")] == ["sent"] * 3
