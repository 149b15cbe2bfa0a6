"""Retry policies: backoff schedule, jitter bounds, and the retry decision per exception and try."""

from __future__ import annotations

import asyncio
import struct
from typing import Any

import pytest
from aiogram.exceptions import TelegramBadRequest, TelegramNetworkError, TelegramRetryAfter
from aiogram.methods import SendMessage
from asyncpg.exceptions import (
    AdminShutdownError,
    CannotConnectNowError,
    TooManyConnectionsError,
    UniqueViolationError,
)
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError
from sqlalchemy import text
from sqlalchemy.exc import (
    DataError,
    DBAPIError,
    IntegrityError,
    InterfaceError,
    InternalError,
    OperationalError,
)
from sqlalchemy.ext.asyncio import create_async_engine

from mluv.jobs.retry import NO_RETRY, RetryableError, RetryDecision, RetryPolicy, is_transient, retry_after_of


def flood(retry_after: int) -> TelegramRetryAfter:
    """What aiogram raises for Telegram's 429 Too Many Requests."""
    return TelegramRetryAfter(
        method=SendMessage(chat_id=42, text="Ahoj"),
        message="Too Many Requests: retry after 17",
        retry_after=retry_after,
    )


@pytest.mark.parametrize(
    ("job_try", "expected"),
    [(1, 10.0), (2, 20.0), (3, 40.0), (4, 80.0), (5, 160.0), (6, 160.0), (20, 160.0)],
)
def test_backoff_schedule_without_jitter(job_try: int, expected: float) -> None:
    policy = RetryPolicy(max_tries=10, backoff_base=10, backoff_cap=160, jitter=0)
    assert policy.backoff(job_try) == expected


@pytest.mark.parametrize(
    ("base", "cap", "schedule"),
    [
        (5, 60, [5, 10, 20, 40, 60]),
        (0.4, 100, [0.4, 0.8, 1.6, 3.2, 6.4]),
        (0, 0, [0, 0, 0, 0, 0]),
        (30, 30, [30, 30, 30, 30, 30]),
    ],
    ids=["base5-cap60", "fractional-base", "zero", "base-equals-cap"],
)
def test_backoff_other_schedules(base: float, cap: float, schedule: list[float]) -> None:
    policy = RetryPolicy(max_tries=10, backoff_base=base, backoff_cap=cap, jitter=0)
    assert [policy.backoff(n) for n in range(1, 6)] == schedule


def test_default_policy_schedule_is_10_to_160_with_jitter() -> None:
    policy = RetryPolicy(max_tries=6)
    for job_try, delay in enumerate([10, 20, 40, 80, 160], start=1):
        assert delay * 0.9 <= policy.backoff(job_try) <= delay * 1.1


@pytest.mark.parametrize(
    ("rand", "job_try", "expected"),
    [
        pytest.param(0.0, 1, 9.0, id="lowest-try1"),
        pytest.param(1.0, 1, 11.0, id="highest-try1"),
        pytest.param(0.5, 1, 10.0, id="middle-try1"),
        pytest.param(0.0, 5, 144.0, id="lowest-at-cap"),
        pytest.param(1.0, 5, 176.0, id="highest-at-cap"),
        pytest.param(0.25, 3, 38.0, id="quarter-try3"),
    ],
)
def test_jitter_bounds(rand: float, job_try: int, expected: float) -> None:
    policy = RetryPolicy(max_tries=10, backoff_base=10, backoff_cap=160, jitter=0.1, rand=lambda: rand)
    assert policy.backoff(job_try) == pytest.approx(expected)


def test_jitter_uses_rand_each_time() -> None:
    values = iter([0.0, 1.0, 0.5])
    policy = RetryPolicy(max_tries=10, jitter=0.5, rand=lambda: next(values))
    assert [policy.backoff(1), policy.backoff(1), policy.backoff(1)] == [5.0, 15.0, 10.0]


@pytest.mark.parametrize("job_try", [64, 1100, 100_000])
def test_backoff_stays_capped_for_a_very_late_try(job_try: int) -> None:
    # 2 ** (job_try - 1) must not overflow a float before the cap applies.
    policy = RetryPolicy(max_tries=job_try + 1, backoff_base=10, backoff_cap=160, jitter=0)
    assert policy.backoff(job_try) == 160.0
    assert policy.decide(RetryableError("x"), job_try) == RetryDecision(True, 160.0, "backoff")


# decide

RETRY_ON_NETWORK = RetryPolicy(
    max_tries=4, retry_on=(ConnectionError, TelegramNetworkError), backoff_base=10, backoff_cap=160, jitter=0
)


@pytest.mark.parametrize(
    ("policy", "error", "job_try", "expected"),
    [
        pytest.param(
            RETRY_ON_NETWORK,
            ValueError("bad input"),
            1,
            RetryDecision(False, reason="not retryable"),
            id="other",
        ),
        pytest.param(
            RETRY_ON_NETWORK, ConnectionError("reset"), 1, RetryDecision(True, 10.0, "backoff"), id="try1"
        ),
        pytest.param(
            RETRY_ON_NETWORK,
            ConnectionResetError("reset"),
            3,
            RetryDecision(True, 40.0, "backoff"),
            id="subclass",
        ),
        pytest.param(
            RETRY_ON_NETWORK,
            ConnectionError("reset"),
            4,
            RetryDecision(False, reason="max tries (4) reached"),
            id="at-max-tries",
        ),
        pytest.param(
            RETRY_ON_NETWORK,
            ConnectionError("reset"),
            7,
            RetryDecision(False, reason="max tries (4) reached"),
            id="past-max-tries",
        ),
        pytest.param(
            RETRY_ON_NETWORK,
            TelegramNetworkError(method=SendMessage(chat_id=1, text="x"), message="timeout"),
            2,
            RetryDecision(True, 20.0, "backoff"),
            id="telegram-network-error",
        ),
        pytest.param(
            RETRY_ON_NETWORK,
            TelegramBadRequest(method=SendMessage(chat_id=1, text="x"), message="chat not found"),
            1,
            RetryDecision(False, reason="not retryable"),
            id="telegram-bad-request",
        ),
        pytest.param(
            RETRY_ON_NETWORK,
            flood(17),
            1,
            RetryDecision(True, 17.0, "telegram retry_after"),
            id="retry-after",
        ),
        pytest.param(
            RetryPolicy(max_tries=3),
            flood(3),
            2,
            RetryDecision(True, 3.0, "telegram retry_after"),
            id="retry-after-without-retry-on",
        ),
        pytest.param(
            RetryPolicy(max_tries=3),
            flood(0),
            1,
            RetryDecision(True, 0.0, "telegram retry_after"),
            id="retry-after-zero",
        ),
        pytest.param(
            RETRY_ON_NETWORK,
            flood(17),
            4,
            RetryDecision(False, reason="max tries (4) reached"),
            id="retry-after-at-max-tries",
        ),
        pytest.param(
            RetryPolicy(max_tries=3, obey_retry_after=False, jitter=0),
            flood(17),
            1,
            RetryDecision(False, reason="not retryable"),
            id="retry-after-ignored",
        ),
        pytest.param(
            RetryPolicy(max_tries=3, retry_on=(TelegramRetryAfter,), obey_retry_after=False, jitter=0),
            flood(17),
            1,
            RetryDecision(True, 10.0, "backoff"),
            id="retry-after-ignored-but-retry-on",
        ),
        pytest.param(
            RetryPolicy(max_tries=3, jitter=0),
            RetryableError("try later"),
            1,
            RetryDecision(True, 10.0, "backoff"),
            id="retryable-error-without-retry-on",
        ),
        pytest.param(
            RetryPolicy(max_tries=3, retry_on=(KeyError,), jitter=0),
            RetryableError("try later"),
            2,
            RetryDecision(True, 20.0, "backoff"),
            id="retryable-error-other-retry-on",
        ),
        pytest.param(
            RetryPolicy(max_tries=3, jitter=0),
            RetryableError("try later"),
            3,
            RetryDecision(False, reason="max tries (3) reached"),
            id="retryable-error-at-max-tries",
        ),
        pytest.param(
            NO_RETRY,
            RetryableError("try later"),
            1,
            RetryDecision(False, reason="max tries (1) reached"),
            id="no-retry",
        ),
        pytest.param(
            NO_RETRY,
            ConnectionError("x"),
            1,
            RetryDecision(False, reason="not retryable"),
            id="no-retry-other",
        ),
    ],
)
def test_decide(policy: RetryPolicy, error: BaseException, job_try: int, expected: RetryDecision) -> None:
    assert policy.decide(error, job_try) == expected


class _CustomRetryAfter(Exception):
    def __init__(self, retry_after: Any) -> None:
        super().__init__("slow down")
        self.retry_after = retry_after


@pytest.mark.parametrize(
    ("error", "expected"),
    [
        pytest.param(flood(17), 17.0, id="telegram"),
        pytest.param(_CustomRetryAfter(2.5), 2.5, id="float"),
        pytest.param(_CustomRetryAfter(0), 0.0, id="zero"),
        pytest.param(_CustomRetryAfter(-1), None, id="negative"),
        pytest.param(_CustomRetryAfter("17"), None, id="string"),
        pytest.param(_CustomRetryAfter(None), None, id="none"),
        pytest.param(ValueError("x"), None, id="absent"),
    ],
)
def test_retry_after_of(error: BaseException, expected: float | None) -> None:
    assert retry_after_of(error) == expected


def test_real_telegram_retry_after_carries_the_value() -> None:
    error = flood(17)
    assert error.retry_after == 17
    assert "Retry in 17 seconds" in str(error)


@pytest.mark.parametrize(
    "kwargs",
    [
        pytest.param({"max_tries": 0}, id="zero-tries"),
        pytest.param({"max_tries": -1}, id="negative-tries"),
        pytest.param({"jitter": 1.0}, id="jitter-one"),
        pytest.param({"jitter": -0.1}, id="negative-jitter"),
        pytest.param({"backoff_base": -1.0}, id="negative-base"),
        pytest.param({"backoff_base": 100.0, "backoff_cap": 50.0}, id="cap-below-base"),
    ],
)
def test_invalid_policies_raise(kwargs: dict[str, Any]) -> None:
    with pytest.raises(ValueError, match=r"max_tries|jitter|backoff_base"):
        RetryPolicy(**kwargs)


def test_policy_is_frozen_and_comparable_without_rand() -> None:
    assert RetryPolicy(max_tries=3, rand=lambda: 0.0) == RetryPolicy(max_tries=3)
    with pytest.raises(AttributeError):
        RETRY_ON_NETWORK.max_tries = 9  # type: ignore[misc]


def _db(cls: type[DBAPIError], *, invalidated: bool = False, orig: Exception | None = None) -> DBAPIError:
    return cls(
        "UPDATE deliveries ...",
        {},
        orig or Exception("server closed the connection"),
        connection_invalidated=invalidated,
    )


@pytest.mark.parametrize(
    ("error", "transient"),
    [
        (OSError("network unreachable"), True),
        (TimeoutError(), True),
        (ConnectionRefusedError(), True),
        (RedisConnectionError("Connection refused"), True),
        (RedisTimeoutError("Timeout reading from socket"), True),
        # asyncpg's "connection was closed in the middle of operation", as SQLAlchemy wraps it
        (_db(DBAPIError, invalidated=True), True),
        (_db(OperationalError), True),
        (_db(InterfaceError), True),
        (_db(InternalError), True),
        (_db(IntegrityError), False),
        (_db(DataError), False),
        (_db(DBAPIError), False),
        # PostgreSQL restarting or failing over: raw from asyncpg on connect, or wrapped mid-statement
        (CannotConnectNowError("the database system is starting up"), True),
        (AdminShutdownError("terminating connection due to administrator command"), True),
        (TooManyConnectionsError("sorry, too many clients already"), True),
        (_db(DBAPIError, orig=AdminShutdownError("terminating connection")), True),
        (_db(IntegrityError, orig=UniqueViolationError("duplicate key")), False),
        (UniqueViolationError("duplicate key"), False),
        (ValueError("bad input"), False),
        (KeyError("user"), False),
    ],
    ids=lambda value: type(value).__name__ if isinstance(value, BaseException) else str(value),
)
def test_is_transient(error: BaseException, transient: bool) -> None:
    assert is_transient(error) is transient
    assert RetryPolicy(max_tries=3, retry_if=is_transient).is_retryable(error) is transient


async def test_a_server_starting_up_is_transient_as_the_engine_raises_it() -> None:
    """A listener that answers every connection like PostgreSQL starting up (SQLSTATE 57P03)."""

    async def starting_up(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        while True:
            (length,) = struct.unpack("!I", await reader.readexactly(4))
            body = await reader.readexactly(length - 4)
            if body[:4] != struct.pack("!I", 80877103):  # the startup message, not an SSLRequest
                break
            writer.write(b"N")
        fields = b"SFATAL\x00C57P03\x00Mthe database system is starting up\x00\x00"
        writer.write(b"E" + struct.pack("!I", len(fields) + 4) + fields)
        await writer.drain()
        writer.close()

    server = await asyncio.start_server(starting_up, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    engine = create_async_engine(f"postgresql+asyncpg://mluv@127.0.0.1:{port}/mluv")
    try:
        with pytest.raises(Exception) as raised:  # noqa: PT011 - the point is which type arrives
            async with engine.connect() as connection:
                await connection.execute(text("SELECT 1"))
        assert type(raised.value) is CannotConnectNowError  # unwrapped by SQLAlchemy
        assert is_transient(raised.value)
    finally:
        await engine.dispose()
        server.close()
        await server.wait_closed()
