"""The Sender against the Bot API sandbox, real PostgreSQL and Redis: the ledger, the error policy, the
rate limiter in the loop, over-long texts, and the reconciler."""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import itertools
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import pytest
from aiogram import Bot
from aiogram.client.session.aiohttp import AiohttpSession
from aiogram.client.telegram import TelegramAPIServer
from aiogram.exceptions import TelegramBadRequest, TelegramRetryAfter
from aiogram.methods.base import TelegramMethod, TelegramType
from aiogram.types import InlineKeyboardButton, InlineKeyboardMarkup
from redis.asyncio import Redis
from redis.exceptions import ConnectionError as RedisConnectionError
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from mluv.db.models import Delivery, DeliveryStatus, JobFailure, User
from mluv.jobs.retry import RetryableError
from mluv.resources import SANDBOX_BOT_TOKEN
from mluv.telegram.ratelimit import Limits, RateLimited, RateLimiter, read_ratelimit_stats
from mluv.telegram.sandbox import SandboxClient, SandboxConfig, run_sandbox
from mluv.telegram.sender import (
    TELEGRAM_TEXT_LIMIT,
    PacedRequests,
    Sender,
    paced,
    split_text,
    utf16_length,
    visible_length,
)

LEARNERS = [810_000_001 + i for i in range(8)]
OLGA = LEARNERS[0]
PNG = bytes.fromhex(
    "89504e470d0a1a0a0000000d49484452000000010000000108060000001f15c489"
    "0000000d4944415478da63f8cfc0f01f0005000201a5d1b4d10000000049454e44ae426082"
)

# --- pure: splitting and lengths --------------------------------------------------------------------------


def test_utf16_length_counts_astral_characters_twice() -> None:
    assert utf16_length("Ahoj") == 4
    assert utf16_length("děkuji") == 6
    assert utf16_length("🎉") == 2
    assert visible_length("<b>Ahoj</b> &amp; čau", "HTML") == len("Ahoj & čau")
    assert visible_length("<b>Ahoj</b>", None) == 11


def test_split_prefers_paragraphs_then_lines_then_words() -> None:
    paragraph = "Dobrý den. " * 30  # 330 characters
    text = "\n\n".join([paragraph.strip()] * 4)
    parts = split_text(text, limit=700)
    assert parts == ["\n\n".join([paragraph.strip()] * 2)] * 2
    lines = "\n".join(["řádek číslo jedna"] * 10)
    assert all(len(p) <= 60 and not p.startswith("\n") for p in split_text(lines, limit=60))
    assert split_text(lines, limit=60)[0] == "\n".join(["řádek číslo jedna"] * 3)
    words = "slovo " * 50
    parts = split_text(words, limit=50)
    assert all(part.endswith("slovo") and utf16_length(part) <= 50 for part in parts)
    assert " ".join(parts) == words.strip()


def test_split_cuts_hard_without_whitespace_and_measures_utf16() -> None:
    assert split_text("x" * 25, limit=10) == ["x" * 10, "x" * 10, "x" * 5]
    emoji = "🎉" * 10  # 20 UTF-16 units
    parts = split_text(emoji, limit=7)
    assert parts == ["🎉" * 3] * 3 + ["🎉"]
    assert split_text("short", limit=10) == ["short"]


# --- the sandbox, a recording bot, the Sender -------------------------------------------------------------


@dataclass
class Call:
    method: str
    started: float
    ended: float
    outcome: str
    retry_after: int | None = None


class RecordingSession(AiohttpSession):
    """aiogram's HTTP session, recording every Bot API request (without aiogram's 250 ms close grace)."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.calls: list[Call] = []

    async def make_request(
        self, bot: Bot, method: TelegramMethod[TelegramType], timeout: int | None = None
    ) -> TelegramType:
        started = time.monotonic()
        try:
            result = await super().make_request(bot, method, timeout)
        except Exception as error:
            retry_after = error.retry_after if isinstance(error, TelegramRetryAfter) else None
            self.calls.append(
                Call(method.__api_method__, started, time.monotonic(), type(error).__name__, retry_after)
            )
            raise
        self.calls.append(Call(method.__api_method__, started, time.monotonic(), "ok"))
        return result

    async def close(self) -> None:
        if self._session is not None and not self._session.closed:
            await self._session.close()


@pytest.fixture
async def sandbox_url() -> AsyncIterator[str]:
    async with run_sandbox(port=0, config=SandboxConfig()) as url:
        yield url


@pytest.fixture
async def control(sandbox_url: str) -> AsyncIterator[SandboxClient]:
    async with SandboxClient(sandbox_url) as client:
        await client.set_limits(enabled=False)  # our limiter is under test; the 429 test injects them
        for user_id in LEARNERS:
            await client.create_user(user_id, f"Learner {user_id}", language_code="ru")
        yield client


@pytest.fixture
async def session(sandbox_url: str) -> AsyncIterator[RecordingSession]:
    recording = RecordingSession(api=TelegramAPIServer.from_base(sandbox_url), timeout=10)
    yield recording
    await recording.close()


@pytest.fixture
def bot(session: RecordingSession) -> Bot:
    return Bot(SANDBOX_BOT_TOKEN, session=session)


@pytest.fixture
def limiter(redis: Redis) -> RateLimiter:
    return RateLimiter(redis, Limits(global_per_second=200, per_chat_per_second=50))


@pytest.fixture
async def sender(
    bot: Bot,
    session_factory: async_sessionmaker[AsyncSession],
    limiter: RateLimiter,
    clean_tables: None,
    control: SandboxClient,
) -> Sender:
    async with session_factory.begin() as db:
        db.add_all(User(id=user_id, first_name="Learner") for user_id in LEARNERS)
    return Sender(bot, session_factory, limiter, request_timeout=5)


async def rows(session_factory: async_sessionmaker[AsyncSession], **where: Any) -> list[Delivery]:
    async with session_factory() as db:
        statement = select(Delivery).order_by(Delivery.id)
        for name, value in where.items():
            statement = statement.where(getattr(Delivery, name) == value)
        return list((await db.scalars(statement)).all())


async def received(control: SandboxClient, chat_id: int) -> list[str]:
    return [record["text"] or record["caption"] or "" for record in await control.messages(chat_id)]


# --- the ledger ---------------------------------------------------------------------------------------------


async def test_a_business_key_is_sent_once(
    sender: Sender, control: SandboxClient, session_factory: async_sessionmaker[AsyncSession]
) -> None:
    keyboard = InlineKeyboardMarkup(inline_keyboard=[[InlineKeyboardButton(text="OK", callback_data="ok")]])
    first = await sender.send_message(
        kind="reminder", chat_id=OLGA, business_key="2026-11-21", text="Ahoj!", reply_markup=keyboard
    )
    second = await sender.send_message(kind="reminder", chat_id=OLGA, business_key="2026-11-21", text="Ahoj!")
    assert first.status is DeliveryStatus.SENT and not first.duplicate
    assert second.status is DeliveryStatus.SENT and second.duplicate
    assert second.telegram_message_id == first.telegram_message_id
    assert await received(control, OLGA) == ["Ahoj!"]
    (row,) = await rows(session_factory)
    assert (row.status, row.attempts, row.sent_at is not None) == ("sent", 1, True)
    assert row.payload and row.payload["text"] == "Ahoj!" and row.payload["reply_markup"]
    # Another kind or key is another message.
    await sender.send_message(kind="reminder", chat_id=OLGA, business_key="2026-11-22", text="Ahoj!")
    assert len(await received(control, OLGA)) == 2


async def test_concurrent_sends_of_one_key_deliver_once(sender: Sender, control: SandboxClient) -> None:
    results = await asyncio.gather(
        *(
            sender.send_message(kind="k", chat_id=OLGA, business_key="same", text="Jen jednou")
            for _ in range(8)
        )
    )
    assert sum(not r.duplicate for r in results) == 1
    assert await received(control, OLGA) == ["Jen jednou"]


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


async def test_a_claim_left_by_an_earlier_try_of_the_same_job_is_unknown(
    sender: Sender, control: SandboxClient, session_factory: async_sessionmaker[AsyncSession]
) -> None:
    async with session_factory.begin() as db:
        db.add(
            Delivery(
                kind="k",
                recipient_id=OLGA,
                business_key="crash",
                status="sending",
                job_id="job-1",
                claimed_at=dt.datetime.now(dt.UTC),
            )
        )
    other = await sender.send_message(kind="k", chat_id=OLGA, business_key="crash", text="x", job_id="job-2")
    assert other.duplicate and other.status is DeliveryStatus.SENDING  # someone else's: still in flight
    same = await sender.send_message(kind="k", chat_id=OLGA, business_key="crash", text="x", job_id="job-1")
    assert same.duplicate and same.status is DeliveryStatus.UNKNOWN
    assert await received(control, OLGA) == []


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

    monkeypatch.setattr(limiter, "hold", unreachable)
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


# --- the reconciler -----------------------------------------------------------------------------------------


async def test_reconcile_settles_stuck_claims_and_requeues_pending_rows_whose_job_vanished(
    sender: Sender, session_factory: async_sessionmaker[AsyncSession], redis: Redis
) -> None:
    now = dt.datetime.now(dt.UTC)
    old = now - dt.timedelta(minutes=10)
    spec: dict[str, dict[str, Any]] = {
        "stuck": {"status": "sending", "claimed_at": now - dt.timedelta(minutes=3), "job_id": "dead"},
        "in-flight": {"status": "sending", "claimed_at": now - dt.timedelta(seconds=5), "job_id": "busy"},
        "vanished": {"status": "pending", "job_id": "gone", "attempts": 1},
        "no-job": {"status": "pending", "job_id": None},
        "queued": {"status": "pending", "job_id": "queued"},
        "running": {"status": "pending", "job_id": "running"},
        "dead-letter": {"status": "pending", "job_id": "failed-job"},
        "too-many": {"status": "pending", "job_id": "gone-2", "attempts": 10},
        "fresh": {"status": "pending", "job_id": "gone-3", "fresh": True},
        "expired": {"status": "pending", "job_id": "gone-4", "created": now - dt.timedelta(days=2)},
        "broadcast": {"status": "pending", "job_id": None, "kind": "broadcast"},
    }
    async with session_factory.begin() as db:
        for key, values in spec.items():
            db.add(
                Delivery(
                    kind=values.get("kind", "message"),
                    recipient_id=OLGA,
                    business_key=key,
                    status=values["status"],
                    job_id=values["job_id"],
                    attempts=values.get("attempts", 0),
                    claimed_at=values.get("claimed_at"),
                    payload={"method": "sendMessage", "text": key},
                )
            )
        db.add(JobFailure(job_id="failed-job", job_name="send_message", queue="fast", error="x"))
    async with session_factory.begin() as db:
        for key, values in spec.items():
            if not values.get("fresh"):
                await db.execute(
                    update(Delivery)
                    .where(Delivery.business_key == key)
                    .values(updated_at=old, created_at=values.get("created", old))
                )
    await redis.set("arq:job:queued", b"x")
    await redis.set("arq:in-progress:running", b"1")
    requeued: list[tuple[str, int]] = []
    by_id = {row.id: row.business_key for row in await rows(session_factory)}

    async def requeue(delivery_id: int, attempts: int) -> None:
        requeued.append((by_id[delivery_id], attempts))

    report = await sender.reconcile(
        redis, stuck_after=60, pending_after=300, requeue=requeue, max_attempts=10
    )
    assert [by_id[i] for i in report.unknown] == ["stuck"]
    assert report.unknown_keys == (("message", "stuck"),)
    assert sorted(requeued) == [("no-job", 0), ("vanished", 1)]
    assert [by_id[i] for i in report.gave_up] == ["too-many"]
    assert [by_id[i] for i in report.expired] == ["expired"]
    status = {row.business_key: row.status for row in await rows(session_factory)}
    assert status == {
        "stuck": "unknown",
        "in-flight": "sending",
        "vanished": "pending",
        "no-job": "pending",
        "queued": "pending",
        "running": "pending",
        "dead-letter": "pending",
        "too-many": "failed",
        "fresh": "pending",
        "expired": "failed",
        "broadcast": "pending",
    }
    # Idempotent: a second pass finds nothing new to settle.
    again = await sender.reconcile(redis, stuck_after=60, pending_after=300)
    assert again.unknown == again.expired == again.gave_up == ()


# --- handlers' direct replies (PacedRequests) -----------------------------------------------------------


async def test_direct_replies_share_the_senders_schedule(
    sender: Sender, bot: Bot, session: RecordingSession, redis: Redis, control: SandboxClient
) -> None:
    sender.limiter = RateLimiter(redis, Limits(global_per_second=200, per_chat_per_second=10))
    bot.session.middleware(PacedRequests(sender.limiter))
    # A handler's replies and a worker's send to one chat, at once: one schedule, 1/10 s apart.
    await asyncio.gather(
        *(bot.send_message(OLGA, f"reply {n}") for n in range(3)),
        sender.send_message(kind="k", chat_id=OLGA, business_key="feedback", text="feedback"),
    )
    starts = sorted(c.started for c in session.calls if c.method == "sendMessage")
    assert len(starts) == 4
    assert all(later - earlier >= 0.1 - 0.03 for earlier, later in itertools.pairwise(starts))
    assert sorted(await received(control, OLGA)) == ["feedback", "reply 0", "reply 1", "reply 2"]


@pytest.mark.parametrize(
    ("call", "paced_by_middleware"),
    [
        (lambda bot: bot.send_message(OLGA, "x"), True),
        (lambda bot: bot.edit_message_text(text="y", chat_id=OLGA, message_id=1), True),
        (lambda bot: bot.send_chat_action(OLGA, "typing"), False),
        (lambda bot: bot.get_me(), False),
    ],
    ids=["send", "edit", "chat-action", "get-me"],
)
async def test_a_long_penalty_turns_a_direct_reply_into_a_429(
    bot: Bot, limiter: RateLimiter, control: SandboxClient, call: Any, paced_by_middleware: bool
) -> None:
    bot.session.middleware(PacedRequests(limiter, max_wait=0.5))
    await limiter.penalize(30, OLGA, everyone=True)
    if paced_by_middleware:
        with pytest.raises(TelegramRetryAfter) as raised:
            await call(bot)
        assert raised.value.retry_after == 30
        assert await received(control, OLGA) == []
    else:
        with contextlib.suppress(TelegramBadRequest):
            await call(bot)
    with paced():  # the Sender's own requests are never held twice
        await bot.send_message(OLGA, "paced by the Sender")
    assert await received(control, OLGA) == ["paced by the Sender"]
