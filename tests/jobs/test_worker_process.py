"""Workers as operators run them: `mluv worker` in subprocesses, real PostgreSQL and Redis.

These pin the promises of the jobs framework under crashes and deploys (see DESIGN.md §3, §6): a job
enqueued by bot-side code runs and its result is readable; a SIGKILLed job runs again within a minute
and completes once; SIGTERM lets a running job finish; retries follow the backoff, then a dead letter that
`mluv jobs retry` re-enqueues; a pickled payload never executes; cron runs once per tick with three
workers; a missed daily run is caught up once.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import itertools
import json
import os
import pickle
import signal
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from arq.connections import ArqRedis
from arq.jobs import Job
from redis.asyncio import Redis
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from mluv.db.models import CronRun, JobFailure
from mluv.jobs.connections import create_arq_pool
from mluv.jobs.cron import CATCH_UP_GRACE
from mluv.jobs.queues import Queue
from mluv.jobs.run import arq_max_tries
from mluv.jobs.serializer import deserialize
from tests.jobs import sample_jobs
from tests.jobs.sample_jobs import key

pytestmark = [pytest.mark.integration, pytest.mark.slow]

REPO_ROOT = Path(__file__).resolve().parents[2]
BOT_TOKEN = "987654321:AAFakeTokenForRedactionTests_abcdefghij"
BIN = Path(sys.executable).parent


class WorkerProcess:
    """One worker process as deployed (`mluv worker [--queue long]`), its output in a log file."""

    def __init__(
        self,
        env: dict[str, str],
        log_path: Path,
        target: str = "workers.WorkerSettings",
        plain_arq: bool = False,
    ) -> None:
        self.log_path = log_path
        self._log = log_path.open("wb")
        queue = "long" if "Long" in target else "fast"
        self.process = subprocess.Popen(
            [str(BIN / "arq"), target] if plain_arq else [str(BIN / "mluv"), "worker", "--queue", queue],
            cwd=REPO_ROOT,
            env=env,
            stdout=self._log,
            stderr=subprocess.STDOUT,
        )

    def output(self) -> str:
        return self.log_path.read_text(errors="replace")

    async def started(self, timeout: float = 30) -> None:
        await wait_for(
            lambda: "worker started" in self.output(), timeout, what=f"worker start\n{self.output()}"
        )

    def signal(self, sig: signal.Signals) -> None:
        self.process.send_signal(sig)

    async def exited(self, timeout: float = 60) -> int:
        await wait_for(lambda: self.process.poll() is not None, timeout, what="worker exit")
        return self.process.returncode

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait(10)
        self._log.close()


async def wait_for(
    condition: Callable[[], Any], timeout: float, *, what: str, interval: float = 0.05
) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        await asyncio.sleep(interval)
    raise AssertionError(f"timed out after {timeout} s waiting for {what}")


async def entries(redis: Redis, list_key: str) -> list[bytes]:
    values: list[bytes] = await redis.lrange(list_key, 0, -1)  # type: ignore[misc]
    return values


async def wait_for_async(condition: Callable[[], Any], timeout: float, *, what: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if await condition():
            return
        await asyncio.sleep(0.05)
    raise AssertionError(f"timed out after {timeout} s waiting for {what}")


async def dead_letter_of(session_factory: async_sessionmaker[AsyncSession], job_id: str) -> JobFailure | None:
    async with session_factory() as session:
        row: JobFailure | None = await session.scalar(select(JobFailure).where(JobFailure.job_id == job_id))
        return row


async def side_effect_at_try(
    pool: ArqRedis,
    session_factory: async_sessionmaker[AsyncSession],
    worker: WorkerProcess,
    token: str,
    job_try: int,
) -> JobFailure:
    """Enqueue sample_side_effect as if its worker had died at every try before `job_try`; its dead letter."""
    job = await pool.enqueue_job("sample_side_effect", token=token, _job_try=job_try)
    assert job is not None

    def dead_letter() -> Awaitable[JobFailure | None]:
        return dead_letter_of(session_factory, job.job_id)

    await wait_for_async(dead_letter, 20, what=f"dead letter\n{worker.output()}")
    failure = await dead_letter()
    assert failure is not None
    assert (failure.job_name, failure.tries, failure.arguments) == (
        "sample_side_effect",
        job_try,
        {"token": token},
    )
    return failure


def retry_cli(env: dict[str, str], failure_id: int) -> subprocess.CompletedProcess[str]:
    """`mluv jobs retry ID`, as an operator runs it."""
    return subprocess.run(
        [str(BIN / "mluv"), "jobs", "retry", str(failure_id)],
        cwd=REPO_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


@pytest.fixture
def worker_env(database_url: str, redis_url: str, tmp_path: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("BOT_", "WEBHOOK_", "TELEGRAM_"))}
    env.update(
        ENVIRONMENT="test",
        DATABASE_URL=database_url,
        REDIS_URL=redis_url,
        DATA_DIR=str(tmp_path / "data"),
        EXTRA_JOB_MODULES="tests.jobs.sample_jobs",
        LOG_JSON="true",
        # A closed local port: the health check's Telegram probe fails fast instead of waiting on DNS.
        TELEGRAM_API_BASE="http://127.0.0.1:9",
        PYTHONPATH=str(REPO_ROOT),
    )
    return env


@pytest.fixture
def spawn(worker_env: dict[str, str], tmp_path: Path) -> Iterator[Callable[..., WorkerProcess]]:
    processes: list[WorkerProcess] = []

    def start(
        target: str = "workers.WorkerSettings", plain_arq: bool = False, **extra_env: str
    ) -> WorkerProcess:
        log_path = tmp_path / f"worker-{len(processes)}.log"
        worker = WorkerProcess({**worker_env, **extra_env}, log_path, target, plain_arq)
        processes.append(worker)
        return worker

    yield start
    for worker in processes:
        worker.stop()


@pytest.fixture
async def pool(redis_url: str, redis: Redis) -> AsyncIterator[ArqRedis]:
    arq_pool = await create_arq_pool(redis_url)
    yield arq_pool
    await arq_pool.aclose()


async def test_job_from_bot_side_code_runs_in_arq_worker(
    spawn: Callable[..., WorkerProcess], pool: ArqRedis, redis: Redis, clean_tables: None
) -> None:
    from workers.maintenance import ping

    worker = spawn()
    await worker.started()
    job = await ping.enqueue(pool, token="hello")
    assert job is not None
    result = await job.result(timeout=20, poll_delay=0.05)
    assert result["token"] == "hello"
    assert result["job_try"] == 1
    # The stored result is msgpack that any tool can read, not a pickle.
    raw = await redis.get(f"arq:result:{job.job_id}")
    assert raw is not None and raw[:1] != b"\x80"
    stored = deserialize(raw)
    assert stored["s"] is True and stored["r"]["token"] == "hello" and stored["f"] == "ping"
    # The worker's log line for the job carries its context (JSON lines, as in production).
    lines = [json.loads(line) for line in worker.output().splitlines() if line.startswith("{")]
    done = [line for line in lines if line.get("event") == "job done" and line.get("job_id") == job.job_id]
    assert len(done) == 1
    assert done[0]["job_name"] == "ping" and done[0]["job_try"] == 1 and done[0]["level"] == "info"


async def test_sigkilled_job_runs_again_within_a_minute_and_completes_once(
    spawn: Callable[..., WorkerProcess], pool: ArqRedis, redis: Redis, clean_tables: None
) -> None:
    first = spawn()
    await first.started()
    job = await sample_jobs.sample_slow.enqueue(pool, token="kill", seconds=3.0)
    assert job is not None
    await wait_for_async(lambda: redis.llen(key("kill", "started")), 20, what="job start")
    first.signal(signal.SIGKILL)
    killed_at = time.time()
    await first.exited()

    second = spawn()
    await second.started()
    await wait_for_async(lambda: redis.llen(key("kill", "finished")), 75, what="re-run to finish")
    started = [entry.decode().split(":") for entry in await entries(redis, key("kill", "started"))]
    assert [int(attempt) for attempt, _ in started] == [1, 2]
    rerun_delay = float(started[1][1]) - killed_at
    assert rerun_delay < 60, f"re-run only after {rerun_delay:.1f} s"
    await asyncio.sleep(1)
    assert await entries(redis, key("kill", "finished")) == [b"2"]
    assert (await job.result(timeout=5))["try"] == 2


async def test_sigterm_lets_the_running_job_finish_and_it_is_not_run_again(
    spawn: Callable[..., WorkerProcess], pool: ArqRedis, redis: Redis, clean_tables: None
) -> None:
    worker = spawn()
    await worker.started()
    job = await sample_jobs.sample_slow.enqueue(pool, token="term", seconds=2.0)
    assert job is not None
    await wait_for_async(lambda: redis.llen(key("term", "started")), 20, what="job start")
    worker.signal(signal.SIGTERM)
    assert await worker.exited(timeout=40) == 0
    assert await entries(redis, key("term", "finished")) == [b"1"]

    after = spawn()
    await after.started()
    await asyncio.sleep(2)
    assert len(await entries(redis, key("term", "started"))) == 1
    assert (await job.result(timeout=5))["try"] == 1


async def test_retryable_failure_follows_backoff_then_dead_letter_then_cli_retry(
    spawn: Callable[..., WorkerProcess],
    pool: ArqRedis,
    redis: Redis,
    clean_tables: None,
    session_factory: async_sessionmaker[AsyncSession],
    worker_env: dict[str, str],
) -> None:
    worker = spawn()
    await worker.started()
    job = await sample_jobs.sample_always_fails.enqueue(pool, token="flaky")
    assert job is not None
    job_id: str = job.job_id

    def dead_letter() -> Awaitable[JobFailure | None]:
        return dead_letter_of(session_factory, job_id)

    await wait_for_async(dead_letter, 40, what="dead letter")
    tries = [entry.decode().split(":") for entry in await entries(redis, key("flaky", "tries"))]
    assert [int(n) for n, _ in tries] == [1, 2, 3, 4]
    gaps = [float(b[1]) - float(a[1]) for a, b in itertools.pairwise(tries)]
    # Backoff 0.4 * 2**(try-1) s, no jitter: each gap is at least its delay (plus polling).
    for gap, delay in zip(gaps, [0.4, 0.8, 1.6], strict=True):
        assert delay <= gap < delay + 2.0, (gaps, delay)

    failure = await dead_letter()
    assert failure is not None
    assert failure.status == "open" and failure.tries == 4 and failure.job_name == "sample_always_fails"
    assert failure.arguments == {"token": "flaky"}
    assert failure.error == "ConnectionError: upstream unavailable"
    assert "Traceback" in (failure.traceback or "")
    # The stored arq result is a readable failure, not a pickled exception.
    with pytest.raises(Exception, match="ConnectionError: upstream unavailable"):
        await job.result(timeout=5)

    retry = retry_cli(worker_env, failure.id)
    assert retry.returncode == 0, retry.stderr
    assert f"{job.job_id}:retry{failure.id}" in retry.stdout
    await wait_for_async(
        lambda: _count_failures(session_factory, "sample_always_fails"), 40, what="second dead letter"
    )
    async with session_factory() as session:
        first = await session.get(JobFailure, failure.id)
        assert first is not None and first.status == "retried"
        assert first.retried_job_id == f"{job.job_id}:retry{failure.id}"
    again = retry_cli(worker_env, failure.id)
    assert again.returncode == 1 and "already retried" in again.stderr


async def test_a_job_arq_gives_up_without_calling_it_becomes_a_dead_letter_the_cli_retries(
    spawn: Callable[..., WorkerProcess],
    pool: ArqRedis,
    redis: Redis,
    clean_tables: None,
    session_factory: async_sessionmaker[AsyncSession],
    worker_env: dict[str, str],
) -> None:
    worker = spawn()
    await worker.started()
    # Past arq's max_tries (even the dead-letter-only try was cut): arq gives the job up without calling
    # it or any hook; mluv worker's on_given_up still writes the dead letter.
    failure = await side_effect_at_try(pool, session_factory, worker, "crashed", 99)
    assert "retries exceeded" in failure.error
    assert await redis.get(key("crashed", "ran")) is None
    given_up = [line for line in worker.output().splitlines() if "job given up without running" in line]
    assert len(given_up) == 1 and json.loads(given_up[0])["level"] == "error"

    retry = retry_cli(worker_env, failure.id)
    assert retry.returncode == 0, retry.stderr
    await wait_for_async(lambda: redis.get(key("crashed", "ran")), 20, what="the retried job to run")


async def _count_failures(session_factory: async_sessionmaker[AsyncSession], name: str) -> bool:
    async with session_factory() as session:
        rows = (await session.scalars(select(JobFailure).where(JobFailure.job_name == name))).all()
    return len(rows) >= 2


class _Exploit:
    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self) -> tuple[Any, ...]:
        return (Path.touch, (self.marker,))


async def test_plain_arq_worker_dead_letters_a_job_whose_tries_crashes_used_up(
    pool: ArqRedis,
    redis: Redis,
    spawn: Callable[..., WorkerProcess],
    session_factory: async_sessionmaker[AsyncSession],
) -> None:
    worker = spawn(plain_arq=True)  # `arq workers.WorkerSettings`: no WakingWorker, no on_given_up hook
    await worker.started()
    last = arq_max_tries(sample_jobs.sample_side_effect.retry)
    # As if the worker had died during every earlier try: arq's last try writes the dead letter only.
    failure = await side_effect_at_try(pool, session_factory, worker, "crashed-arq", last)
    assert failure.error.startswith("WorkerDied: not run again")
    assert await redis.get(key("crashed-arq", "ran")) is None
    arq_job = Job(failure.job_id, pool, _deserializer=pool.job_deserializer)

    async def result_stored() -> bool:
        return await arq_job.result_info() is not None

    # The dead letter is written inside the try; arq stores the failed result just after it returns.
    await wait_for_async(result_stored, 20, what=f"arq's result\n{worker.output()}")
    info = await arq_job.result_info()
    assert info is not None and info.success is False  # arq stores the failure: the job is finished


async def test_pickled_payload_in_the_queue_never_executes(
    spawn: Callable[..., WorkerProcess], redis: Redis, tmp_path: Path, clean_tables: None
) -> None:
    marker = tmp_path / "pwned"
    payload = pickle.dumps(
        {"t": 1, "f": "sample_side_effect", "a": [_Exploit(marker)], "k": {"token": "pickle"}, "et": 1}
    )
    now_ms = int(time.time() * 1000)
    await redis.set("arq:job:planted", payload)
    await redis.zadd(Queue.FAST.value, {"planted": now_ms})
    worker = spawn()
    await worker.started()
    await wait_for_async(
        lambda: _absent(redis, Queue.FAST.value, "planted"), 20, what="the planted job to be dropped"
    )
    assert not marker.exists()
    assert await redis.get(key("pickle", "ran")) is None
    stored = deserialize(await redis.get("arq:result:planted") or b"")
    assert stored["s"] is False and "deserialize" in str(stored["r"])


async def _absent(redis: Redis, queue: str, job_id: str) -> bool:
    return await redis.zscore(queue, job_id) is None


async def test_health_check_cron_runs_once_per_tick_with_three_workers(
    spawn: Callable[..., WorkerProcess],
    redis: Redis,
    clean_tables: None,
    session_factory: async_sessionmaker[AsyncSession],
) -> None:
    workers = [spawn(HEALTH_CHECK_CRON_SECONDS="2", BOT_TOKEN=BOT_TOKEN) for _ in range(3)]
    for worker in workers:
        await worker.started()
    started = dt.datetime.now(dt.UTC)
    await asyncio.sleep(9)
    for worker in workers:
        worker.signal(signal.SIGTERM)
    for worker in workers:
        await worker.exited()
    async with session_factory() as session:
        runs = (await session.scalars(select(CronRun).where(CronRun.cron_name == "health_check"))).all()
    ticks = {run.business_key for run in runs}
    # One row per 2-second tick while the workers ran, each claimed once.
    assert len(runs) == len(ticks) >= 3
    assert all(run.attempts == 1 and run.status == "succeeded" for run in runs), runs
    keys = sorted(ticks)
    for earlier, later in itertools.pairwise(keys):
        gap = dt.datetime.fromisoformat(later) - dt.datetime.fromisoformat(earlier)
        assert gap == dt.timedelta(seconds=2), keys
    assert all(dt.datetime.fromisoformat(k) >= started - dt.timedelta(seconds=3) for k in keys)
    # Every worker tried to schedule each tick; the body ran once per tick.
    executed = sum(worker.output().count('"job done"') for worker in workers)
    assert executed >= len(runs)
    # Telegram was unreachable on every run (a closed port), and the token never reached a log line.
    assert all(run.result and run.result["telegram"]["ok"] is False for run in runs)
    assert all(BOT_TOKEN not in worker.output() for worker in workers)
    assert any("127.0.0.1:9" in worker.output() for worker in workers)


async def test_missed_daily_run_is_caught_up_once(
    spawn: Callable[..., WorkerProcess],
    redis: Redis,
    clean_tables: None,
    session_factory: async_sessionmaker[AsyncSession],
) -> None:
    spec = sample_jobs.sample_daily
    now = dt.datetime.now(dt.UTC)
    tick = spec.previous_tick(now)
    assert tick is not None
    if now - tick < CATCH_UP_GRACE * 2:
        pytest.skip("too close to the daily tick: the scheduler itself would run it")
    # Two workers come back after an outage that spanned the tick: both try to catch it up.
    first, second = spawn(), spawn()
    await first.started()
    await second.started()
    await wait_for_async(lambda: redis.llen(key("daily", "runs")), 20, what="catch-up run")
    await asyncio.sleep(1.5)
    third = spawn()
    await third.started()
    await asyncio.sleep(1.5)
    assert await entries(redis, key("daily", "runs")) == [tick.date().isoformat().encode()]
    async with session_factory() as session:
        runs = (await session.scalars(select(CronRun).where(CronRun.cron_name == "sample_daily"))).all()
    assert [(run.business_key, run.status, run.attempts) for run in runs] == [
        (tick.date().isoformat(), "succeeded", 1)
    ]


LAZY_LIBRARIES = ("sqlalchemy", "asyncpg", "aiohttp")  # each has compiled extensions: seen in /proc maps


def libraries_loaded(pid: int) -> set[str]:
    """Which of LAZY_LIBRARIES a process has loaded (their extension modules are mapped in its memory)."""
    maps = Path(f"/proc/{pid}/maps").read_text()
    return {name for name in LAZY_LIBRARIES if f"/site-packages/{name}/" in maps}


async def test_a_worker_loads_the_database_libraries_with_the_first_job_that_uses_them(
    spawn: Callable[..., WorkerProcess], pool: ArqRedis, clean_tables: None
) -> None:
    from workers.maintenance import ping
    from workers.notifications import send_streak_reminder

    # The fast queue's crons (seconds 0 and 30) use the database: start just after a tick, not before one.
    await asyncio.sleep((2 - time.time()) % 30 if time.time() % 30 > 12 else 0)
    worker = spawn(EXTRA_JOB_MODULES="")
    first = await ping.enqueue(pool, token="first")
    assert first is not None
    assert (await first.result(timeout=20, poll_delay=0.05))["token"] == "first"
    assert libraries_loaded(worker.process.pid) == set()
    # An unknown learner: the job reads the database and sends nothing (no Bot, no aiohttp).
    reminder = await send_streak_reminder.enqueue(pool, user_id=404, day=dt.date(2024, 5, 6))
    assert reminder is not None
    assert (await reminder.result(timeout=20, poll_delay=0.05)) == {"skipped": "unknown learner"}
    assert libraries_loaded(worker.process.pid) == {"sqlalchemy", "asyncpg"}
