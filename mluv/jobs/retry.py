"""Retry policy per job, on top of arq's only retry mechanism: raising `Retry(defer=...)`.

arq retries a job only when it raises `Retry` (or is cancelled); any other exception fails it at once.
A policy decides, for an exception on a given try, whether to retry and after how long: exponential
backoff with jitter, or exactly the `retry_after` that Telegram sent with a 429.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass, field

# PostgreSQL states that pass with time: connection exceptions (08), the server shutting down or starting
# up (57P01-57P03: a restart, a failover), too many connections (53300).
TRANSIENT_SQLSTATES = ("08", "57P01", "57P02", "57P03", "53300")


class RetryableError(Exception):
    """Raise from a job to ask for a retry with the policy's backoff, whatever its `retry_on` says."""


def is_transient(error: BaseException) -> bool:
    """An infrastructure hiccup worth another try: network, Redis, or a lost database connection.

    SQLAlchemy wraps asyncpg's "connection was closed in the middle of operation" (a server restart, a
    failover, pg_terminate_backend) as a bare DBAPIError with `connection_invalidated`, not as an
    OperationalError: matching on classes alone made such jobs fail at once (bench/chaos.py,
    postgres-dropped-20s). A statement error (IntegrityError, DataError, ...) is not transient. Opening a
    connection while the server restarts raises asyncpg's own CannotConnectNowError, unwrapped: states
    are read from the error, its `orig` and its cause.
    """
    from redis.exceptions import ConnectionError as RedisConnectionError
    from redis.exceptions import TimeoutError as RedisTimeoutError
    from sqlalchemy.exc import DBAPIError, InterfaceError, InternalError, OperationalError

    if isinstance(error, OSError | RedisConnectionError | RedisTimeoutError):  # OSError: TimeoutError too
        return True
    for carrier in (error, getattr(error, "orig", None), error.__cause__):
        state = getattr(carrier, "sqlstate", None)
        if isinstance(state, str) and state.startswith(TRANSIENT_SQLSTATES):
            return True
    if isinstance(error, DBAPIError):
        # InternalError: asyncpg's "cannot switch to state" on a connection broken mid-operation.
        lost = error.connection_invalidated
        return lost or isinstance(error, OperationalError | InterfaceError | InternalError)
    return False


def retry_after_of(error: BaseException) -> float | None:
    """Seconds Telegram asked us to wait (aiogram's TelegramRetryAfter carries `retry_after`)."""
    value = getattr(error, "retry_after", None)
    return float(value) if isinstance(value, int | float) and value >= 0 else None


@dataclass(frozen=True, slots=True)
class RetryDecision:
    retry: bool
    defer: float = 0.0
    reason: str = ""


@dataclass(frozen=True)
class RetryPolicy:
    """Which exceptions retry, how many tries in all, and the backoff between them.

    Try n (1-based) that fails is retried after base * 2**(n-1) seconds, capped, +-jitter (a fraction).
    With base 10 and cap 160 the schedule is 10, 20, 40, 80, 160 s.
    """

    max_tries: int = 1
    retry_on: tuple[type[BaseException], ...] = ()
    # A predicate for what classes cannot say (e.g. is_transient); either it or retry_on may match.
    retry_if: Callable[[BaseException], bool] | None = field(default=None, compare=False)
    backoff_base: float = 10.0
    backoff_cap: float = 160.0
    jitter: float = 0.1
    # Honour Telegram's 429 retry_after exactly (arq: Retry(defer=retry_after)).
    obey_retry_after: bool = True
    rand: Callable[[], float] = field(default=random.random, compare=False, repr=False)

    def __post_init__(self) -> None:
        if self.max_tries < 1:
            raise ValueError("max_tries must be at least 1")
        if not 0 <= self.jitter < 1:
            raise ValueError("jitter must be in [0, 1)")
        if self.backoff_base < 0 or self.backoff_cap < self.backoff_base:
            raise ValueError("need 0 <= backoff_base <= backoff_cap")

    def backoff(self, job_try: int) -> float:
        """Delay before the try after `job_try` failed, with jitter."""
        # The exponent is bounded so a very late try cannot overflow a float before the cap applies.
        delay = min(self.backoff_cap, self.backoff_base * float(2 ** min(max(0, job_try - 1), 62)))
        if self.jitter:
            delay *= 1 + self.jitter * (2 * self.rand() - 1)
        return round(delay, 3)

    def is_retryable(self, error: BaseException) -> bool:
        if isinstance(error, RetryableError):
            return True
        if self.obey_retry_after and retry_after_of(error) is not None:
            return True
        if self.retry_if is not None and self.retry_if(error):
            return True
        return isinstance(error, self.retry_on) if self.retry_on else False

    def decide(self, error: BaseException, job_try: int) -> RetryDecision:
        if not self.is_retryable(error):
            return RetryDecision(False, reason="not retryable")
        if job_try >= self.max_tries:
            return RetryDecision(False, reason=f"max tries ({self.max_tries}) reached")
        wait = retry_after_of(error) if self.obey_retry_after else None
        if wait is not None:
            return RetryDecision(True, wait, reason="telegram retry_after")
        return RetryDecision(True, self.backoff(job_try), reason="backoff")


NO_RETRY = RetryPolicy(max_tries=1)


# --- the named policies: every job uses one of these (docs/jobs.md lists which) ---------------------------

# A message to a learner: a database, Redis or network blip, or a 429, retries 10, 20, 40, 80 s.
DELIVERY_RETRY = RetryPolicy(max_tries=5, retry_if=is_transient, backoff_base=10, backoff_cap=160)
# A broadcast and its batches: resumable, so retried sooner.
BROADCAST_RETRY = RetryPolicy(max_tries=5, retry_if=is_transient, backoff_base=5, backoff_cap=120)
# Statistics and reports for one learner, and the notification crons' batches.
BATCH_RETRY = RetryPolicy(max_tries=3, retry_if=is_transient, backoff_base=5, backoff_cap=60)
# Set-based crons over every learner and retention: a blip or a deploy must not cost the day's run.
MAINTENANCE_RETRY = RetryPolicy(max_tries=3, retry_if=is_transient, backoff_base=30, backoff_cap=300)
# Any other cron job (mluv.jobs.cron's default).
CRON_RETRY = RetryPolicy(max_tries=3, retry_if=is_transient, backoff_base=5)
# A review is cheap offline and the online reviewer falls back to it: only delivery problems retry.
REVIEW_RETRY = RetryPolicy(
    max_tries=5, retry_on=(ConnectionError, TimeoutError), backoff_base=2, backoff_cap=30
)
