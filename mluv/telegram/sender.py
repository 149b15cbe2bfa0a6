"""The Sender: every message a job sends goes through here, rate-limited and at most once per business key.

The delivery ledger (`deliveries`) has one row per (kind, recipient, business key). A send creates the row
(pending) if it is new, waits for its turn in the shared rate limiter (mluv.telegram.ratelimit), claims the
row atomically (pending → sending) and only then calls Telegram; the answer sets the final state. A re-run
job finds the row claimed or finished and does not send again. `sendMessage` has no idempotency key, so a
send whose answer never came (read timeout, a crash in the send window) ends `unknown`: it may have been
delivered, and it is never resent automatically.

The limiter is acquired *before* the claim, so a row spends only the Telegram round trip in `sending`:
a crash in that window is the only way to get `unknown`.

Error policy (aiogram exceptions):
- TelegramRetryAfter (429)              → the limiter is penalized for retry_after (the chat and everyone),
                                          the row goes back to pending, the error is re-raised: the job
                                          retries after exactly retry_after.
- TelegramForbiddenError (403)          → blocked; the learner is marked inactive; no retry.
- TelegramBadRequest (400)              → failed; no retry.
- TelegramServerError (5xx), 401        → back to pending, RetryableError: retry with backoff.
- TelegramNetworkError, connect failure → back to pending, RetryableError (nothing reached Telegram).
- TelegramNetworkError, anything else   → unknown (a timeout may hide a delivery); no retry.
- any other Telegram answer (404, 409…) → failed; no retry.
TelegramEntityTooLarge subclasses TelegramNetworkError but is a permanent 413: failed.
RateLimited (the limiter's next slot is further than `max_wait`) leaves the row pending and propagates;
the job retries after its `retry_after`.

Over-long texts: a text over 4096 characters (UTF-16 code units, as Telegram counts them) without
parse_mode is split at paragraph, line or word boundaries; each part is its own ledger row with the
business key suffixed `#1`, `#2`, ... and parts go out in order, stopping at the first that is not sent.
With a parse_mode the text is refused (failed) when its visible length is over the limit: markup cannot
be split safely. Captions over 1024 characters are refused.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import functools
import html
import math
import re
from collections.abc import Awaitable, Callable, Collection, Iterator
from contextvars import ContextVar
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from aiogram import Bot, methods
from aiogram.client.session.middlewares.base import BaseRequestMiddleware, NextRequestMiddlewareType
from aiogram.exceptions import (
    TelegramAPIError,
    TelegramBadRequest,
    TelegramEntityTooLarge,
    TelegramForbiddenError,
    TelegramNetworkError,
    TelegramRetryAfter,
    TelegramServerError,
    TelegramUnauthorizedError,
)
from aiogram.methods import Response, TelegramMethod
from aiogram.methods.base import TelegramType
from aiogram.types import BufferedInputFile, InlineKeyboardMarkup, ReplyParameters
from sqlalchemy import select, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from mluv.db.learners import mark_blocked
from mluv.db.models import Delivery, DeliveryStatus, JobFailure
from mluv.jobs.arq_state import jobs_known
from mluv.jobs.retry import RetryableError
from mluv.logs import get_logger, redact
from mluv.telegram.ratelimit import RateLimited, RateLimiter

if TYPE_CHECKING:
    from redis.asyncio import Redis

log = get_logger(__name__)

# The ledger columns a send decides on (see _Row).
_ROW_COLUMNS = (Delivery.id, Delivery.status, Delivery.job_id, Delivery.telegram_message_id, Delivery.error)

TELEGRAM_TEXT_LIMIT = 4096
TELEGRAM_CAPTION_LIMIT = 1024
# Bounds the send window (claim → answer); kept below a fast job's timeout so the job's own timeout does
# not cut a request in flight (which would leave the row unknown).
DEFAULT_REQUEST_TIMEOUT = 15
# Longest wait for a rate-limit slot inside a job; longer waits give the worker back (RateLimited).
DEFAULT_MAX_WAIT = 10.0


FINAL_STATUSES = frozenset(
    {DeliveryStatus.SENT, DeliveryStatus.BLOCKED, DeliveryStatus.FAILED, DeliveryStatus.UNKNOWN}
)

# Work that must commit together with a delivery's final state (e.g. a broadcast's counters): it runs in
# the transaction that records sent/blocked/failed/unknown, once per ledger row.
FinishHook = Callable[[AsyncSession, DeliveryStatus], Awaitable[None]]


@dataclass(frozen=True)
class DeliveryResult:
    status: DeliveryStatus
    delivery_id: int
    telegram_message_id: int | None = None
    duplicate: bool = False  # the business key was already claimed or finished: nothing was sent now
    error: str | None = None
    parts: tuple[DeliveryResult, ...] = ()  # a split text: one result per part (ledger row), in order


@dataclass(frozen=True)
class ReconcileReport:
    unknown: tuple[int, ...]  # rows stuck in sending past the crash window, now unknown
    requeued: tuple[int, ...]  # pending rows whose job vanished, handed to `requeue`
    expired: tuple[int, ...]  # pending rows older than expire_after, now failed
    gave_up: tuple[int, ...]  # pending rows requeued max_attempts times already, now failed
    unknown_keys: tuple[tuple[str, str], ...] = ()  # (kind, business_key) of the rows made unknown


@dataclass(frozen=True)
class _Row:
    id: int
    status: DeliveryStatus
    job_id: str | None
    telegram_message_id: int | None
    error: str | None


# --- texts ------------------------------------------------------------------------------------------------


def utf16_length(text: str) -> int:
    """Telegram measures texts in UTF-16 code units (an emoji outside the BMP counts twice)."""
    return len(text.encode("utf-16-le")) // 2


_TAG = re.compile(r"<[^>]*>")


def visible_length(text: str, parse_mode: str | None) -> int:
    """Length as Telegram checks it: after entity parsing (HTML tags and entities removed)."""
    if parse_mode is not None and parse_mode.upper() == "HTML":
        return utf16_length(html.unescape(_TAG.sub("", text)))
    return utf16_length(text)


def _fitting_prefix(text: str, limit: int) -> int:
    """The longest prefix length (in code points) whose UTF-16 length is within `limit`."""
    end = min(len(text), limit)
    while (excess := utf16_length(text[:end]) - limit) > 0:
        end -= max(1, excess // 2)
    return end


def split_text(text: str, limit: int = TELEGRAM_TEXT_LIMIT) -> list[str]:
    """Split a plain text into parts of at most `limit` UTF-16 units, preferring paragraph breaks, then
    line breaks (each in the second half of a part), then any whitespace, then a hard cut."""
    parts: list[str] = []
    rest = text.strip()
    while utf16_length(rest) > limit:
        head = rest[: _fitting_prefix(rest, limit)]
        cut = -1
        for separator in ("\n\n", "\n"):
            position = head.rfind(separator)
            if position >= len(head) // 2:
                cut = position
                break
        if cut < 0:
            cut = max((m.start() for m in re.finditer(r"\s", head)), default=-1)
        part = rest[:cut].rstrip() if cut > 0 else ""
        if not part:
            cut = len(head)
            part = head
        parts.append(part)
        rest = rest[cut:].strip()
    if rest:
        parts.append(rest)
    return parts


# --- the Sender ---------------------------------------------------------------------------------------


class Sender:
    def __init__(
        self,
        bot: Bot,
        session_factory: async_sessionmaker[AsyncSession],
        limiter: RateLimiter,
        *,
        request_timeout: int = DEFAULT_REQUEST_TIMEOUT,
        max_wait: float = DEFAULT_MAX_WAIT,
    ) -> None:
        self.bot = bot
        self.session_factory = session_factory
        self.limiter = limiter
        self.request_timeout = request_timeout
        self.max_wait = max_wait

    # --- sending ----------------------------------------------------------------------------------------

    async def send_message(
        self,
        *,
        kind: str,
        chat_id: int,
        business_key: str,
        text: str,
        reply_to_message_id: int | None = None,
        reply_markup: InlineKeyboardMarkup | None = None,
        parse_mode: str | None = None,
        job_id: str | None = None,
        on_finish: FinishHook | None = None,
    ) -> DeliveryResult:
        """Send `text` to `chat_id` once per (kind, chat_id, business_key); see the module docstring."""
        length = visible_length(text, parse_mode)
        send = functools.partial(
            self._send_text, kind=kind, chat_id=chat_id, job_id=job_id, on_finish=on_finish
        )
        if not text.strip() or length <= TELEGRAM_TEXT_LIMIT:
            return await send(
                business_key=business_key,
                text=text,
                parse_mode=parse_mode,
                reply_to_message_id=reply_to_message_id,
                reply_markup=reply_markup,
                refusal=None if text.strip() else "text is empty",
            )
        if parse_mode is not None:
            # Splitting could cut a tag or an entity in half; Telegram would answer 400 anyway.
            refusal = (
                f"text of {length} characters with parse_mode {parse_mode} is over {TELEGRAM_TEXT_LIMIT}"
                " and cannot be split safely"
            )
            return await send(
                business_key=business_key,
                text=text,
                parse_mode=parse_mode,
                reply_to_message_id=reply_to_message_id,
                reply_markup=reply_markup,
                refusal=refusal,
            )
        parts = split_text(text)
        results: list[DeliveryResult] = []
        for index, part in enumerate(parts, start=1):
            result = await send(
                business_key=f"{business_key}#{index}",
                text=part,
                parse_mode=None,
                reply_to_message_id=reply_to_message_id if index == 1 else None,
                reply_markup=reply_markup if index == len(parts) else None,
                part=(index, len(parts)),
            )
            results.append(result)
            if result.status is not DeliveryStatus.SENT:
                break  # a later part without the earlier one makes no sense; a retry resumes here
        return _combine(results)

    async def send_photo(
        self,
        *,
        kind: str,
        chat_id: int,
        business_key: str,
        photo: bytes | str,
        caption: str | None = None,
        parse_mode: str | None = None,
        filename: str = "image.png",
        reply_markup: InlineKeyboardMarkup | None = None,
        job_id: str | None = None,
        on_finish: FinishHook | None = None,
    ) -> DeliveryResult:
        """Send a photo (PNG/JPEG bytes, a file_id or a URL) once per business key; captions ≤ 1024."""
        payload: dict[str, Any] = {
            "method": "sendPhoto",
            # Bytes are not kept in the ledger (a chart is tens of kB); only a file_id/URL can be redelivered.
            "photo": photo if isinstance(photo, str) else None,
            "photo_bytes": len(photo) if isinstance(photo, bytes) else None,
            "caption": caption,
            "parse_mode": parse_mode,
            "reply_markup": _markup_json(reply_markup),
        }
        refusal = None
        if caption is not None and visible_length(caption, parse_mode) > TELEGRAM_CAPTION_LIMIT:
            refusal = (
                f"caption of {visible_length(caption, parse_mode)} characters > {TELEGRAM_CAPTION_LIMIT}"
            )
        elif not photo:
            refusal = "photo is empty"

        async def call() -> int:
            sent = await self.bot.send_photo(
                chat_id=chat_id,
                photo=BufferedInputFile(photo, filename) if isinstance(photo, bytes) else photo,
                caption=caption,
                parse_mode=parse_mode,
                reply_markup=reply_markup,
                request_timeout=self.request_timeout,
            )
            return sent.message_id

        return await self._send_new(kind, chat_id, business_key, payload, call, job_id, on_finish, refusal)

    async def deliver_text(
        self,
        delivery_id: int,
        *,
        chat_id: int,
        text: str,
        parse_mode: str | None = None,
        job_id: str | None = None,
        on_finish: FinishHook | None = None,
    ) -> DeliveryResult:
        """Send an existing pending ledger row (created in bulk, e.g. a broadcast's recipients)."""
        return await self._deliver_row(
            delivery_id, chat_id, self._text_call(chat_id, text, parse_mode, None, None), job_id, on_finish
        )

    async def redeliver(self, delivery_id: int, *, job_id: str | None = None) -> DeliveryResult | None:
        """Send a pending row again from its stored payload (the reconciler's requeue); None if no row."""
        async with self.session_factory() as session:
            row = await session.get(Delivery, delivery_id)
        if row is None:
            return None
        current = _Row(row.id, DeliveryStatus(row.status), row.job_id, row.telegram_message_id, row.error)
        current = await self._resolve_own_claim(current, job_id)
        if current.status is not DeliveryStatus.PENDING:
            return _duplicate(current)
        payload = row.payload or {}
        method = payload.get("method", "sendMessage")
        markup = payload.get("reply_markup")
        reply_markup = InlineKeyboardMarkup.model_validate(markup) if markup else None
        if method == "sendMessage" and payload.get("text"):
            call = self._text_call(
                row.recipient_id,
                payload["text"],
                payload.get("parse_mode"),
                payload.get("reply_to_message_id"),
                reply_markup,
            )
            return await self._deliver_row(row.id, row.recipient_id, call, job_id, None)
        if method == "sendPhoto" and payload.get("photo"):
            photo: str = payload["photo"]

            async def send_photo() -> int:
                sent = await self.bot.send_photo(
                    chat_id=row.recipient_id,
                    photo=photo,
                    caption=payload.get("caption"),
                    parse_mode=payload.get("parse_mode"),
                    reply_markup=reply_markup,
                    request_timeout=self.request_timeout,
                )
                return sent.message_id

            return await self._deliver_row(row.id, row.recipient_id, send_photo, job_id, None)
        return await self._refuse(
            row.id, f"cannot redeliver a {method} from the ledger: content not kept", None
        )

    async def edit_message_text(
        self, *, chat_id: int, message_id: int, text: str, parse_mode: str | None = None
    ) -> bool:
        """Edit a message (e.g. a progress report); not ledgered: an edit is idempotent. False if skipped.

        Only the chat's limit applies: Telegram's ~30/s global limit is about messages to many chats.
        """
        try:
            await self.limiter.acquire(chat_id, use_global=False, max_wait=self.max_wait)
            with paced():
                await self.bot.edit_message_text(
                    text=text,
                    chat_id=chat_id,
                    message_id=message_id,
                    parse_mode=parse_mode,
                    request_timeout=self.request_timeout,
                )
        except RateLimited:
            return False
        except TelegramRetryAfter as error:
            await self.limiter.penalize(error.retry_after, chat_id)
            return False
        except TelegramBadRequest as error:
            # Telegram refuses an edit that changes nothing; the message already shows this text.
            if "not modified" in error.message:
                return True
            log.warning("edit refused", chat_id=chat_id, message_id=message_id, error=error.message)
            return False
        except TelegramAPIError as error:
            log.warning("edit failed", chat_id=chat_id, message_id=message_id, error=redact(str(error)))
            return False
        return True

    # --- the ledger ---------------------------------------------------------------------------------------

    def _text_call(
        self,
        chat_id: int,
        text: str,
        parse_mode: str | None,
        reply_to_message_id: int | None,
        reply_markup: InlineKeyboardMarkup | None,
    ) -> Callable[[], Awaitable[int]]:
        async def call() -> int:
            sent = await self.bot.send_message(
                chat_id=chat_id,
                text=text,
                parse_mode=parse_mode,
                reply_markup=reply_markup,
                reply_parameters=(
                    ReplyParameters(message_id=reply_to_message_id, allow_sending_without_reply=True)
                    if reply_to_message_id
                    else None
                ),
                request_timeout=self.request_timeout,
            )
            return sent.message_id

        return call

    async def _send_text(
        self,
        *,
        kind: str,
        chat_id: int,
        business_key: str,
        text: str,
        parse_mode: str | None,
        reply_to_message_id: int | None,
        reply_markup: InlineKeyboardMarkup | None,
        job_id: str | None,
        on_finish: FinishHook | None,
        refusal: str | None = None,
        part: tuple[int, int] | None = None,
    ) -> DeliveryResult:
        payload: dict[str, Any] = {
            "method": "sendMessage",
            "text": text,
            "parse_mode": parse_mode,
            "reply_to_message_id": reply_to_message_id,
            "reply_markup": _markup_json(reply_markup),
        }
        if part is not None:
            payload["part"] = list(part)
        call = self._text_call(chat_id, text, parse_mode, reply_to_message_id, reply_markup)
        return await self._send_new(kind, chat_id, business_key, payload, call, job_id, on_finish, refusal)

    async def _send_new(
        self,
        kind: str,
        chat_id: int,
        business_key: str,
        payload: dict[str, Any],
        call: Callable[[], Awaitable[int]],
        job_id: str | None,
        on_finish: FinishHook | None,
        refusal: str | None,
    ) -> DeliveryResult:
        row = await self._prepare(kind, chat_id, business_key, payload, job_id)
        row = await self._resolve_own_claim(row, job_id)
        if row.status is not DeliveryStatus.PENDING:
            return _duplicate(row)
        if refusal is not None:
            # Refused before sending: Telegram would answer 400 (empty or over-long text or caption).
            return await self._refuse(row.id, refusal, on_finish)
        return await self._deliver_row(row.id, chat_id, call, job_id, on_finish)

    async def _deliver_row(
        self,
        delivery_id: int,
        chat_id: int,
        call: Callable[[], Awaitable[int]],
        job_id: str | None,
        on_finish: FinishHook | None,
    ) -> DeliveryResult:
        # Wait for the turn first, claim second: the row is in `sending` only for the Telegram round trip.
        await self.limiter.acquire(chat_id, max_wait=self.max_wait)
        if not await self._claim(delivery_id, job_id):
            return _duplicate(await self._load(delivery_id))
        try:
            # A 429 may have landed between our turn and now (the claim is a database round trip).
            await self.limiter.hold(chat_id, max_wait=self.max_wait)
        except RateLimited:
            await self._finish(delivery_id, DeliveryStatus.PENDING, error="rate limited before sending")
            raise
        except Exception as error:
            # The limiter's Redis is unreachable: nothing was sent, so the row goes back to pending
            # (left in `sending` it would end `unknown` and never be sent: bench/chaos.py redis-stopped-30s).
            text = redact(f"{type(error).__name__}: {error}")
            await self._finish(delivery_id, DeliveryStatus.PENDING, error=f"before sending: {text}")
            raise
        try:
            with paced():
                message_id = await call()
        except Exception as error:
            return await self._failed(delivery_id, chat_id, error, on_finish)
        # A CancelledError (job timeout, shutdown) is not caught: the row stays `sending` and becomes
        # unknown, because the request may have reached Telegram.
        return await self._finish(
            delivery_id, DeliveryStatus.SENT, telegram_message_id=message_id, on_finish=on_finish
        )

    async def _prepare(
        self, kind: str, chat_id: int, business_key: str, payload: dict[str, Any], job_id: str | None
    ) -> _Row:
        """Create the ledger row if new (pending) and return its current state."""
        async with self.session_factory.begin() as session:
            await session.execute(
                insert(Delivery)
                .values(
                    kind=kind, recipient_id=chat_id, business_key=business_key, payload=payload, job_id=job_id
                )
                .on_conflict_do_nothing(index_elements=["kind", "recipient_id", "business_key"])
            )
            row = (
                await session.execute(
                    select(*_ROW_COLUMNS).where(
                        Delivery.kind == kind,
                        Delivery.recipient_id == chat_id,
                        Delivery.business_key == business_key,
                    )
                )
            ).one()
        return _Row(row.id, DeliveryStatus(row.status), row.job_id, row.telegram_message_id, row.error)

    async def _resolve_own_claim(self, row: _Row, job_id: str | None) -> _Row:
        """A row left in `sending` by an earlier try of this very job: that try died mid-send (arq re-runs
        a job only after its previous run ended), so the outcome is unknown at once, never resent."""
        if row.status is not DeliveryStatus.SENDING or job_id is None or row.job_id != job_id:
            return row
        async with self.session_factory.begin() as session:
            await session.execute(
                update(Delivery)
                .where(
                    Delivery.id == row.id,
                    Delivery.status == DeliveryStatus.SENDING,
                    Delivery.job_id == job_id,
                )
                .values(status=DeliveryStatus.UNKNOWN, error="an earlier try of the job died while sending")
            )
        log.warning("delivery outcome unknown after a crashed try", delivery_id=row.id, job_id=job_id)
        return await self._load(row.id)

    async def _claim(self, delivery_id: int, job_id: str | None) -> bool:
        """pending → sending, atomically; False if another run has it or it is already finished."""
        async with self.session_factory.begin() as session:
            claimed = await session.scalar(
                update(Delivery)
                .where(Delivery.id == delivery_id, Delivery.status == DeliveryStatus.PENDING)
                .values(
                    status=DeliveryStatus.SENDING,
                    attempts=Delivery.attempts + 1,
                    claimed_at=dt.datetime.now(dt.UTC),
                    job_id=job_id,
                )
                .returning(Delivery.id)
            )
        return claimed is not None

    async def _load(self, delivery_id: int) -> _Row:
        async with self.session_factory() as session:
            row = (await session.execute(select(*_ROW_COLUMNS).where(Delivery.id == delivery_id))).one()
        return _Row(row.id, DeliveryStatus(row.status), row.job_id, row.telegram_message_id, row.error)

    async def _refuse(self, delivery_id: int, reason: str, on_finish: FinishHook | None) -> DeliveryResult:
        if not await self._claim(delivery_id, None):
            return _duplicate(await self._load(delivery_id))
        return await self._finish(delivery_id, DeliveryStatus.FAILED, error=reason, on_finish=on_finish)

    async def _finish(
        self,
        delivery_id: int,
        status: DeliveryStatus,
        *,
        telegram_message_id: int | None = None,
        error: str | None = None,
        on_finish: FinishHook | None = None,
    ) -> DeliveryResult:
        now = dt.datetime.now(dt.UTC)
        async with self.session_factory.begin() as session:
            await session.execute(
                update(Delivery)
                .where(Delivery.id == delivery_id)
                .values(
                    status=status,
                    telegram_message_id=telegram_message_id,
                    error=error,
                    sent_at=now if status is DeliveryStatus.SENT else None,
                )
            )
            if on_finish is not None and status in FINAL_STATUSES:
                await on_finish(session, status)
        return DeliveryResult(status, delivery_id, telegram_message_id, error=error)

    async def _failed(
        self, delivery_id: int, chat_id: int, error: Exception, on_finish: FinishHook | None
    ) -> DeliveryResult:
        text = redact(f"{type(error).__name__}: {error}")
        if isinstance(error, TelegramRetryAfter):
            # The 429 does not say which limit was hit; our per-chat limit is stricter than Telegram's, so
            # it is most likely the bot-wide one: every worker waits retry_after, as Telegram asks.
            await self.limiter.penalize(error.retry_after, chat_id, everyone=True)
            await self._finish(delivery_id, DeliveryStatus.PENDING, error=text)
            raise error
        if isinstance(error, TelegramForbiddenError):
            async with self.session_factory.begin() as session:
                await mark_blocked(session, chat_id, dt.datetime.now(dt.UTC))
            return await self._finish(delivery_id, DeliveryStatus.BLOCKED, error=text, on_finish=on_finish)
        if isinstance(error, TelegramBadRequest | TelegramEntityTooLarge):
            return await self._finish(delivery_id, DeliveryStatus.FAILED, error=text, on_finish=on_finish)
        if isinstance(error, TelegramServerError | TelegramUnauthorizedError) or _never_reached_telegram(
            error
        ):
            await self._finish(delivery_id, DeliveryStatus.PENDING, error=text)
            raise RetryableError(text) from error
        if isinstance(error, TelegramNetworkError):
            log.warning("delivery outcome unknown", delivery_id=delivery_id, error=text)
            return await self._finish(delivery_id, DeliveryStatus.UNKNOWN, error=text, on_finish=on_finish)
        if isinstance(error, TelegramAPIError):
            # Telegram answered (404, 409, a migrated group, ...): the message was not sent; no retry.
            return await self._finish(delivery_id, DeliveryStatus.FAILED, error=text, on_finish=on_finish)
        # Anything else (a bug, a database error) leaves the row in sending for the reconciler.
        raise error

    # --- the reconciler -----------------------------------------------------------------------------------

    async def reconcile(
        self,
        redis: Redis,
        *,
        stuck_after: float,
        pending_after: float,
        expire_after: float = 86_400,
        max_attempts: int = 10,
        requeue: Callable[[int, int], Awaitable[object]] | None = None,
        skip_kinds: Collection[str] = ("broadcast",),
        limit: int = 500,
    ) -> ReconcileReport:
        """Repair the ledger after crashes and lost jobs; safe to run anywhere, any number of times.

        - `sending` rows claimed more than `stuck_after` seconds ago: their run died in the send window
          (longer than any request may take) → unknown, never resent.
        - `pending` rows untouched for `pending_after` seconds whose job vanished (no arq job, in-progress
          or result key, no dead letter: Redis was lost or flushed) → `requeue(delivery_id, attempts)`;
          after `max_attempts` claims → failed. Rows of a job that ended (a dead letter) are left to the
          operator (`mluv jobs retry`).
        - `pending` rows older than `expire_after` seconds → failed (a reminder a day late is noise).
        Kinds in `skip_kinds` (broadcasts: resumed as a whole) are not requeued or expired.
        """
        now = dt.datetime.now(dt.UTC)
        skip = list(skip_kinds)
        async with self.session_factory.begin() as session:
            stuck = (
                await session.execute(
                    update(Delivery)
                    .where(
                        Delivery.status == DeliveryStatus.SENDING,
                        Delivery.claimed_at < now - dt.timedelta(seconds=stuck_after),
                    )
                    .values(
                        status=DeliveryStatus.UNKNOWN,
                        error="no outcome recorded: the sending run died (reconciler)",
                    )
                    .returning(Delivery.id, Delivery.kind, Delivery.business_key)
                )
            ).all()
            expired = (
                await session.scalars(
                    update(Delivery)
                    .where(
                        Delivery.status == DeliveryStatus.PENDING,
                        Delivery.created_at < now - dt.timedelta(seconds=expire_after),
                        Delivery.kind.not_in(skip),
                    )
                    .values(
                        status=DeliveryStatus.FAILED, error=f"expired: pending for over {expire_after:.0f} s"
                    )
                    .returning(Delivery.id)
                )
            ).all()
        async with self.session_factory() as session:
            candidates = (
                await session.execute(
                    select(Delivery.id, Delivery.job_id, Delivery.attempts)
                    .where(
                        Delivery.status == DeliveryStatus.PENDING,
                        Delivery.updated_at < now - dt.timedelta(seconds=pending_after),
                        Delivery.kind.not_in(skip),
                    )
                    .order_by(Delivery.id)
                    .limit(limit)
                )
            ).all()
            job_ids = sorted({row.job_id for row in candidates if row.job_id})
            ended = (
                set(
                    (
                        await session.scalars(select(JobFailure.job_id).where(JobFailure.job_id.in_(job_ids)))
                    ).all()
                )
                if job_ids
                else set()
            )
        known = await jobs_known(redis, job_ids)
        requeued: list[int] = []
        gave_up: list[int] = []
        for row in candidates:
            if row.job_id and (row.job_id in known or row.job_id in ended):
                continue
            if row.attempts >= max_attempts:
                gave_up.append(row.id)
            elif requeue is not None:
                await requeue(row.id, row.attempts)
                requeued.append(row.id)
        if gave_up:
            async with self.session_factory.begin() as session:
                await session.execute(
                    update(Delivery)
                    .where(Delivery.id.in_(gave_up), Delivery.status == DeliveryStatus.PENDING)
                    .values(status=DeliveryStatus.FAILED, error=f"gave up after {max_attempts} attempts")
                )
        report = ReconcileReport(
            unknown=tuple(row.id for row in stuck),
            requeued=tuple(requeued),
            expired=tuple(expired),
            gave_up=tuple(gave_up),
            unknown_keys=tuple(sorted({(row.kind, row.business_key) for row in stuck})),
        )
        if stuck or requeued or expired or gave_up:
            log.warning(
                "delivery ledger reconciled",
                unknown=len(stuck),
                requeued=len(requeued),
                expired=len(expired),
                gave_up=len(gave_up),
            )
        return report


def _duplicate(row: _Row) -> DeliveryResult:
    return DeliveryResult(row.status, row.id, row.telegram_message_id, duplicate=True, error=row.error)


def _combine(results: list[DeliveryResult]) -> DeliveryResult:
    """One result for a split text: the first part that was not sent decides the status."""
    first = results[0]
    deciding = next((r for r in results if r.status is not DeliveryStatus.SENT), results[-1])
    last_sent = next((r for r in reversed(results) if r.telegram_message_id is not None), None)
    return DeliveryResult(
        status=deciding.status,
        delivery_id=first.delivery_id,
        telegram_message_id=last_sent.telegram_message_id if last_sent else None,
        duplicate=all(r.duplicate for r in results),
        error=deciding.error,
        parts=tuple(results),
    )


def _markup_json(markup: InlineKeyboardMarkup | None) -> dict[str, Any] | None:
    return markup.model_dump(mode="json", exclude_none=True) if markup is not None else None


def _never_reached_telegram(error: Exception) -> bool:
    # aiogram wraps aiohttp's ClientConnectorError as "ClientConnectorError: ..." (connect phase only).
    return isinstance(error, TelegramNetworkError) and "ClientConnectorError" in str(error)


# --- sends that bypass the Sender -------------------------------------------------------------------------

_PACED: ContextVar[bool] = ContextVar("mluv_paced", default=False)

# Messages to a chat count against Telegram's limits; edits count against the chat's only.
SENDS: tuple[type[TelegramMethod[Any]], ...] = (
    methods.SendMessage,
    methods.SendPhoto,
    methods.SendDocument,
    methods.SendMediaGroup,
    methods.CopyMessage,
    methods.ForwardMessage,
)
EDITS: tuple[type[TelegramMethod[Any]], ...] = (
    methods.EditMessageText,
    methods.EditMessageCaption,
    methods.EditMessageReplyMarkup,
)
DIRECT_MAX_WAIT = 5.0  # a handler's reply waits at most this for its turn, then counts as a 429


@contextlib.contextmanager
def paced() -> Iterator[None]:
    """Requests in this block were paced by their caller (the Sender): PacedRequests lets them through."""
    token = _PACED.set(True)
    try:
        yield
    finally:
        _PACED.reset(token)


class PacedRequests(BaseRequestMiddleware):
    """aiogram request middleware: a send the Sender did not pace (a handler's reply, the flood notice)
    waits for its turn in the shared limiter too, and a 429 it gets penalizes the limiter.

    Without it a learner flooding the bot got replies outside the schedule, Telegram answered the next
    worker send to that chat 429, and since the Sender reads a 429 as bot-wide, every broadcast paused
    (bench/chaos.py flooding-learner). A turn further than DIRECT_MAX_WAIT raises TelegramRetryAfter, as
    Telegram would have: handlers already treat that as "skip this reply".
    """

    def __init__(self, limiter: RateLimiter, max_wait: float = DIRECT_MAX_WAIT) -> None:
        self.limiter = limiter
        self.max_wait = max_wait

    async def __call__(
        self,
        make_request: NextRequestMiddlewareType[TelegramType],
        bot: Bot,
        method: TelegramMethod[TelegramType],
    ) -> Response[TelegramType]:
        chat_id = getattr(method, "chat_id", None)
        edit = isinstance(method, EDITS)
        if _PACED.get() or not isinstance(chat_id, int) or not (edit or isinstance(method, SENDS)):
            return await make_request(bot, method)
        try:
            await self.limiter.acquire(chat_id, use_global=not edit, max_wait=self.max_wait)
        except RateLimited as error:
            raise TelegramRetryAfter(method, str(error), math.ceil(error.retry_after)) from error
        try:
            return await make_request(bot, method)
        except TelegramRetryAfter as error:
            await self.limiter.penalize(error.retry_after, chat_id, everyone=not edit)
            raise
