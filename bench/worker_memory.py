"""Worker memory: RSS of a `mluv worker` process idle, then while it runs 100,000 jobs.

    .venv/bin/python -m bench.worker_memory [--jobs 100000] [--step 10000]

The deployed command with every catalogue job (and `bench.jobs`), on BENCH_REDIS_URL (a db it may
flush; else an embedded redis-server) and a throwaway database. RSS from /proc/<pid>/status: at start
(idle, after its startup work), again once the fast queue's first per-minute crons have run (a worker
starts without SQLAlchemy and aiogram, and those crons load them: docs/decisions.md 44), then after each
`--step` no-op jobs (`bench_noop`, enqueued in batches through the jobs framework, the worker draining
the queue). Growth after warm-up: the last reading less the one after the first step, both after the
crons. Writes bench/results/worker_memory.json.
"""

from __future__ import annotations

import argparse
import asyncio
import time
from typing import Any

from bench.common import (
    BIN,
    LOGS,
    WorkerProcess,
    bench_database_url,
    bench_redis_url,
    between_cron_ticks,
    rss_mb,
    until_first_crons_ran,
    worker_env,
    write_result,
)
from bench.jobs import bench_noop
from mluv.jobs.connections import redis_settings
from mluv.jobs.queues import Queue
from mluv.jobs.wake import create_waking_pool

QUEUE = Queue.FAST.value


async def drain(pool: Any, within: float = 300) -> None:
    deadline = time.monotonic() + within
    while True:  # arq removes a job from the queue when its result is written
        if not await pool.zcard(QUEUE):
            return
        if time.monotonic() > deadline:
            raise RuntimeError("the worker did not drain the queue")
        await asyncio.sleep(0.05)


async def main(jobs: int, step: int) -> None:
    logs = LOGS / "worker_memory"
    logs.mkdir(parents=True, exist_ok=True)
    readings: list[dict[str, Any]] = []
    with bench_redis_url() as redis_url:
        async with bench_database_url() as database_url:
            pool = await create_waking_pool(redis_settings(redis_url), default_queue_name=QUEUE)
            await pool.flushdb()
            # Results kept 60 s rather than an hour, so Redis holds a step's results, not 100,000.
            env = worker_env(
                database_url, redis_url, logs, EXTRA_JOB_MODULES="bench.jobs", JOB_KEEP_RESULT="60"
            )
            await between_cron_ticks(room=20.0)  # the idle reading before the first tick
            worker = WorkerProcess([str(BIN / "mluv"), "worker", "--queue", "fast"], env, logs / "worker.log")
            try:
                await worker.ready(pool, QUEUE)
                await asyncio.sleep(3.0)  # startup work (cron catch-up) done, no tick meanwhile
                idle = rss_mb(worker.pid)
                print(f"idle          RSS {idle:.1f} MB", flush=True)
                await asyncio.sleep(until_first_crons_ran())
                readings.append({"jobs": 0, "rss_mb": rss_mb(worker.pid)})
                print(f"after crons   RSS {readings[0]['rss_mb']:.1f} MB", flush=True)
                started = time.monotonic()
                done = 0
                while done < jobs:
                    for first in range(done, done + step, 500):
                        await asyncio.gather(
                            *(bench_noop.enqueue(pool, n=n) for n in range(first, first + 500))
                        )
                    await drain(pool)
                    done += step
                    readings.append({"jobs": done, "rss_mb": rss_mb(worker.pid)})
                    print(f"{done:>7} jobs  RSS {readings[-1]['rss_mb']:.1f} MB", flush=True)
                seconds = time.monotonic() - started
            finally:
                await worker.stop()
                await pool.aclose()
    warm = readings[1]["rss_mb"]
    figures = {
        "jobs": jobs,
        "idle_mb": idle,
        "idle_after_first_crons_mb": readings[0]["rss_mb"],
        "after_warm_up_mb": warm,
        "final_mb": readings[-1]["rss_mb"],
        "max_mb": max(r["rss_mb"] for r in readings),
        "growth_after_warm_up_mb": readings[-1]["rss_mb"] - warm,
        "seconds": seconds,
        "readings": readings,
    }
    print(
        f"\nworker RSS: idle {idle:.1f} MB, {readings[0]['rss_mb']:.1f} MB once its first crons ran, "
        f"after {step} jobs {warm:.1f} MB, "
        f"after {jobs} jobs {figures['final_mb']:.1f} MB (max {figures['max_mb']:.1f}); "
        f"growth after warm-up {figures['growth_after_warm_up_mb']:+.1f} MB; {jobs / seconds:.0f} jobs/s"
    )
    print(f"wrote {write_result('worker_memory', figures)}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--jobs", type=int, default=100_000)
    parser.add_argument("--step", type=int, default=10_000)
    arguments = parser.parse_args()
    asyncio.run(main(arguments.jobs, arguments.step))
