"""Helpers for bench/chaos.py: worker subprocesses as deployed, a scenario's stage (a fresh database, a
flushed Redis, a Bot API sandbox), learners and broadcasts, and what a broadcast left behind."""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import json
import os
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from redis.asyncio import Redis
from sqlalchemy import func, select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from bench.common import WorkerProcess, bench_database_url, terminate, worker_argv
from mluv.db.models import Broadcast, Delivery, JobFailure, User
from mluv.db.session import create_engine, create_session_factory
from mluv.jobs.cron import CATCH_UP_GRACE, CronJobSpec
from mluv.telegram.sandbox import LimitsConfig, SandboxClient, SandboxConfig, run_sandbox
from mluv.telegram.sandbox.config import SANDBOX_BOT_TOKEN

REPO_ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
FAST = "workers.WorkerSettings"
LONG = "workers.LongWorkerSettings"
BASE_ID = 910_000_000
ADMIN_ID = 909_999_999
TEXT = "📣 Mluv.Me: nová výzva! Napiš dnes tři věty česky."
# The workers' BOT_TOKEN: shaped like a real one (bot id 1000000001, the sandbox's), so that settings
# validation, log redaction and bench/chaos_security.py's token-grep see what production has.
CHAOS_BOT_TOKEN = "1000000001:AAHq3vChaosBench_Z7xK2mN9pLw4RtY8uQe5"


@contextlib.contextmanager
def database_server() -> Iterator[None]:
    """Keep the embedded PostgreSQL up for the whole run when no server is configured, so each scenario's
    `bench_database_url()` joins it instead of starting and stopping one."""
    if os.environ.get("BENCH_DATABASE_URL") or os.environ.get("TEST_DATABASE_URL"):
        yield
        return
    from mluv.embedded import start_embedded

    services = start_embedded(Path(".mluv") / "bench-services", redis=False)
    try:
        yield
    finally:
        services.stop()


async def eventually(check: Callable[[], Awaitable[Any]], within: float, what: str) -> Any:
    deadline = time.monotonic() + within
    while True:
        value = await check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise ScenarioError(f"timed out after {within:g} s waiting for {what}")
        await asyncio.sleep(0.1)


class ScenarioError(RuntimeError):
    """The scenario could not be carried out (a worker did not start, a wait timed out)."""


# --- worker processes -------------------------------------------------------------------------------------


class Worker(WorkerProcess):
    """The deployed worker command for an arq settings path, its output in a log file."""

    def __init__(self, target: str, env: dict[str, str], log_path: Path) -> None:
        super().__init__(worker_argv(target), env, log_path)
        self.target = target
        self.spawned = time.monotonic()

    def records(self) -> list[dict[str, Any]]:
        """The JSON log lines (LOG_JSON=true); arq's own plain lines are skipped."""
        found = []
        for line in self.output().splitlines():
            if line.startswith("{"):
                with contextlib.suppress(ValueError):
                    found.append(json.loads(line))
        return found

    async def started(self, within: float = 60) -> None:
        async def ready() -> bool:
            if self.process.poll() is not None:
                raise ScenarioError(f"{self.target} exited at start:\n{self.output()[-3000:]}")
            return "worker started" in self.output()

        await eventually(ready, within, f"{self.target} (pid {self.pid}) to start")

    def kill(self) -> None:
        """SIGKILL: no cleanup, claims left in flight, jobs left in progress."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
        self.process.wait(10)

    def terminate(self) -> None:
        """SIGTERM, as a deploy does: running jobs get WORKER_COMPLETION_WAIT to finish."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)

    async def exited(self, within: float) -> int:
        async def gone() -> bool:
            return self.process.poll() is not None

        await eventually(gone, within, f"{self.target} (pid {self.pid}) to exit")
        return self.process.returncode


class Fleet:
    """The scenario's worker processes; `close()` stops whichever are still running."""

    def __init__(self, env: dict[str, str], logs: Path) -> None:
        self.env = env
        self.logs = logs
        self.workers: list[Worker] = []

    def start(self, target: str, **extra_env: str) -> Worker:
        kind = "long" if target == LONG else "fast"
        worker = Worker(
            target, {**self.env, **extra_env}, self.logs / f"worker-{len(self.workers) + 1}-{kind}.log"
        )
        self.workers.append(worker)
        return worker

    async def close(self) -> None:
        running = [worker for worker in self.workers if worker.process.poll() is None]
        for worker in running:
            worker.terminate()
        for worker in running:
            try:
                await worker.exited(30)
            except ScenarioError:
                worker.kill()

    def count(self, event: str, **fields: Any) -> int:
        """Log records of every worker with this event (and these field values)."""
        return sum(
            1
            for worker in self.workers
            for record in worker.records()
            if record.get("event") == event and all(record.get(k) == v for k, v in fields.items())
        )


def worker_env(database_url: str, redis_url: str, telegram_api_base: str, data_dir: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("BOT_", "WEBHOOK_", "TELEGRAM_"))}
    env.update(
        ENVIRONMENT="test",
        DATABASE_URL=database_url,
        REDIS_URL=redis_url,
        TELEGRAM_API_BASE=telegram_api_base,
        LOG_JSON="true",
        DATA_DIR=str(data_dir),
        PYTHONPATH=str(REPO_ROOT),
    )
    return env


# --- a scenario's stage -------------------------------------------------------------------------------------


@dataclass
class Stage:
    """What one scenario runs against: its own database, the flushed Redis, its own sandbox."""

    database_url: str
    redis_url: str
    sandbox_url: str
    sandbox: SandboxClient
    engine: AsyncEngine
    session_factory: async_sessionmaker[AsyncSession]
    redis: Redis
    fleet: Fleet
    logs: Path
    learners: list[int] = field(default_factory=list)


def clear_logs(logs: Path) -> None:
    logs.mkdir(parents=True, exist_ok=True)
    for old in logs.glob("worker-*.log"):
        old.unlink()


@contextlib.asynccontextmanager
async def stage(
    redis_url: str, logs: Path, *, limits: LimitsConfig | None = None, **worker_settings: str
) -> AsyncIterator[Stage]:
    """A fresh migrated database, the Redis db flushed, a sandbox (Telegram's limits unless `limits`)
    and a fleet of workers configured with `worker_settings` (environment variables)."""
    clear_logs(logs)
    # The sandbox accepts the workers' real-looking BOT_TOKEN (as Telegram would) and its own token.
    config = SandboxConfig(
        history_per_chat=5, limits=limits or LimitsConfig(), tokens=[CHAOS_BOT_TOKEN, SANDBOX_BOT_TOKEN]
    )
    async with (
        bench_database_url() as database_url,
        run_sandbox(port=0, config=config) as sandbox_url,
        SandboxClient(sandbox_url) as sandbox,
    ):
        engine = create_engine(database_url)
        redis = Redis.from_url(redis_url)
        await redis.flushdb()
        env = {
            **worker_env(database_url, redis_url, sandbox_url, logs / "data"),
            "BOT_TOKEN": CHAOS_BOT_TOKEN,
            **worker_settings,
        }
        fleet = Fleet(env, logs)
        try:
            yield Stage(
                database_url=database_url,
                redis_url=redis_url,
                sandbox_url=sandbox_url,
                sandbox=sandbox,
                engine=engine,
                session_factory=create_session_factory(engine),
                redis=redis,
                fleet=fleet,
                logs=logs,
            )
        finally:
            await fleet.close()
            await redis.flushdb()
            await redis.aclose()
            await engine.dispose()


async def add_learners(stage: Stage, count: int) -> list[int]:
    """`count` learners in the sandbox and in `users`: active, but long inactive with reminders off, so
    that no other job of the catalogue writes to them."""
    await stage.sandbox.create_users(count, base_id=BASE_ID)
    await stage.sandbox.create_user(ADMIN_ID, "Admin", language_code="uk")
    month_ago = dt.datetime.now(dt.UTC) - dt.timedelta(days=30)
    async with stage.engine.begin() as connection:
        for start in range(0, count, 5000):
            await connection.execute(
                insert(User).values(
                    [
                        {"id": BASE_ID + i, "reminders_enabled": False, "last_active_at": month_ago}
                        for i in range(start, min(count, start + 5000))
                    ]
                )
            )
    stage.learners = list(range(BASE_ID, BASE_ID + count))
    return stage.learners


async def new_broadcast(stage: Stage) -> int:
    """A confirmed broadcast to everyone, its progress shown in a message to the admin (as /broadcast)."""
    from aiogram import Bot
    from aiogram.client.session.aiohttp import AiohttpSession
    from aiogram.client.telegram import TelegramAPIServer

    from mluv.resources import SANDBOX_BOT_TOKEN

    bot = Bot(SANDBOX_BOT_TOKEN, session=AiohttpSession(api=TelegramAPIServer.from_base(stage.sandbox_url)))
    try:
        progress = await bot.send_message(ADMIN_ID, "📣 …")
    finally:
        await bot.session.close()
    async with stage.session_factory.begin() as session:
        row = Broadcast(
            created_by=ADMIN_ID,
            text=TEXT,
            target="all",
            status="confirmed",
            progress_chat_id=ADMIN_ID,
            progress_message_id=progress.message_id,
        )
        session.add(row)
        await session.flush()
        return row.id


async def broadcast_ready(stage: Stage, learners: int) -> tuple[Worker, Worker, int]:
    """`learners` learners, a long and a fast worker up, and a confirmed broadcast not yet enqueued."""
    await add_learners(stage, learners)
    long, fast = stage.fleet.start(LONG), stage.fleet.start(FAST)
    await start(long, fast)
    return long, fast, await new_broadcast(stage)


async def broadcast_status(stage: Stage, broadcast_id: int) -> str:
    async with stage.session_factory() as session:
        status = await session.scalar(select(Broadcast.status).where(Broadcast.id == broadcast_id))
    return str(status)


async def sent_to_learners(stage: Stage) -> int:
    """Messages the sandbox recorded, minus the admin's progress message."""
    return int((await stage.sandbox.counters())["sent"]) - 1


async def wait_completed(stage: Stage, broadcast_id: int, within: float) -> float:
    """Wait until the broadcast is completed (or has ended otherwise); the monotonic time it was seen."""

    async def ended() -> bool:
        return await broadcast_status(stage, broadcast_id) in ("completed", "failed", "cancelled")

    await eventually(ended, within, f"broadcast {broadcast_id} to complete")
    return time.monotonic()


@dataclass
class BroadcastCheck:
    """Each learner's messages in the sandbox against the ledger, after a broadcast."""

    learners: int
    status: str
    one_message: int
    lost: list[int]  # no message, and the ledger does not say `unknown`
    duplicated: list[int]  # more than one message
    unknown: int  # ledger rows `unknown` (cut in flight, or the answer never came)
    unknown_delivered: int  # ... of which the sandbox did record the message
    unsettled: int  # rows still pending / sending / cancelled
    ledger: dict[str, int]
    counted_sent: int  # the broadcast row's `sent` counter
    telegram_429: int
    dropped: int  # answers the sandbox withheld after recording the message
    dead_letters: int

    def figures(self) -> dict[str, Any]:
        return {
            "learners": self.learners,
            "status": self.status,
            "one_message": self.one_message,
            "lost": len(self.lost),
            "duplicated": len(self.duplicated),
            "unknown": self.unknown,
            "unknown_delivered": self.unknown_delivered,
            "unsettled": self.unsettled,
            "ledger": self.ledger,
            "counted_sent": self.counted_sent,
            "telegram_429": self.telegram_429,
            "dropped_by_sandbox": self.dropped,
            "dead_letters": self.dead_letters,
            "lost_ids": self.lost[:20],
            "duplicated_ids": self.duplicated[:20],
        }

    def tally(self) -> str:
        """The part every broadcast scenario's summary shares."""
        return (
            f"{self.one_message} with exactly one message, lost {len(self.lost)}, "
            f"duplicated {len(self.duplicated)}, unknown {self.unknown}"
        )

    def outcome(
        self,
        name: str,
        summary: str,
        problems: list[str],
        *,
        recovered: float | None = None,
        note: str = "",
        details: dict[str, Any] | None = None,
    ) -> Outcome:
        """The scenario's Outcome with this check's counts and figures (details add to the figures)."""
        return Outcome(
            name=name,
            passed=not problems,
            summary=summary,
            lost=len(self.lost),
            duplicated=len(self.duplicated),
            unknown=self.unknown,
            recovered_seconds=None if recovered is None else round(recovered, 2),
            problems=problems,
            note=note,
            details={**self.figures(), **(details or {})},
        )

    def problems(self) -> list[str]:
        found = []
        if self.status != "completed":
            found.append(f"broadcast {self.status}, not completed")
        if self.lost:
            found.append(f"{len(self.lost)} lost (no message, ledger not unknown), e.g. {self.lost[:5]}")
        if self.duplicated:
            found.append(f"{len(self.duplicated)} learners with > 1 message, e.g. {self.duplicated[:5]}")
        if self.unsettled:
            found.append(f"{self.unsettled} ledger rows unsettled (pending/sending/cancelled)")
        if self.counted_sent != self.ledger.get("sent", 0):
            found.append(
                f"broadcast counts {self.counted_sent} sent, the ledger {self.ledger.get('sent', 0)}"
            )
        return found


async def check_broadcast(stage: Stage, broadcast_id: int) -> BroadcastCheck:
    received = {int(chat["id"]): int(chat["received"]) for chat in await stage.sandbox.chats()}
    async with stage.session_factory() as session:
        rows = await session.execute(
            select(Delivery.recipient_id, Delivery.status).where(
                Delivery.kind == "broadcast", Delivery.business_key == f"broadcast:{broadcast_id}"
            )
        )
        statuses = {int(recipient): str(status) for recipient, status in rows.all()}
        row = (await session.execute(select(Broadcast).where(Broadcast.id == broadcast_id))).scalar_one()
        dead_letters = await session.scalar(select(func.count()).select_from(JobFailure))
    counters = await stage.sandbox.counters()
    learners = stage.learners
    counts = {user: received.get(user, 0) for user in learners}
    ledger = Counter(statuses.get(user, "missing") for user in learners)
    return BroadcastCheck(
        learners=len(learners),
        status=row.status,
        one_message=sum(1 for count in counts.values() if count == 1),
        lost=[user for user, count in counts.items() if count == 0 and statuses.get(user) != "unknown"],
        duplicated=[user for user, count in counts.items() if count > 1],
        unknown=ledger["unknown"],
        unknown_delivered=sum(
            1 for user, count in counts.items() if count >= 1 and statuses.get(user) == "unknown"
        ),
        unsettled=sum(ledger[s] for s in ("pending", "sending", "cancelled", "missing")),
        ledger=dict(sorted(ledger.items())),
        counted_sent=row.sent,
        telegram_429=int(counters["rate_limited_429"]),
        dropped=int(counters["dropped"]),
        dead_letters=int(dead_letters or 0),
    )


# --- shared by bench/chaos.py, bench/chaos_faults.py and bench/chaos_security.py ---------------------------

RUN_STARTED = time.time()  # this process's start: token-grep tells the run's own log files apart
LOGS = REPO_ROOT / ".mluv" / "bench-logs" / "chaos"
RATE = 200.0  # RATE_LIMIT_GLOBAL_PER_SECOND and the sandbox's global limit (Telegram: 30/s)
BATCH_SIZE = 100
LONG_JOB_TIMEOUT = 20


@dataclass
class Outcome:
    name: str
    passed: bool
    summary: str  # the scenario's line
    lost: int = 0
    duplicated: int = 0
    unknown: int = 0
    recovered_seconds: float | None = None
    problems: list[str] = field(default_factory=list)
    details: dict[str, Any] = field(default_factory=dict)
    skipped: str | None = None
    seconds: float = 0.0
    note: str = ""  # the scenario's own figure, after the broadcast counts (e.g. "429s 57")
    counts: bool = True  # lost/duplicated/unknown/recovered apply (a broadcast or a cron run)

    def figure(self) -> str:
        parts = []
        if self.counts:
            recovered = f"{self.recovered_seconds:.1f} s" if self.recovered_seconds is not None else "n/a"
            counts = f"lost {self.lost}, duplicated {self.duplicated}, unknown {self.unknown}"
            parts.append(f"{counts}, recovered in {recovered}")
        if self.note:
            parts.append(self.note)
        return "; ".join(parts)


Scenario = Callable[[str], Awaitable[Outcome]]


def last_tick_or_skip(name: str, spec: CronJobSpec) -> dt.datetime | Outcome:
    """The daily cron's last tick, or a skipped Outcome when the tick is so recent that the workers would
    run it on time rather than catch it up (the scenario would test nothing)."""
    now = dt.datetime.now(dt.UTC)
    tick = spec.previous_tick(now)
    assert tick is not None
    if now - tick >= CATCH_UP_GRACE * 2:
        return tick
    wait = (tick + CATCH_UP_GRACE * 2 - now).total_seconds()
    return Outcome(
        name,
        passed=True,
        summary=f"skipped: {now:%H:%M} UTC is too close to the tick; try again in {wait:.0f} s",
        skipped="too close to the tick",
    )


def broadcast_limits() -> LimitsConfig:
    # Telegram's limits, the global one raised with ours: 1/s per chat (burst 3), 20/min per group.
    return LimitsConfig(global_per_second=RATE)


def broadcast_settings(**extra: str) -> dict[str, str]:
    return {
        "RATE_LIMIT_GLOBAL_PER_SECOND": str(RATE),
        "LONG_JOB_TIMEOUT": str(LONG_JOB_TIMEOUT),
        **extra,
    }


async def start(*workers: Worker) -> None:
    await asyncio.gather(*(worker.started() for worker in workers))


async def wait_sent(stage: Stage, at_least: int, within: float, broadcast_id: int) -> int:
    """Wait until the learners received `at_least` messages; fails if the broadcast ended first."""

    async def reached() -> int:
        sent = await sent_to_learners(stage)
        if sent >= at_least:
            return sent
        if await broadcast_status(stage, broadcast_id) != "running" and sent > 0:
            raise ScenarioError(f"the broadcast ended at {sent} sent, before {at_least}")
        return 0

    return int(await eventually(reached, within, f"{at_least} messages sent"))


async def enqueue_broadcast(st: Stage, broadcast_id: int) -> None:
    """As the admin's confirm button does, with batches of BATCH_SIZE so the fan-out chain is long."""
    from mluv.jobs.connections import create_arq_pool
    from workers.broadcasts import broadcast

    pool = await create_arq_pool(st.redis_url)
    try:
        await broadcast.enqueue(pool, broadcast_id=broadcast_id, batch_size=BATCH_SIZE)
    finally:
        await pool.aclose()


def log_records(path: Path) -> list[dict[str, Any]]:
    """The JSON lines of a process's log file."""
    found = []
    for line in path.read_text(errors="replace").splitlines():
        if line.startswith("{"):
            with contextlib.suppress(ValueError):
                found.append(json.loads(line))
    return found


class BotServer:
    """`mluv serve --no-migrate` in a subprocess (the deployed web process), receiving updates by webhook
    on a loopback port, without in-process workers (the stage's fleet runs them); output in serve.log."""

    SECRET = "chaos-webhook-secret-9Fq2"
    PATH = "/telegram/webhook"

    def __init__(self, st: Stage, **extra_env: str) -> None:
        from mluv.embedded import free_tcp_port

        self.port = free_tcp_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.webhook_url = f"{self.url}{self.PATH}"
        self.log_path = st.logs / "serve.log"
        env = {
            **st.fleet.env,
            "WEB_HOST": "127.0.0.1",
            "WEB_PORT": str(self.port),
            "WEBHOOK_URL": self.webhook_url,
            "WEBHOOK_SECRET": self.SECRET,
            "WORKERS_IN_PROCESS": "false",
            "ADMIN_IDS": str(ADMIN_ID),
            **extra_env,
        }
        with self.log_path.open("wb") as log:
            self.process = subprocess.Popen(
                [str(BIN / "mluv"), "serve", "--no-migrate"],
                cwd=REPO_ROOT,
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
            )

    def output(self) -> str:
        return self.log_path.read_text(errors="replace")

    def records(self) -> list[dict[str, Any]]:
        return log_records(self.log_path)

    def count(self, event: str, **fields: Any) -> int:
        return sum(
            1
            for record in self.records()
            if record.get("event") == event and all(record.get(k) == v for k, v in fields.items())
        )

    async def started(self, within: float = 60) -> None:
        async def ready() -> bool:
            if self.process.poll() is not None:
                raise ScenarioError(f"mluv serve exited at start:\n{self.output()[-3000:]}")
            return "receiving updates by webhook" in self.output()

        await eventually(ready, within, f"mluv serve (pid {self.process.pid}) to set its webhook")

    async def stop(self, within: float = 30) -> int:
        return await terminate(self.process, within)


@contextlib.asynccontextmanager
async def bot_server(st: Stage, **extra_env: str) -> AsyncIterator[BotServer]:
    server = BotServer(st, **extra_env)
    try:
        await server.started()
        yield server
    finally:
        await server.stop()
