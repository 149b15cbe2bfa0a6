"""A caller awaiting a job's result: enqueue → result in hand, with an idle worker, mluv vs SAQ vs arq.

    .venv/bin/python -m bench.awaited_result [--count 300] [--slow-count 20]

One worker process at a time on the same Redis (BENCH_REDIS_URL, flushed before each side), each
running a no-op job; the caller enqueues `--count` jobs one after another (each after a random 2-10 ms
pause, so that it meets an idle worker) and times from just before the enqueue to the result in hand:

- mluv: `mluv worker --queue fast`; `await bench_noop.enqueue(pool, n=n)` then `await job.result()`,
  woken by the worker's publish (mluv.jobs.results); measured between the fast queue's crons;
- SAQ 0.26: its worker `saq bench.peers.settings`; `await queue.enqueue("bench_noop", n=n)` then
  `await job.refresh(until_complete=1)`, which SAQ pushes over pub/sub (its `queue.apply` polls every
  `poll_interval` in 0.26). SAQ subscribes for each wait after reading the job once: a job done in
  between is missed and the wait runs to its end (1 s), then reads again; those are counted, and a
  second row gives SAQ's figures without them;
- bare arq 0.28 (`arq bench.jobs.BareWorkerSettings`), polling on both sides: worker and
  `job.result(poll_delay=...)` at 5 ms, and at arq's default 0.5 s (`--slow-count` jobs).

Prints a table and writes bench/results/awaited_result.json with each side's percentiles and the ratios
mluv / SAQ and mluv / arq (5 ms polls) of p50 and p99.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import time
from collections.abc import Awaitable, Callable
from typing import Any

from arq.connections import create_pool
from saq.job import Status

from bench.common import (
    BIN,
    LOGS,
    WorkerProcess,
    bench_database_url,
    bench_redis_url,
    between_cron_ticks,
    peer_ratios,
    percentiles,
    worker_env,
    write_result,
)
from bench.jobs import bench_noop
from bench.peers import ready_key, saq_argv, saq_queue
from mluv.jobs.connections import redis_settings
from mluv.jobs.queues import Queue
from mluv.jobs.serializer import deserialize, serialize
from mluv.jobs.wake import create_waking_pool

QUEUE = Queue.FAST.value
TIMEOUT = 10.0  # per job: a result later than this fails the benchmark
WARM_UP = 5
SAQ_WAIT = 1.0  # SAQ's until_complete; a push it missed costs this (counted: saq_missed)
saq_missed: list[int] = []
ARQ = [str(BIN / "arq"), "bench.jobs.BareWorkerSettings"]
# side → (worker command, its extra environment, the caller's result poll in seconds, if it polls)
SIDES: dict[str, tuple[list[str], dict[str, str], float | None]] = {
    "mluv": ([str(BIN / "mluv"), "worker", "--queue", "fast"], {}, None),
    "SAQ": (saq_argv(), {}, None),
    "bare arq, 5 ms polls": (ARQ, {"WORKER_POLL_DELAY": "0.005"}, 0.005),
    "bare arq, 0.5 s polls": (ARQ, {"WORKER_POLL_DELAY": "0.5"}, 0.5),
}

Call = Callable[[int], Awaitable[Any]]


async def caller(side: str, redis_url: str) -> tuple[Call, Callable[[], Awaitable[None]]]:
    """One awaited job (enqueue, then its result) for `side`, and how to close its client."""
    if side == "SAQ":
        queue = saq_queue(redis_url)
        await queue.connect()

        async def saq_call(n: int) -> Any:
            job = await queue.enqueue("bench_noop", n=n)
            assert job is not None
            for _ in range(int(TIMEOUT / SAQ_WAIT)):
                try:
                    await job.refresh(until_complete=SAQ_WAIT)
                except TimeoutError:
                    # Done before SAQ's (per-wait) subscription: its message went to no one.
                    saq_missed.append(n)
                if job.status == Status.COMPLETE:
                    return job.result
            raise RuntimeError(f"SAQ job {n}: {job.status}")

        return saq_call, queue.disconnect
    settings = redis_settings(redis_url)
    if side == "mluv":
        pool = await create_waking_pool(settings, default_queue_name=QUEUE)

        async def mluv_call(n: int) -> Any:
            job = await bench_noop.enqueue(pool, n=n)
            assert job is not None
            return await job.result(timeout=TIMEOUT)

        return mluv_call, pool.aclose
    poll = SIDES[side][2]
    assert poll is not None
    bare = await create_pool(
        settings, job_serializer=serialize, job_deserializer=deserialize, default_queue_name=QUEUE
    )

    async def arq_call(n: int) -> Any:
        job = await bare.enqueue_job("bench_noop", n=n)
        assert job is not None
        return await job.result(timeout=TIMEOUT, poll_delay=poll)

    return arq_call, bare.aclose


async def one_side(side: str, count: int, redis_url: str, database_url: str) -> list[float]:
    logs = LOGS / "awaited_result"
    logs.mkdir(parents=True, exist_ok=True)
    argv, extra, _ = SIDES[side]
    client = await create_pool(redis_settings(redis_url))
    await client.flushdb()
    env = worker_env(database_url, redis_url, logs, EXTRA_JOB_MODULES="bench.jobs", **extra)
    worker = WorkerProcess(argv, env, logs / f"{side.replace(',', '').replace(' ', '-')}.log")
    call, close = await caller(side, redis_url)
    samples: list[float] = []
    try:
        if side == "SAQ":
            await worker.wrote(client, ready_key())
        else:
            await worker.ready(client, QUEUE)
        await asyncio.sleep(2.0)  # start-up work (the mluv worker's cron catch-up) done
        if side == "mluv":
            await between_cron_ticks()
        for n in range(-WARM_UP, count):
            await asyncio.sleep(random.uniform(0.002, 0.010))
            started = time.perf_counter()
            await call(n)
            if n >= 0:
                samples.append((time.perf_counter() - started) * 1000)
    finally:
        await close()
        await worker.stop()
        await client.flushdb()
        await client.aclose()
    return samples


async def main(count: int, slow_count: int) -> None:
    figures: dict[str, dict[str, float]] = {}
    with bench_redis_url() as redis_url:
        async with bench_database_url() as database_url:
            for side in SIDES:
                n = slow_count if "0.5 s" in side else count
                samples = await one_side(side, n, redis_url, database_url)
                figures[side] = percentiles(samples)
                if side == "SAQ":
                    caught = [ms for i, ms in enumerate(samples) if i not in saq_missed]
                    figures["SAQ, pushes caught"] = percentiles(caught)
                f = figures[side]
                print(f"{side:<22} p50 {f['p50']:>7.2f} ms  p99 {f['p99']:>7.2f} ms", flush=True)
    missed = len([n for n in saq_missed if n >= 0])
    print("\nenqueue → awaited result, idle worker (ms)")
    print(f"{'':<22}{'p50':>8}{'p90':>8}{'p99':>8}{'max':>8}{'n':>6}")
    for side, f in figures.items():
        print(f"{side:<22}{f['p50']:>8.2f}{f['p90']:>8.2f}{f['p99']:>8.2f}{f['max']:>8.2f}{f['n']:>6}")
    pick = {key: {"p50": f["p50"], "p99": f["p99"]} for key, f in figures.items()}
    ratios = peer_ratios({"mluv": pick["mluv"], "SAQ": pick["SAQ"], "bare arq": pick["bare arq, 5 ms polls"]})
    ratios["mluv / arq at 0.5 s"] = {
        k: pick["mluv"][k] / pick["bare arq, 0.5 s polls"][k] for k in ("p50", "p99")
    }
    print(f"SAQ pushes missed (a {SAQ_WAIT:g} s wait each): {missed}")
    for label, ratio in ratios.items():
        print(f"{label:<22} p50 {ratio['p50']:.2f}×  p99 {ratio['p99']:.2f}×")
    path = write_result(
        "awaited_result",
        {
            "unit": "ms",
            "sides": figures,
            "ratios": ratios,
            "target": {"p50": 1.3, "p99": 4.0},
            "saq_missed_pushes": missed,
        },
    )
    print(f"wrote {path}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--count", type=int, default=300)
    parser.add_argument("--slow-count", type=int, default=20, help="jobs for arq at its 0.5 s polls")
    arguments = parser.parse_args()
    asyncio.run(main(arguments.count, arguments.slow_count))
