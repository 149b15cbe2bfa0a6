"""Broadcast throughput against Telegram's limits: 1 and 3 long-queue worker processes, one shared limiter.

    .venv/bin/python -m bench.broadcast [--learners 750] [--rate 25] [--workers 1,3] [--batch-size 100]
    .venv/bin/python -m bench.broadcast --paid --rate 250,500,750,975 --workers 3 --learners 5000

`--paid`: a paid broadcast (allow_paid_broadcast) paced at PAID_BROADCAST_RATE_PER_SECOND = the rate, the
free limit staying 25/s; the sandbox lets paid sends through at up to 1,000/s, as Telegram does. Several
rates make a ramp: the rate where the achieved share first drops below 95 % is where the Sender, limiter
and ledger stop, and the CPU each process used (workers, the bench with the in-process sandbox, the
Postgres backends of the scratch database, Redis), the ledger's commits per second and what the
database's backends were doing (pg_stat_activity every 20 ms: the mean number of backends waiting for a
lock, flushing WAL, or idle in a transaction while their worker is busy, by statement) say why.

N learners live in the Bot API sandbox, which enforces Telegram's own limits (30 msg/s overall, ~1/s per
chat, 429 with retry_after beyond them). Worker processes are the standard commands
(`arq workers.LongWorkerSettings` with EXTRA_JOB_MODULES=workers.broadcasts, plus one
`arq workers.WorkerSettings`), sharing the rate limiter through Redis. For each worker count: one
broadcast to every learner, and

- achieved rate: sends recorded by the sandbox, (n - 1) / (last - first), as a share of the limit;
- 429s the sandbox answered; duplicates (a learner with the broadcast twice); lost (a learner without it
  and no ledger row saying why).

Target: >= 95 % of the limit, 0 x 429, 0 duplicates, 0 lost. Services: BENCH_DATABASE_URL (a server on
which the bench may create and drop a database) and BENCH_REDIS_URL (a db it may flush), else embedded
servers in .mluv/bench-services.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import datetime as dt
import os
import secrets
import sys
import time
from collections import Counter
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from redis.asyncio import Redis
from sqlalchemy import func, select, text
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import create_async_engine
from sqlalchemy.pool import NullPool

from bench.common import WorkerProcess, checked_bench_redis_url, worker_argv, write_result
from mluv.db.migrate import upgrade
from mluv.db.models import Broadcast, Delivery, User
from mluv.db.session import create_engine, create_session_factory
from mluv.jobs.connections import create_arq_pool
from mluv.resources import SANDBOX_BOT_TOKEN
from mluv.settings import normalise_database_url
from mluv.telegram.ratelimit import read_ratelimit_stats
from mluv.telegram.sandbox import SandboxClient, SandboxConfig, run_sandbox
from workers.broadcasts import broadcast

REPO_ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
BASE_ID = 900_000_000
ADMIN_ID = 899_999_999
WARM_UP_BASE, WARM_UP_CHATS = 899_000_000, 30  # the warm-up broadcast's own chats
TEXT = "📣 Mluv.Me: nové výzvy tento týden! Zkus napsat pár vět česky každý den."


@contextlib.contextmanager
def services() -> Iterator[tuple[str, str]]:
    database, redis = os.environ.get("BENCH_DATABASE_URL"), os.environ.get("BENCH_REDIS_URL")
    redis = redis and checked_bench_redis_url(redis)
    if database and redis:
        yield database, redis
        return
    from mluv.embedded import start_embedded

    embedded = start_embedded(
        Path(".mluv") / "bench-services", postgres=not database, redis=not redis, redis_persistent=False
    )
    try:
        yield database or embedded.database_url, redis or embedded.redis_url
    finally:
        embedded.stop()


@contextlib.asynccontextmanager
async def scratch_database(server_url: str) -> AsyncIterator[str]:
    """A fresh, migrated database on the server, dropped afterwards."""
    name = f"mluv_bench_{secrets.token_hex(4)}"
    admin = create_async_engine(
        normalise_database_url(server_url), isolation_level="AUTOCOMMIT", poolclass=NullPool
    )
    async with admin.connect() as connection:
        await connection.execute(text(f'CREATE DATABASE "{name}"'))
    parts = urlsplit(server_url)
    url = urlunsplit(parts._replace(path=f"/{name}"))
    try:
        await upgrade(url)
        yield url
    finally:
        async with admin.connect() as connection:
            await connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        await admin.dispose()


def cpu_seconds(pid: int) -> float:
    """User + system CPU a process has used so far (/proc/<pid>/stat); 0 if it is gone."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def machine_busy_seconds() -> tuple[float, float]:
    """(busy, total) CPU seconds of the whole machine so far (/proc/stat): what else was running."""
    ticks = [int(n) for n in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    idle = ticks[3] + ticks[4]
    hz = os.sysconf("SC_CLK_TCK")
    return (sum(ticks) - idle) / hz, sum(ticks) / hz


WAIT_SAMPLE_SECONDS = 0.02
# A backend's state as pg_stat_activity shows it, named for what holds the statement up.
BACKEND_STATES = """
SELECT CASE
         WHEN state = 'idle in transaction' THEN 'idle in a transaction after'
         WHEN wait_event_type = 'Lock' THEN 'waiting for a lock in'
         WHEN wait_event IN ('WALSync', 'WALWrite') THEN 'flushing WAL at'
         ELSE 'running'
       END || ' ' || substring(query FROM '^\\s*(\\w+(?:\\s+\\w+)?)') AS what
FROM pg_stat_activity
WHERE datname = current_database() AND pid <> pg_backend_pid() AND state <> 'idle'
"""


class Usage:
    """CPU per process, database commits and backends' states over one broadcast, for finding what stops
    a faster one."""

    def __init__(self, workers: list[WorkerProcess], engine: Any, redis: Redis) -> None:
        self.workers, self.engine, self.redis = workers, engine, redis
        self.before: dict[str, float] = {}
        self.backends: Counter[str] = Counter()
        self.samples = 0
        self._sampler: asyncio.Task[None] | None = None

    async def _sample_backends(self) -> None:
        async with self.engine.connect() as connection:
            while True:
                for what in (await connection.execute(text(BACKEND_STATES))).scalars():
                    self.backends[what] += 1
                await connection.rollback()  # pg_stat_activity is a snapshot per transaction
                self.samples += 1
                await asyncio.sleep(WAIT_SAMPLE_SECONDS)

    async def _sample(self) -> dict[str, float]:
        *long, fast = self.workers  # run_once starts the long workers, then the fast one
        sample = {f"worker {n} (long)": cpu_seconds(w.pid) for n, w in enumerate(long)}
        sample["worker (fast queue)"] = cpu_seconds(fast.pid)
        sample["bench + sandbox"] = cpu_seconds(os.getpid())
        async with self.engine.connect() as connection:
            pids = (
                await connection.execute(
                    text("SELECT pid FROM pg_stat_activity WHERE datname = current_database()")
                )
            ).scalars()
            sample["postgres backends"] = sum(cpu_seconds(pid) for pid in pids)
            sample["commits"] = float(
                await connection.scalar(
                    text("SELECT xact_commit FROM pg_stat_database WHERE datname = current_database()")
                )
                or 0
            )
        info = await self.redis.info("cpu")
        sample["redis (whole server)"] = float(info["used_cpu_user"]) + float(info["used_cpu_sys"])
        sample["machine busy"], sample["machine total"] = machine_busy_seconds()
        return sample

    async def start(self) -> None:
        self.before = await self._sample()
        self._sampler = asyncio.create_task(self._sample_backends())

    async def stop(self, wall: float) -> dict[str, Any]:
        if self._sampler is not None:
            self._sampler.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._sampler
        after = await self._sample()
        delta = {name: after[name] - self.before.get(name, 0.0) for name in after}
        commits = delta.pop("commits")
        total = delta.pop("machine total")
        busy = delta.pop("machine busy")
        # Backends that ended during the run lose their CPU from the sample: a lower bound for Postgres.
        cpu = {name: round(seconds / wall, 3) for name, seconds in delta.items()}
        return {
            "cpu_cores_used": cpu,
            "machine_busy_share": round(busy / total, 3) if total else 0.0,
            "ledger_commits_per_second": round(commits / wall, 1),
            # Mean number of the scratch database's backends in each state: a queue on one row shows here.
            "database_backends": {
                what: round(n / max(1, self.samples), 2) for what, n in self.backends.most_common(6)
            },
        }


class Workers:
    """The standard worker commands in subprocesses, logging to files."""

    def __init__(self, env: dict[str, str], logs: Path) -> None:
        self.env = env
        self.logs = logs
        self.processes: list[WorkerProcess] = []

    def start(self, target: str) -> None:
        log_path = self.logs / f"worker-{len(self.processes)}.log"
        self.processes.append(WorkerProcess(worker_argv(target), self.env, log_path))

    async def started(self) -> None:
        for worker in self.processes:
            await worker.started()

    async def stop(self) -> None:
        await asyncio.gather(*(worker.stop(within=10) for worker in self.processes))
        self.processes.clear()


async def warm_up(pool: Any, session_factory: Any, *, paid: bool) -> None:
    """A small broadcast to chats of its own, in batches of 2, before the measured one: each worker's first
    job imports aiogram and the ORM (workers start without them, mluv.worker), which is a deploy's cost,
    not the sustained rate's. Its text differs, so the measured counts never see it."""
    async with session_factory.begin() as session:
        row = Broadcast(
            created_by=ADMIN_ID,
            text="warm-up",
            target="channels",
            channel_ids=[WARM_UP_BASE + i for i in range(WARM_UP_CHATS)],
            status="confirmed",
            paid=paid,
        )
        session.add(row)
        await session.flush()
        warm_up_id = row.id
    await broadcast.enqueue(pool, broadcast_id=warm_up_id, batch_size=2)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        async with session_factory() as session:
            status = await session.scalar(select(Broadcast.status).where(Broadcast.id == warm_up_id))
        if status == "completed":
            return
        await asyncio.sleep(0.1)
    raise RuntimeError(f"the warm-up broadcast is still {status} after 60 s")


async def run_once(
    *,
    workers: int,
    learners: int,
    rate: float,
    paid: bool,
    batch_size: int,
    database_url: str,
    redis_url: str,
    sandbox_url: str,
    sandbox: SandboxClient,
    logs: Path,
) -> dict[str, Any]:
    engine = create_engine(database_url)
    session_factory = create_session_factory(engine)
    redis = Redis.from_url(redis_url)
    pool = await create_arq_pool(redis_url)
    group = Workers(
        {
            **{k: v for k, v in os.environ.items() if not k.startswith(("BOT_", "WEBHOOK_", "TELEGRAM_"))},
            "ENVIRONMENT": "test",
            "DATABASE_URL": database_url,
            "REDIS_URL": redis_url,
            "TELEGRAM_API_BASE": sandbox_url,
            "EXTRA_JOB_MODULES": "workers.broadcasts",
            # A paid broadcast keeps the free limit for everything else (replies), as in production.
            "RATE_LIMIT_GLOBAL_PER_SECOND": "25" if paid else str(rate),
            "PAID_BROADCAST_RATE_PER_SECOND": str(rate) if paid else "0",
            "LOG_JSON": "true",
            "DATA_DIR": str(logs / "data"),
            "PYTHONPATH": os.pathsep.join(
                [str(REPO_ROOT), *filter(None, [os.environ.get("BENCH_PYTHONPATH")])]
            ),
        },
        logs,
    )
    try:
        await redis.flushdb()
        await sandbox.reset(keep_users=True)
        async with engine.begin() as connection:
            await connection.execute(text("TRUNCATE deliveries, broadcasts, cron_runs, job_failures"))
        for _ in range(workers):
            group.start("workers.LongWorkerSettings")
        group.start("workers.WorkerSettings")  # the fast queue: the reconciler and the other crons
        await group.started()

        from aiogram import Bot
        from aiogram.client.session.aiohttp import AiohttpSession
        from aiogram.client.telegram import TelegramAPIServer

        bot = Bot(SANDBOX_BOT_TOKEN, session=AiohttpSession(api=TelegramAPIServer.from_base(sandbox_url)))
        progress = await bot.send_message(ADMIN_ID, "📣 …")
        await bot.session.close()
        await warm_up(pool, session_factory, paid=paid)
        async with session_factory.begin() as session:
            row = Broadcast(
                created_by=ADMIN_ID,
                text=TEXT,
                target="all",
                status="confirmed",
                progress_chat_id=ADMIN_ID,
                progress_message_id=progress.message_id,
                paid=paid,
            )
            session.add(row)
            await session.flush()
            broadcast_id = row.id
        usage = Usage(group.processes, engine, redis)
        await usage.start()
        started = time.monotonic()
        # As the admin handler does (with smaller batches, so that three workers share the fan-out).
        await broadcast.enqueue(pool, broadcast_id=broadcast_id, batch_size=batch_size)
        deadline = started + max(120.0, 3 * learners / rate)
        while True:
            async with session_factory() as session:
                status = await session.scalar(select(Broadcast.status).where(Broadcast.id == broadcast_id))
            if status in ("completed", "failed", "cancelled"):
                break
            if time.monotonic() > deadline:
                raise RuntimeError(f"broadcast still {status} after {deadline - started:.0f} s")
            await asyncio.sleep(0.2)
        wall = time.monotonic() - started
        used = await usage.stop(wall)
        worker_cores = sum(v for k, v in used["cpu_cores_used"].items() if k.startswith("worker"))

        records = await sandbox.latest_messages(limit=min(10_000, learners * 2 + 100))
        ours = [r for r in records if r["text"] == TEXT and BASE_ID <= r["chat_id"] < BASE_ID + learners]
        paid_sends = sum(1 for r in ours if r["paid_broadcast"])
        per_chat: dict[int, int] = {}
        for record in ours:
            per_chat[record["chat_id"]] = per_chat.get(record["chat_id"], 0) + 1
        times = sorted(record["time"] for record in ours)
        achieved = (len(times) - 1) / (times[-1] - times[0]) if len(times) > 1 else 0.0
        if os.environ.get("BENCH_HIST"):
            import collections

            h = collections.Counter(int((t - times[0]) / 0.5) for t in times)
            print("per 0.5 s:", [h[i] for i in range(max(h) + 1)])
        async with session_factory() as session:
            rows = await session.execute(
                select(Delivery.status, func.count())
                .where(Delivery.kind == "broadcast", Delivery.business_key == f"broadcast:{broadcast_id}")
                .group_by(Delivery.status)
            )
            ledger = {str(status): int(count) for status, count in rows.all()}
            unexplained = await session.scalar(
                select(func.count()).where(
                    Delivery.kind == "broadcast",
                    Delivery.business_key == f"broadcast:{broadcast_id}",
                    Delivery.status.in_(("pending", "sending", "cancelled")),
                )
            )
        counters = await sandbox.counters()
        limiter = await read_ratelimit_stats(redis)
        return {
            "workers": workers,
            "learners": learners,
            "limit_per_second": rate,
            "paid": paid,
            "sent_paid": paid_sends,
            "status": status,
            "sent": len(ours),
            "achieved_per_second": round(achieved, 3),
            "share_of_limit": round(achieved / rate, 4),
            "wall_seconds": round(wall, 2),
            "telegram_429": counters["rate_limited_429"],
            "duplicates": sum(count - 1 for count in per_chat.values() if count > 1),
            "lost": learners - len(per_chat),
            "ledger": ledger,
            "ledger_unsettled": int(unexplained or 0),
            "limiter_waits": int(limiter.get("waits", 0)),
            "limiter_mean_wait_ms": round(limiter.get("mean_wait_seconds", 0.0) * 1000, 2),
            **used,
            # CPU the workers spent per message, whatever else ran: what a faster broadcast needs.
            "worker_cpu_ms_per_send": round(worker_cores * wall / max(1, len(ours)) * 1000, 2),
        }
    finally:
        await group.stop()
        await pool.aclose()
        await redis.aclose()
        await engine.dispose()


def holds(run: dict[str, Any]) -> bool:
    """The run kept its rate (>= 95 %) with no 429, no duplicate and nothing lost."""
    return bool(
        run["share_of_limit"] >= 0.95
        and run["telegram_429"] == 0
        and run["duplicates"] == 0
        and run["lost"] == 0
        and (not run["paid"] or run["sent_paid"] == run["sent"])
    )


def bottleneck(run: dict[str, Any]) -> str:
    """The busiest process of a run, and how busy the machine was (2 cores shared with others)."""
    cpu = run["cpu_cores_used"]
    workers = sum(v for k, v in cpu.items() if k.startswith("worker"))
    parts = {**{k: v for k, v in cpu.items() if not k.startswith("worker")}, "workers (all)": workers}
    name, cores = max(parts.items(), key=lambda item: item[1])
    ours = sum(parts.values())
    return (
        f"busiest: {name} at {cores:.2f} cores; workers' CPU {run['worker_cpu_ms_per_send']:.1f} ms/message; "
        f"machine {run['machine_busy_share']:.0%} busy ({ours:.2f} of its cores ours); "
        f"{run['ledger_commits_per_second']:.0f} ledger commits/s"
    )


async def main(
    learners: int, rates: list[float], worker_counts: list[int], batch_size: int, paid: bool
) -> None:
    logs = REPO_ROOT / ".mluv" / "bench-logs"
    logs.mkdir(parents=True, exist_ok=True)
    results = []
    with services() as (server_url, redis_url):
        async with scratch_database(server_url) as database_url:
            engine = create_engine(database_url)
            month_ago = dt.datetime.now(dt.UTC) - dt.timedelta(days=30)
            async with engine.begin() as connection:
                # Long inactive with reminders off, so that no other job of the catalogue writes to them.
                for start in range(0, learners, 5000):
                    await connection.execute(
                        insert(User).values(
                            [
                                {"id": BASE_ID + i, "reminders_enabled": False, "last_active_at": month_ago}
                                for i in range(start, min(learners, start + 5000))
                            ]
                        )
                    )
            await engine.dispose()
            # Telegram's limits: 30/s, 1/s per chat, and 1,000/s for sends with allow_paid_broadcast.
            config = SandboxConfig(history_per_chat=5)
            async with (
                run_sandbox(port=0, config=config) as sandbox_url,
                SandboxClient(sandbox_url) as sandbox,
            ):
                await sandbox.create_users(learners, base_id=BASE_ID)
                await sandbox.create_user(ADMIN_ID, "Admin")
                await sandbox.create_users(WARM_UP_CHATS, base_id=WARM_UP_BASE)
                for rate in rates:
                    for workers in worker_counts:
                        figures = await run_once(
                            workers=workers,
                            learners=learners,
                            rate=rate,
                            paid=paid,
                            batch_size=batch_size,
                            database_url=database_url,
                            redis_url=redis_url,
                            sandbox_url=sandbox_url,
                            sandbox=sandbox,
                            logs=logs,
                        )
                        results.append(figures)
                        print(
                            f"{'paid ' if paid else ''}{rate:g}/s, {workers} worker(s): "
                            f"{figures['sent']}/{learners} sent at "
                            f"{figures['achieved_per_second']:.2f}/s = {figures['share_of_limit']:.1%}, "
                            f"429s {figures['telegram_429']}, duplicates {figures['duplicates']}, "
                            f"lost {figures['lost']}, wall {figures['wall_seconds']} s",
                            flush=True,
                        )
                        print(f"    {bottleneck(figures)}; cores: {figures['cpu_cores_used']}", flush=True)
                        print(f"    database backends (mean): {figures['database_backends']}", flush=True)
    print()
    print(
        f"{'rate':>6}{'workers':>8}{'sent':>7}{'rate/s':>9}{'share':>8}{'429s':>6}{'dup':>5}{'lost':>6}"
        f"{'wall s':>8}{'commits/s':>11}"
    )
    for r in results:
        print(
            f"{r['limit_per_second']:>6g}{r['workers']:>8}{r['sent']:>7}{r['achieved_per_second']:>9.2f}"
            f"{r['share_of_limit']:>8.1%}{r['telegram_429']:>6}{r['duplicates']:>5}{r['lost']:>6}"
            f"{r['wall_seconds']:>8.1f}{r['ledger_commits_per_second']:>11.0f}"
        )
    target = all(holds(r) for r in results)
    print(f"target (>= 95% of the limit, 0 x 429, 0 duplicates, 0 lost): {'met' if target else 'NOT met'}")
    stops = next((r for r in results if not holds(r)), None)
    held = [r["limit_per_second"] for r in results if holds(r)]
    if len(rates) > 1:
        where = (
            f"stops at {stops['limit_per_second']:g}/s ({stops['achieved_per_second']:.0f}/s achieved); "
            f"{bottleneck(stops)}"
            if stops
            else "held at every rate"
        )
        print(f"ramp: highest rate held {max(held, default=0):g}/s; {where}")
    path = write_result(
        "broadcast" if not paid else "broadcast_paid",
        {
            "learners": learners,
            "paid": paid,
            "rates": rates,
            "batch_size": batch_size,
            "runs": results,
            "target_met": target,
            "highest_rate_held": max(held, default=0),
            "stops_at": stops["limit_per_second"] if stops else None,
            "stop_cause": bottleneck(stops) if stops else None,
        },
    )
    print(f"wrote {path}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--learners", type=int, default=750)
    parser.add_argument(
        "--rate",
        default="25",
        help="the rate (comma-separated: a ramp), RATE_LIMIT_GLOBAL_PER_SECOND or paid",
    )
    parser.add_argument("--workers", default="1,3", help="worker process counts to run, comma-separated")
    parser.add_argument("--batch-size", type=int, default=100)
    parser.add_argument("--paid", action="store_true", help="a paid broadcast (allow_paid_broadcast)")
    args = parser.parse_args()
    asyncio.run(
        main(
            args.learners,
            [float(n) for n in args.rate.split(",")],
            [int(n) for n in args.workers.split(",")],
            args.batch_size,
            args.paid,
        )
    )
