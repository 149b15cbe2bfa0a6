"""Broadcast throughput against Telegram's limits: 1 and 3 long-queue worker processes, one shared limiter.

    .venv/bin/python -m bench.broadcast [--learners 750] [--rate 25] [--workers 1,3] [--batch-size 100]

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


async def run_once(
    *,
    workers: int,
    learners: int,
    rate: float,
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
            "RATE_LIMIT_GLOBAL_PER_SECOND": str(rate),
            "LOG_JSON": "true",
            "DATA_DIR": str(logs / "data"),
            "PYTHONPATH": str(REPO_ROOT),
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
        async with session_factory.begin() as session:
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
            broadcast_id = row.id
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

        records = await sandbox.latest_messages(limit=min(10_000, learners * 2 + 100))
        ours = [r for r in records if r["text"] == TEXT and BASE_ID <= r["chat_id"] < BASE_ID + learners]
        per_chat: dict[int, int] = {}
        for record in ours:
            per_chat[record["chat_id"]] = per_chat.get(record["chat_id"], 0) + 1
        times = sorted(record["time"] for record in ours)
        achieved = (len(times) - 1) / (times[-1] - times[0]) if len(times) > 1 else 0.0
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
        }
    finally:
        await group.stop()
        await pool.aclose()
        await redis.aclose()
        await engine.dispose()


async def main(learners: int, rate: float, worker_counts: list[int], batch_size: int) -> None:
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
            config = SandboxConfig(history_per_chat=5)  # Telegram's limits: 30/s, 1/s per chat
            async with (
                run_sandbox(port=0, config=config) as sandbox_url,
                SandboxClient(sandbox_url) as sandbox,
            ):
                await sandbox.create_users(learners, base_id=BASE_ID)
                await sandbox.create_user(ADMIN_ID, "Admin")
                for workers in worker_counts:
                    figures = await run_once(
                        workers=workers,
                        learners=learners,
                        rate=rate,
                        batch_size=batch_size,
                        database_url=database_url,
                        redis_url=redis_url,
                        sandbox_url=sandbox_url,
                        sandbox=sandbox,
                        logs=logs,
                    )
                    results.append(figures)
                    print(
                        f"{workers} worker(s): {figures['sent']}/{learners} sent at "
                        f"{figures['achieved_per_second']:.2f}/s = {figures['share_of_limit']:.1%} "
                        f"of {rate:g}/s, "
                        f"429s {figures['telegram_429']}, duplicates {figures['duplicates']}, "
                        f"lost {figures['lost']}, wall {figures['wall_seconds']} s",
                        flush=True,
                    )
    print()
    print(f"{'workers':>8}{'sent':>7}{'rate/s':>9}{'share':>8}{'429s':>6}{'dup':>5}{'lost':>6}{'wall s':>8}")
    for r in results:
        print(
            f"{r['workers']:>8}{r['sent']:>7}{r['achieved_per_second']:>9.2f}{r['share_of_limit']:>8.1%}"
            f"{r['telegram_429']:>6}{r['duplicates']:>5}{r['lost']:>6}{r['wall_seconds']:>8.1f}"
        )
    target = all(
        r["share_of_limit"] >= 0.95 and r["telegram_429"] == 0 and r["duplicates"] == 0 and r["lost"] == 0
        for r in results
    )
    print(f"target (>= 95% of the limit, 0 x 429, 0 duplicates, 0 lost): {'met' if target else 'NOT met'}")
    path = write_result(
        "broadcast",
        {
            "learners": learners,
            "limit_per_second": rate,
            "batch_size": batch_size,
            "runs": results,
            "target_met": target,
        },
    )
    print(f"wrote {path}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--learners", type=int, default=750)
    parser.add_argument("--rate", type=float, default=25.0, help="RATE_LIMIT_GLOBAL_PER_SECOND")
    parser.add_argument("--workers", default="1,3", help="worker process counts to run, comma-separated")
    parser.add_argument("--batch-size", type=int, default=100)
    args = parser.parse_args()
    asyncio.run(main(args.learners, args.rate, [int(n) for n in args.workers.split(",")], args.batch_size))
