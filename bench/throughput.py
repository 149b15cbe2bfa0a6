"""Worker throughput: the jobs framework (`mluv worker`) side by side with bare arq, same settings.

    .venv/bin/python -m bench.throughput [--count 5000] [--concurrency 100] [--rounds 3]

Two workloads of `--count` jobs each: no-op jobs, and I/O-bound jobs (`asyncio.sleep(0.02)`), with
`--concurrency` jobs at a time (WORKER_MAX_JOBS). Two worker processes, one at a time:

- mluv: `mluv worker` (the deployed command, with every catalogue job, the wake-up loop, metrics,
  presence and one JSON log line per job), running `bench.jobs` jobs declared with `@job`;
- bare arq: `arq bench.jobs.BareWorkerSettings`, plain functions, with the framework worker's settings
  (max_jobs, poll_delay, keep_result, job timeout, msgpack serializer, abort checks).

The jobs are enqueued deferred (each side with its own enqueue), then all made due at one instant T0
(one ZADD); the figure is jobs / (time until the queue is empty - T0): enqueueing is not timed. Each
round runs both sides; the table shows the median of the rounds. Writes bench/results/throughput.json.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
from typing import Any

from arq.connections import ArqRedis, create_pool
from arq.utils import timestamp_ms

from bench.common import (
    BIN,
    LOGS,
    WorkerProcess,
    bench_database_url,
    bench_redis_url,
    worker_env,
    write_result,
)
from bench.jobs import bench_noop, bench_sleep
from mluv.jobs.connections import redis_settings
from mluv.jobs.queues import Queue
from mluv.jobs.serializer import deserialize, serialize
from mluv.jobs.wake import WakingRedis, create_waking_pool, wake_channel

QUEUE = Queue.FAST.value
SLEEP = 0.02
SIDES = {
    "bare arq": [str(BIN / "arq"), "bench.jobs.BareWorkerSettings"],
    "mluv": [str(BIN / "mluv"), "worker", "--queue", "fast"],
}


async def enqueue_all(side: str, ours: WakingRedis, bare: ArqRedis, workload: str, count: int) -> list[str]:
    """Each side enqueues with its own client, 100 at a time, deferred by an hour (not run yet)."""
    later = 3600.0
    extra: dict[str, Any] = {} if workload == "noop" else {"seconds": SLEEP}
    declared = bench_noop if workload == "noop" else bench_sleep
    ids: list[str] = []
    for start in range(0, count, 100):
        batch = range(start, min(start + 100, count))
        if side == "mluv":
            jobs = await asyncio.gather(
                *(declared.options(defer_by=later).enqueue(ours, n=n, **extra) for n in batch)
            )
        else:
            jobs = await asyncio.gather(
                *(bare.enqueue_job(f"bench_{workload}", n=n, _defer_by=later, **extra) for n in batch)
            )
        ids += [job.job_id for job in jobs if job is not None]
    return ids


async def run_workload(side: str, ours: WakingRedis, bare: ArqRedis, workload: str, count: int) -> float:
    ids = await enqueue_all(side, ours, bare, workload, count)
    assert len(ids) == count, f"{len(ids)} enqueued, expected {count}"
    t0 = timestamp_ms() + 200
    await ours.zadd(QUEUE, dict.fromkeys(ids, t0), xx=True)
    await ours.publish(wake_channel(ours, QUEUE), t0)  # what an enqueue would do; arq's loop ignores it
    while True:  # arq removes a job from the queue when its result is written
        # The queue may also hold a cron job: count the bench's own jobs once few are left.
        if await ours.zcard(QUEUE) < 20 and not any(await ours.zmscore(QUEUE, ids)):
            break
        await asyncio.sleep(0.002)
    seconds = (timestamp_ms() - t0) / 1000
    return count / seconds


async def one_side(
    side: str, round_: int, count: int, concurrency: int, database_url: str, redis_url: str
) -> dict[str, float]:
    logs = LOGS / "throughput"
    logs.mkdir(parents=True, exist_ok=True)
    settings = redis_settings(redis_url)
    ours = await create_waking_pool(settings, default_queue_name=QUEUE)
    bare = await create_pool(
        settings, job_serializer=serialize, job_deserializer=deserialize, default_queue_name=QUEUE
    )
    await ours.flushdb()
    env = worker_env(
        database_url,
        redis_url,
        logs,
        EXTRA_JOB_MODULES="bench.jobs",
        WORKER_MAX_JOBS=str(concurrency),
    )
    worker = WorkerProcess(SIDES[side], env, logs / f"{side.replace(' ', '-')}-{round_}.log")
    try:
        await worker.ready(ours, QUEUE)
        await asyncio.sleep(1.0)  # startup work (cron catch-up) done
        return {
            workload: await run_workload(side, ours, bare, workload, count) for workload in ("noop", "sleep")
        }
    finally:
        await worker.stop()
        await ours.aclose()
        await bare.aclose()


async def main(count: int, concurrency: int, rounds: int) -> None:
    runs: dict[str, list[dict[str, float]]] = {side: [] for side in SIDES}
    with bench_redis_url() as redis_url:
        async with bench_database_url() as database_url:
            for round_ in range(rounds):
                for side in SIDES:
                    figures = await one_side(side, round_, count, concurrency, database_url, redis_url)
                    runs[side].append(figures)
                    print(
                        f"round {round_ + 1} {side:<9} no-op {figures['noop']:>7.0f} jobs/s"
                        f"   sleep({SLEEP}) {figures['sleep']:>7.0f} jobs/s",
                        flush=True,
                    )
    median = {
        side: {w: statistics.median(r[w] for r in results) for w in ("noop", "sleep")}
        for side, results in runs.items()
    }
    ratio = {w: median["mluv"][w] / median["bare arq"][w] for w in ("noop", "sleep")}
    print(f"\nthroughput, {count} jobs, {concurrency} concurrent, median of {rounds} rounds (jobs/s)")
    print(f"{'':<12}{'no-op':>10}{f'sleep {SLEEP}s':>14}")
    for side in SIDES:
        print(f"{side:<12}{median[side]['noop']:>10.0f}{median[side]['sleep']:>14.0f}")
    print(f"{'mluv / arq':<12}{ratio['noop']:>10.1%}{ratio['sleep']:>14.1%}")
    path = write_result(
        "throughput",
        {
            "count": count,
            "concurrency": concurrency,
            "sleep_seconds": SLEEP,
            "unit": "jobs/s",
            "rounds": runs,
            "median": median,
            "ratio_mluv_to_bare": ratio,
        },
    )
    print(f"wrote {path}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--count", type=int, default=5000)
    parser.add_argument("--concurrency", type=int, default=100)
    parser.add_argument("--rounds", type=int, default=3)
    arguments = parser.parse_args()
    asyncio.run(main(arguments.count, arguments.concurrency, arguments.rounds))
