"""The Sender: every message a job sends goes through here, rate-limited and at most once per business key.

A send records its message in the delivery ledger (mluv.telegram.ledger: one row per (kind, recipient,
business key)) if it is new (pending), waits for its turn in the shared rate limiter
(mluv.telegram.ratelimit), claims the row atomically (pending → sending) and only then calls Telegram;
the answer sets the final state. A re-run job finds the row claimed or finished and does not send again.
`sendMessage` has no idempotency key, so a send whose answer never came (read timeout, a crash in the
send window) ends `unknown`: it may have been delivered, and it is never resent automatically.

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

Over-long texts (mluv.domain.telegram_text): a text over 4096 characters (UTF-16 code units, as Telegram
counts them) without parse_mode is split at paragraph, line or word boundaries; each part is its own ledger
row with the business key suffixed `#1`, `#2`, ... and parts go out in order, stopping at the first that is
not sent. With a parse_mode the text is refused (failed) when its visible length is over the limit: markup
cannot be split safely. Captions over 1024 characters are refused."""

from __future__ import annotations

import datetime as dt
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from aiogram import Bot
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
from aiogram.types import BufferedInputFile, InlineKeyboardMarkup, Message, ReplyParameters
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from mluv.db.learners import mark_blocked
from mluv.db.models import DeliveryStatus
from mluv.domain.telegram_text import TELEGRAM_CAPTION_LIMIT, TELEGRAM_TEXT_LIMIT, split_text, visible_length
from mluv.jobs.retry import RetryableError
from mluv.logs import get_logger, redact
from mluv.telegram import ledger
from mluv.telegram.finishing import Claimer, Finisher
from mluv.telegram.ledger import FinishHook
from mluv.telegram.pacing import paced
from mluv.telegram.ratelimit import RateLimited, RateLimiter

log = get_logger(__name__)

# Bounds the send window (claim → answer); kept below a fast job's timeout so the job's own timeout does
# not cut a request in flight (which would leave the row unknown).
DEFAULT_REQUEST_TIMEOUT = 15
# Longest wait for a rate-limit slot inside a job; longer waits give the worker back (RateLimited).
DEFAULT_MAX_WAIT = 10.0

# One Telegram request of a send; returns the sent message's id.
Call = Callable[[], Awaitable[int]]


@dataclass(frozen=True)
class DeliveryResult:
    status: DeliveryStatus
    delivery_id: int
    telegram_message_id: int | None = None
    duplicate: bool = False  # the business key was already claimed or finished: nothing was sent now
    error: str | None = None
    parts: tuple[DeliveryResult, ...] = ()  # a split text: one result per part (ledger row), in order


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
        # Claims and final states in groups (mluv.telegram.finishing).
        self.claimer, self.finisher = Claimer(session_factory), Finisher(session_factory)

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
        refusal = None
        if not text.strip():
            refusal = "text is empty"
        elif length > TELEGRAM_TEXT_LIMIT and parse_mode is not None:
            # Splitting could cut a tag or an entity in half; Telegram would answer 400 anyway.
            refusal = (
                f"text of {length} characters with parse_mode {parse_mode} is over {TELEGRAM_TEXT_LIMIT}"
                " and cannot be split safely"
            )
        split = refusal is None and length > TELEGRAM_TEXT_LIMIT
        parts = split_text(text) if split else [text]
        results: list[DeliveryResult] = []
        for index, part in enumerate(parts, start=1):
            # The reply goes on the first part, the keyboard on the last.
            reply_to = reply_to_message_id if index == 1 else None
            markup = reply_markup if index == len(parts) else None
            payload = ledger.text_payload(
                part,
                parse_mode,
                reply_to_message_id=reply_to,
                reply_markup=_markup_json(markup),
                part=(index, len(parts)) if split else None,
            )
            call = self._text_call(chat_id, part, parse_mode, reply_to, markup)
            key = f"{business_key}#{index}" if split else business_key
            result = await self._send_new(kind, chat_id, key, payload, call, job_id, on_finish, refusal)
            results.append(result)
            if result.status is not DeliveryStatus.SENT:
                break  # a later part without the earlier one makes no sense; a retry resumes here
        return _combine(results) if split else results[0]

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
        payload = ledger.photo_payload(photo, caption, parse_mode, _markup_json(reply_markup))
        refusal = None
        if caption is not None and visible_length(caption, parse_mode) > TELEGRAM_CAPTION_LIMIT:
            refusal = (
                f"caption of {visible_length(caption, parse_mode)} characters > {TELEGRAM_CAPTION_LIMIT}"
            )
        elif not photo:
            refusal = "photo is empty"
        call = self._call(
            self.bot.send_photo,
            chat_id=chat_id,
            photo=BufferedInputFile(photo, filename) if isinstance(photo, bytes) else photo,
            caption=caption,
            parse_mode=parse_mode,
            reply_markup=reply_markup,
        )
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
        paid: bool = False,
    ) -> DeliveryResult:
        """Send an existing pending ledger row (created in bulk, e.g. a broadcast's recipients); `paid`:
        with allow_paid_broadcast, paced on the limiter's paid schedule (a paid broadcast)."""
        call = self._text_call(chat_id, text, parse_mode, None, None, paid=paid)
        return await self._deliver_row(delivery_id, chat_id, call, job_id, on_finish, paid=paid)

    async def redeliver(self, delivery_id: int, *, job_id: str | None = None) -> DeliveryResult | None:
        """Send a pending row again from its stored payload (the reconciler's requeue); None if no row."""
        found = await ledger.stored(self.session_factory, delivery_id)
        if found is None:
            return None
        current = await ledger.settle_own_claim(self.session_factory, found.row, job_id)
        if current.status is not DeliveryStatus.PENDING:
            return _duplicate(current)
        payload, chat_id = found.payload, found.recipient_id
        method = payload.get("method", "sendMessage")
        markup = payload.get("reply_markup")
        reply_markup = InlineKeyboardMarkup.model_validate(markup) if markup else None
        call: Call | None = None
        if method == "sendMessage" and payload.get("text"):
            call = self._text_call(
                chat_id,
                payload["text"],
                payload.get("parse_mode"),
                payload.get("reply_to_message_id"),
                reply_markup,
            )
        elif method == "sendPhoto" and payload.get("photo"):
            call = self._call(
                self.bot.send_photo,
                chat_id=chat_id,
                photo=payload["photo"],
                caption=payload.get("caption"),
                parse_mode=payload.get("parse_mode"),
                reply_markup=reply_markup,
            )
        if call is None:
            return await self._refuse(
                current.id, f"cannot redeliver a {method} from the ledger: content not kept", None
            )
        return await self._deliver_row(current.id, chat_id, call, job_id, None)

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

    # --- one send: the ledger around the Telegram call ------------------------------------------------

    def _call(self, method: Callable[..., Awaitable[Message]], **arguments: Any) -> Call:
        """One request (bot.send_message, bot.send_photo) with the Sender's timeout; the message's id."""

        async def call() -> int:
            sent = await method(**arguments, request_timeout=self.request_timeout)
            return sent.message_id

        return call

    def _text_call(
        self,
        chat_id: int,
        text: str,
        parse_mode: str | None,
        reply_to_message_id: int | None,
        reply_markup: InlineKeyboardMarkup | None,
        paid: bool = False,
    ) -> Call:
        reply = (
            ReplyParameters(message_id=reply_to_message_id, allow_sending_without_reply=True)
            if reply_to_message_id
            else None
        )
        return self._call(
            self.bot.send_message,
            chat_id=chat_id,
            text=text,
            parse_mode=parse_mode,
            reply_markup=reply_markup,
            reply_parameters=reply,
            # Bot API 7.11 (aiogram's docstring): "Pass True to allow up to 1000 messages per second, ignoring
            # broadcasting limits for a fee of 0.1 Telegram Stars per message" (from the bot's balance).
            allow_paid_broadcast=True if paid else None,
        )

    async def _send_new(
        self,
        kind: str,
        chat_id: int,
        business_key: str,
        payload: dict[str, Any],
        call: Call,
        job_id: str | None,
        on_finish: FinishHook | None,
        refusal: str | None,
    ) -> DeliveryResult:
        row = await ledger.prepare(
            self.session_factory,
            kind=kind,
            recipient_id=chat_id,
            business_key=business_key,
            payload=payload,
            job_id=job_id,
        )
        row = await ledger.settle_own_claim(self.session_factory, row, job_id)
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
        call: Call,
        job_id: str | None,
        on_finish: FinishHook | None,
        paid: bool = False,
    ) -> DeliveryResult:
        # Wait for the turn first, claim second: the row is in `sending` only for the Telegram round trip.
        waited = await self.limiter.wait_turn(chat_id, max_wait=self.max_wait, paid=paid)
        if not await self.claimer.claim(delivery_id, job_id):
            return _duplicate(await ledger.load(self.session_factory, delivery_id))
        try:
            # Departure after the claim (a database round trip): a 429 that landed since our slot was
            # booked, even during the claim, is sat out here, with the row claimed.
            await self.limiter.depart(chat_id, max_wait=self.max_wait, waited=waited, paid=paid)
        except RateLimited:
            await ledger.release(self.session_factory, delivery_id, "rate limited before sending")
            raise
        except Exception as error:
            # The limiter's Redis is unreachable: nothing was sent, so the row goes back to pending
            # (left in `sending` it would end `unknown` and never be sent: bench/chaos.py redis-stopped-30s).
            text = redact(f"{type(error).__name__}: {error}")
            await ledger.release(self.session_factory, delivery_id, f"before sending: {text}")
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

    async def _refuse(self, delivery_id: int, reason: str, on_finish: FinishHook | None) -> DeliveryResult:
        if not await self.claimer.claim(delivery_id, None):
            return _duplicate(await ledger.load(self.session_factory, delivery_id))
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
        await self.finisher.finish(ledger.Final(delivery_id, status, telegram_message_id, error), on_finish)
        return DeliveryResult(status, delivery_id, telegram_message_id, error=error)

    async def _failed(
        self, delivery_id: int, chat_id: int, error: Exception, on_finish: FinishHook | None
    ) -> DeliveryResult:
        """The error policy (module docstring): the row's state, and whether the job retries."""
        text = redact(f"{type(error).__name__}: {error}")
        if isinstance(error, TelegramRetryAfter):
            # The 429 does not say which limit was hit; our per-chat limit is stricter than Telegram's, so it
            # is most likely the bot-wide one: every worker waits retry_after, as Telegram asks.
            await self.limiter.penalize(error.retry_after, chat_id, everyone=True)
            await ledger.release(self.session_factory, delivery_id, text)
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
            await ledger.release(self.session_factory, delivery_id, text)
            raise RetryableError(text) from error
        if isinstance(error, TelegramNetworkError):
            log.warning("delivery outcome unknown", delivery_id=delivery_id, error=text)
            return await self._finish(delivery_id, DeliveryStatus.UNKNOWN, error=text, on_finish=on_finish)
        if isinstance(error, TelegramAPIError):
            # Telegram answered (404, 409, a migrated group, ...): the message was not sent; no retry.
            return await self._finish(delivery_id, DeliveryStatus.FAILED, error=text, on_finish=on_finish)
        # Anything else (a bug, a database error) leaves the row in sending for the reconciler.
        raise error


def _duplicate(row: ledger.Row) -> DeliveryResult:
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
