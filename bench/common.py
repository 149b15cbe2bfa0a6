"""Shared helpers for benchmarks: a Redis to measure against, percentiles, JSON output."""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import os
import platform
import secrets
import signal
import statistics
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Iterator, Mapping, Sequence
from contextlib import asynccontextmanager, contextmanager
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parent.parent
RESULTS = REPO_ROOT / "bench" / "results"
LOGS = REPO_ROOT / ".mluv" / "bench-logs"
BIN = Path(sys.executable).parent
DONE_CHANNEL = "mluv:bench:done"  # a benchmark job's "done" signal (bench.jobs, bench.peers)


def worker_argv(target: str) -> list[str]:
    """The deployed command (fly.toml) for an arq settings path: `mluv worker [--queue long]`."""
    queue = {"workers.WorkerSettings": "fast", "workers.LongWorkerSettings": "long"}[target]
    return [str(BIN / "mluv"), "worker", "--queue", queue]


TEST_REDIS_DBS = range(9, 16)  # tests/conftest.py REDIS_TEST_DBS


def checked_bench_redis_url(url: str) -> str:
    """BENCH_REDIS_URL, refused on a db the test suite claims: the benchmarks FLUSHDB theirs."""
    from redis.asyncio.connection import parse_url

    db = int(parse_url(url).get("db", 0))
    if db in TEST_REDIS_DBS:
        raise SystemExit(f"BENCH_REDIS_URL: db {db} is one the test suite claims (9-15); use 0-8")
    return url


@contextmanager
def bench_redis_url() -> Iterator[str]:
    """BENCH_REDIS_URL if set (use a db you may flush), else an embedded redis-server."""
    configured = os.environ.get("BENCH_REDIS_URL")
    if configured:
        yield checked_bench_redis_url(configured)
        return
    from mluv.embedded import start_embedded

    services = start_embedded(Path(".mluv") / "bench-services", postgres=False, redis_persistent=False)
    try:
        yield services.redis_url
    finally:
        services.stop()


@asynccontextmanager
async def bench_database_url() -> AsyncIterator[str]:
    """A throwaway migrated database `mluv_bench_<hex>` on BENCH_DATABASE_URL / TEST_DATABASE_URL's server
    (else the embedded PostgreSQL), dropped afterwards."""
    from sqlalchemy import text
    from sqlalchemy.ext.asyncio import create_async_engine
    from sqlalchemy.pool import NullPool

    from mluv.db.migrate import upgrade
    from mluv.settings import normalise_database_url

    server = os.environ.get("BENCH_DATABASE_URL") or os.environ.get("TEST_DATABASE_URL")
    services = None
    if not server:
        from mluv.embedded import start_embedded

        services = start_embedded(Path(".mluv") / "bench-services", redis=False)
        server = services.database_url
    admin = create_async_engine(
        normalise_database_url(server), isolation_level="AUTOCOMMIT", poolclass=NullPool
    )
    name = f"mluv_bench_{secrets.token_hex(4)}"
    base, _, query = normalise_database_url(server).partition("?")
    url = f"{base.rsplit('/', 1)[0]}/{name}" + (f"?{query}" if query else "")
    try:
        async with admin.connect() as connection:
            await connection.execute(text(f'CREATE DATABASE "{name}"'))
        await upgrade(url)
        yield url
    finally:
        async with admin.connect() as connection:
            await connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        await admin.dispose()
        if services is not None:
            services.stop()


def worker_env(database_url: str, redis_url: str, logs: Path, **extra: str) -> dict[str, str]:
    """A worker process's environment: this one without Telegram/bot settings, plus the services."""
    return {
        **{k: v for k, v in os.environ.items() if not k.startswith(("BOT_", "WEBHOOK_", "TELEGRAM_"))},
        "ENVIRONMENT": "test",
        "DATABASE_URL": database_url,
        "REDIS_URL": redis_url,
        "LOG_JSON": "true",
        "DATA_DIR": str(logs / "data"),
        "PYTHONPATH": str(REPO_ROOT),
        **extra,
    }


class WorkerProcess:
    """A worker command in a subprocess, its output in a log file; ready once arq's heartbeat is written
    (arq and mluv workers both write `<queue>:health-check` on their first poll)."""

    def __init__(self, argv: list[str], env: dict[str, str], log_path: Path) -> None:
        self.log_path = log_path
        with log_path.open("wb") as log:
            self.process = subprocess.Popen(
                argv, cwd=REPO_ROOT, env=env, stdout=log, stderr=subprocess.STDOUT
            )

    @property
    def pid(self) -> int:
        return self.process.pid

    def output(self) -> str:
        return self.log_path.read_text(errors="replace")

    async def ready(self, redis: Any, queue: str, within: float = 60) -> None:
        await self.wrote(redis, f"{queue}:health-check", within)

    async def wrote(self, redis: Any, key: str, within: float = 60) -> None:
        """Until the worker has written `key` (SAQ's worker: bench.peers.ready_key())."""
        deadline = time.monotonic() + within
        while not await redis.exists(key):
            if self.process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"worker did not start:\n{self.output()[-3000:]}")
            await asyncio.sleep(0.05)

    async def started(self, within: float = 60) -> None:
        """Until the jobs framework's "worker started" line (after on_startup: resources, catch-up)."""
        deadline = time.monotonic() + within
        while "worker started" not in self.output():
            if self.process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"worker did not start:\n{self.output()[-3000:]}")
            await asyncio.sleep(0.1)

    async def stop(self, within: float = 30) -> int:
        return await terminate(self.process, within)


async def terminate(process: subprocess.Popen[bytes], within: float = 30) -> int:
    """SIGTERM (as a deploy does), then SIGKILL if it has not exited within `within` seconds."""
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
    deadline = time.monotonic() + within
    while process.poll() is None:
        if time.monotonic() > deadline:
            process.kill()
            process.wait(10)
            break
        await asyncio.sleep(0.05)
    return process.returncode


def rss_mb(pid: int) -> float:
    """Resident set size of a process, from /proc (Linux)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError(f"no VmRSS for pid {pid}")


# Seconds past the minute of the fast queue's per-minute crons (scheduled posts at :00, the reconciler at
# :30; the 5-minute health check falls on a :00): a fresh worker's first tick imports what they use.
FAST_CRON_TICKS = (0.0, 30.0)


async def between_cron_ticks(room: float = 13.0) -> None:
    """Until 2 s past a fast-queue tick with `room` seconds before the next: what follows (a measurement,
    a worker's start and idle reading) sees no cron run."""
    into = time.time() % 30
    if not 2 <= into < 2 + room:
        await asyncio.sleep((32 - into) % 30)


def until_first_crons_ran(margin: float = 5.0) -> float:
    """Seconds until both fast-queue ticks have passed, plus `margin` for their jobs to run."""
    second = time.time() % 60
    return max((tick - second) % 60 for tick in FAST_CRON_TICKS) + margin


def percentiles(samples: Sequence[float]) -> dict[str, float]:
    ordered = sorted(samples)
    cuts = statistics.quantiles(ordered, n=100, method="inclusive")
    return {"p50": cuts[49], "p90": cuts[89], "p99": cuts[98], "max": ordered[-1], "n": len(ordered)}


PEERS = {"mluv / SAQ": "SAQ", "mluv / arq": "bare arq"}  # each ratio's label and its peer's side


def peer_ratios(figures: Mapping[str, Mapping[str, float]]) -> dict[str, dict[str, float]]:
    """mluv's figures over each peer's, key by key: `figures` maps "mluv", "SAQ", "bare arq" to theirs."""
    return {
        label: {key: value / figures[peer][key] for key, value in figures["mluv"].items()}
        for label, peer in PEERS.items()
    }


def machine() -> dict[str, Any]:
    return {
        "python": platform.python_version(),
        "machine": platform.machine(),
        "cpus": os.cpu_count(),
        "date": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
    }


def write_result(name: str, figures: dict[str, Any]) -> Path:
    RESULTS.mkdir(exist_ok=True)
    path = RESULTS / f"{name}.json"
    path.write_text(json.dumps({"benchmark": name, "machine": machine(), **figures}, indent=2) + "\n")
    return path
