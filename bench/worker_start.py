"""Worker start-up: exec → first job picked, and the idle worker's RSS, for mluv, SAQ and bare arq.

    .venv/bin/python -m bench.worker_start [--starts 5] [--idle-seconds 3]

Each side on a private redis-server (a fresh one per side, flushed before every start), one at a time:

- `mluv worker --queue fast` (the deployed command, EXTRA_JOB_MODULES=bench.jobs);
- the same with WORKER_HEALTH_PORT set, as fly.toml deploys it (the /healthz server starts in the
  background: it does not delay the first job, it adds to the RSS);
- SAQ 0.26: `saq bench.peers.settings` (bench.peers);
- bare arq 0.28: `arq bench.jobs.BareWorkerSettings`.

Every worker runs with bytecode caches, as deployed (the Dockerfile compiles them: UV_COMPILE_BYTECODE):
its .pyc files go under .mluv/bench-pycache (PYTHONPYCACHEPREFIX; a PYTHONDONTWRITEBYTECODE of this
shell is dropped), filled by one start per side that is not counted. Without them every start compiles
its imports (~0.6 s here), which measures the compiler, not the worker.

One start: a `bench_signal` job is enqueued while no worker runs, the clock starts just before the
worker's exec (Popen), and stops when the job PUBLISHes its number on DONE_CHANNEL (its only act), so the
figure is the whole start-up — interpreter, imports, settings, connections, start-up hooks, first poll
— plus one job. The worker's CPU time at that moment (/proc/<pid>/stat, 10 ms ticks) is shown too: it
varies far less than the wall time when other processes share the machine. After `--idle-seconds`
the worker's RSS (/proc) is read, then it gets SIGTERM. Start-up: p50 and max of `--starts` (CPU: p50);
RSS: the median. Ratios mluv / SAQ and mluv / arq (lower is better for both). Writes
bench/results/worker_start.json.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import time
from pathlib import Path
from typing import Any

from arq.connections import create_pool

from bench.common import (
    BIN,
    DONE_CHANNEL,
    LOGS,
    WorkerProcess,
    bench_database_url,
    peer_ratios,
    rss_mb,
    worker_env,
    write_result,
)
from bench.jobs import bench_signal
from bench.peers import saq_argv, saq_queue
from mluv.jobs.connections import redis_settings
from mluv.jobs.queues import Queue
from mluv.jobs.serializer import deserialize, serialize
from mluv.jobs.wake import create_waking_pool

QUEUE = Queue.FAST.value
PYCACHE = Path(".mluv") / "bench-pycache"
HEALTH_PORT = "18281"  # the health-port side's /healthz (a port no other benchmark uses)
SIDES: dict[str, tuple[list[str], dict[str, str]]] = {
    "mluv": ([str(BIN / "mluv"), "worker", "--queue", "fast"], {}),
    "mluv, health port": (
        [str(BIN / "mluv"), "worker", "--queue", "fast"],
        {"WORKER_HEALTH_PORT": HEALTH_PORT},
    ),
    "SAQ": (saq_argv(), {}),
    "bare arq": ([str(BIN / "arq"), "bench.jobs.BareWorkerSettings"], {}),
}


async def enqueue_signal(side: str, redis_url: str, n: int) -> None:
    """One `bench_signal` job for `side`'s worker, through that side's own client."""
    if side == "SAQ":
        queue = saq_queue(redis_url)
        await queue.connect()
        try:
            await queue.enqueue("bench_signal", n=n)
        finally:
            await queue.disconnect()
        return
    settings = redis_settings(redis_url)
    if side.startswith("mluv"):
        pool = await create_waking_pool(settings, default_queue_name=QUEUE)
        try:
            await bench_signal.enqueue(pool, n=n)
        finally:
            await pool.aclose()
        return
    bare = await create_pool(
        settings, job_serializer=serialize, job_deserializer=deserialize, default_queue_name=QUEUE
    )
    try:
        await bare.enqueue_job("bench_signal", n=n)
    finally:
        await bare.aclose()


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process so far (its utime and stime, in clock ticks)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


async def one_start(
    side: str, n: int, redis_url: str, database_url: str, idle_seconds: float, logs: Path
) -> tuple[float, float, float]:
    """Seconds from exec to the first job's signal, the worker's CPU seconds then, and its RSS (MB)
    `idle_seconds` later."""
    argv, extra = SIDES[side]
    client = await create_pool(redis_settings(redis_url))
    try:
        await client.flushdb()
        await enqueue_signal(side, redis_url, n)
        env = worker_env(
            database_url,
            redis_url,
            logs,
            EXTRA_JOB_MODULES="bench.jobs",
            PYTHONPYCACHEPREFIX=str(PYCACHE.resolve()),
            **extra,
        )
        env.pop("PYTHONDONTWRITEBYTECODE", None)
        async with client.pubsub() as pubsub:
            await pubsub.subscribe(DONE_CHANNEL)
            await pubsub.get_message(timeout=1)  # the subscription's confirmation
            started = time.perf_counter()
            worker = WorkerProcess(argv, env, logs / f"{side.replace(',', '').replace(' ', '-')}-{n}.log")
            try:
                while True:
                    message = await pubsub.get_message(ignore_subscribe_messages=True, timeout=30)
                    if message is None or worker.process.poll() is not None:
                        raise RuntimeError(f"{side}: no job within 30 s:\n{worker.output()[-3000:]}")
                    if int(message["data"]) == n:
                        break
                seconds = time.perf_counter() - started
                cpu = cpu_seconds(worker.pid)
                await asyncio.sleep(idle_seconds)
                rss = rss_mb(worker.pid)
            finally:
                await worker.stop()
    finally:
        await client.aclose()
    return seconds, cpu, rss


async def one_side(side: str, starts: int, idle_seconds: float, database_url: str) -> dict[str, Any]:
    from mluv.embedded import start_embedded

    logs = LOGS / "worker_start"
    logs.mkdir(parents=True, exist_ok=True)
    services = await asyncio.to_thread(
        start_embedded, Path(".mluv") / "bench-start-redis", postgres=False, redis_persistent=False
    )
    samples: list[float] = []
    cpu: list[float] = []
    rss: list[float] = []
    try:
        await one_start(side, -1, services.redis_url, database_url, 0.0, logs)  # fills the bytecode cache
        for n in range(starts):
            seconds, used, mb = await one_start(side, n, services.redis_url, database_url, idle_seconds, logs)
            samples.append(seconds)
            cpu.append(used)
            rss.append(mb)
            print(
                f"  {side:<18} start {n + 1}: {seconds * 1000:7.0f} ms, CPU {used * 1000:5.0f} ms, "
                f"RSS {mb:5.1f} MB",
                flush=True,
            )
    finally:
        await asyncio.to_thread(services.stop)
    return {
        "start_p50_s": statistics.median(samples),
        "start_max_s": max(samples),
        "start_cpu_p50_s": statistics.median(cpu),
        "idle_rss_mb": statistics.median(rss),
        "starts_s": samples,
        "cpu_s": cpu,
        "rss_mb": rss,
    }


async def main(starts: int, idle_seconds: float) -> None:
    results: dict[str, Any] = {}
    async with bench_database_url() as database_url:
        for side in SIDES:
            results[side] = await one_side(side, starts, idle_seconds, database_url)
    keys = ("start_p50_s", "start_max_s", "start_cpu_p50_s", "idle_rss_mb")
    ratios = peer_ratios({side: {key: results[side][key] for key in keys} for side in results})
    print(f"\nworker start-up: exec → first job picked ({starts} starts), RSS {idle_seconds:g} s later")
    print(f"{'':<20}{'p50 ms':>9}{'max ms':>9}{'CPU p50 ms':>12}{'idle RSS MB':>13}")
    for side, r in results.items():
        p50, longest, cpu = (r[key] * 1000 for key in keys[:3])
        print(f"{side:<20}{p50:>9.0f}{longest:>9.0f}{cpu:>12.0f}{r['idle_rss_mb']:>13.1f}")
    for label, ratio in ratios.items():
        p50, longest, cpu, rss = (ratio[key] for key in keys)
        print(f"{label:<20}{p50:>9.2f}{longest:>9.2f}{cpu:>12.2f}{rss:>13.2f}")
    path = write_result(
        "worker_start",
        {"starts": starts, "idle_seconds": idle_seconds, "sides": results, "ratios": ratios},
    )
    print(f"wrote {path}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--starts", type=int, default=5)
    parser.add_argument("--idle-seconds", type=float, default=3.0)
    arguments = parser.parse_args()
    asyncio.run(main(arguments.starts, arguments.idle_seconds))
