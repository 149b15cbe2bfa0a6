"""Worker throughput: the jobs framework (`mluv worker`) side by side with SAQ and bare arq.

    .venv/bin/python -m bench.throughput [--count 5000] [--concurrency 100] [--rounds 3]

Two workloads of `--count` jobs each: no-op jobs, and I/O-bound jobs (`asyncio.sleep(0.02)`), with
`--concurrency` jobs at a time. Three worker processes on the same Redis, one at a time:

- mluv: `mluv worker` (the deployed command, with every catalogue job, the wake-up loop, metrics,
  presence and one JSON log line per job), running `bench.jobs` jobs declared with `@job`
  (WORKER_MAX_JOBS=concurrency);
- SAQ 0.26: `saq bench.peers.settings`, SAQ's own worker and defaults, plain functions
  (concurrency=concurrency: that many tasks each blocked in BLMOVE on the queue list);
- bare arq: `arq bench.jobs.BareWorkerSettings`, plain functions, with the framework worker's settings
  (max_jobs, poll_delay, keep_result, job timeout, msgpack serializer, abort checks).

Two figures per workload, each jobs / seconds (enqueueing is not timed):

- steady: the worker is running and idle, every job is already stored, and all become due at one
  instant T0; the time is from T0 until the queue is empty. mluv and arq: the jobs are enqueued
  deferred by an hour, then one ZADD moves all their scores to T0 (200 ms ahead). SAQ keeps deferred
  jobs in its `incomplete` zset and its worker moves the due ones to the `queued` list once a second;
  the equivalent is to enqueue them scheduled an hour ahead and, at T0, do in one MULTI what that
  move does (ZADD score 0, RPUSH the ids): the state an immediate enqueue leaves, written at once
  (T0 is taken just before the MULTI, so its round trip counts against SAQ);
- from start: the jobs are enqueued due now with no worker; the time is from just before the worker
  process is exec'd until the queue is empty, so it includes the worker's start (imports, connections,
  the framework's start-up work) as a deploy or a machine started on demand sees it.

Each round runs every side, one after another, starting with the next side each round; the table
shows the median of the rounds and mluv's ratios to SAQ and to bare arq (above 1: mluv is faster).
Writes bench/results/throughput.json.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import time
from collections.abc import Awaitable, Iterator
from dataclasses import dataclass
from typing import Any

from arq.connections import ArqRedis, create_pool
from arq.utils import timestamp_ms
from saq.queue.redis import RedisQueue

from bench.common import (
    BIN,
    LOGS,
    PEERS,
    WorkerProcess,
    bench_database_url,
    bench_redis_url,
    peer_ratios,
    worker_env,
    write_result,
)
from bench.jobs import bench_noop, bench_sleep
from bench.peers import ready_key, saq_argv, saq_queue
from mluv.jobs.connections import redis_settings
from mluv.jobs.queues import Queue
from mluv.jobs.serializer import deserialize, serialize
from mluv.jobs.wake import WakingRedis, create_waking_pool, wake_channel

QUEUE = Queue.FAST.value
SLEEP = 0.02
LATER = 3600.0  # deferred by an hour: stored, not run
SIDES = {
    "mluv": [str(BIN / "mluv"), "worker", "--queue", "fast"],
    "SAQ": saq_argv(),
    "bare arq": [str(BIN / "arq"), "bench.jobs.BareWorkerSettings"],
}
WORKLOADS = ("noop", "sleep")
FIGURES = ("noop", "sleep", "noop_from_start", "sleep_from_start")
HEADINGS = ("no-op", f"sleep {SLEEP}s", "no-op, start", "sleep, start")


@dataclass
class Clients:
    ours: WakingRedis
    bare: ArqRedis
    saq: RedisQueue


async def enqueue_all(side: str, clients: Clients, workload: str, count: int, deferred: bool) -> list[str]:
    """Each side enqueues with its own client, 100 at a time; `deferred`: an hour ahead (not run yet)."""
    extra: dict[str, Any] = {} if workload == "noop" else {"seconds": SLEEP}
    declared = bench_noop if workload == "noop" else bench_sleep
    later = LATER if deferred else None
    name = f"bench_{workload}"
    scheduled = int(time.time() + LATER) if deferred else 0  # SAQ: epoch seconds, 0 is "now"
    ids: list[str] = []
    for start in range(0, count, 100):
        batch = range(start, min(start + 100, count))
        calls: Iterator[Awaitable[Any]]
        if side == "mluv":
            enqueue = declared.options(defer_by=later).enqueue
            calls = (enqueue(clients.ours, n=n, **extra) for n in batch)
        elif side == "SAQ":
            calls = (clients.saq.enqueue(name, n=n, scheduled=scheduled, **extra) for n in batch)
        else:
            calls = (clients.bare.enqueue_job(name, n=n, _defer_by=later, **extra) for n in batch)
        jobs = await asyncio.gather(*calls)
        ids += [job.id if side == "SAQ" else job.job_id for job in jobs if job is not None]
    assert len(ids) == count, f"{side}: {len(ids)} enqueued, expected {count}"
    return ids


async def release(side: str, clients: Clients, ids: list[str]) -> int:
    """Make every deferred job due at once; returns T0 (ms)."""
    if side == "SAQ":
        t0 = timestamp_ms()
        async with clients.saq.redis.pipeline(transaction=True) as pipe:
            # What SAQ's schedule script does with due jobs (saq.queue.redis.RedisQueue.schedule).
            pipe.zadd(clients.saq.namespace("incomplete"), dict.fromkeys(ids, 0), xx=True)
            pipe.rpush(clients.saq.namespace("queued"), *ids)
            await pipe.execute()
        return t0
    t0 = timestamp_ms() + 200
    await clients.ours.zadd(QUEUE, dict.fromkeys(ids, t0), xx=True)
    await clients.ours.publish(wake_channel(clients.ours, QUEUE), t0)  # as an enqueue does; arq ignores it
    return t0


async def drained(side: str, clients: Clients, ids: list[str]) -> None:
    """Until none of `ids` is left: SAQ and arq drop a job from their queue when its result is written."""
    while True:
        if side == "SAQ":
            if not await clients.saq.count("incomplete"):
                return
        # mluv's queue may also hold a cron job: count the bench's own jobs once few are left.
        elif await clients.ours.zcard(QUEUE) < 20 and not any(await clients.ours.zmscore(QUEUE, ids)):
            return
        await asyncio.sleep(0.002)


async def steady(side: str, clients: Clients, workload: str, count: int) -> float:
    ids = await enqueue_all(side, clients, workload, count, deferred=True)
    t0 = await release(side, clients, ids)
    await drained(side, clients, ids)
    return count / ((timestamp_ms() - t0) / 1000)


@dataclass
class Run:
    side: str
    round_: int
    count: int
    env: dict[str, str]
    clients: Clients

    def start(self, label: str) -> WorkerProcess:
        log = LOGS / "throughput" / f"{self.side.replace(' ', '-')}-{label}-{self.round_}.log"
        return WorkerProcess(SIDES[self.side], self.env, log)

    async def ready(self, worker: WorkerProcess) -> None:
        if self.side == "SAQ":
            await worker.wrote(self.clients.ours, ready_key())
        else:
            await worker.ready(self.clients.ours, QUEUE)
        await asyncio.sleep(1.0)  # start-up work (mluv's cron catch-up) done

    async def steady(self) -> dict[str, float]:
        await self.clients.ours.flushdb()
        worker = self.start("steady")
        try:
            await self.ready(worker)
            return {w: await steady(self.side, self.clients, w, self.count) for w in WORKLOADS}
        finally:
            await worker.stop()

    async def from_start(self, workload: str) -> float:
        await self.clients.ours.flushdb()
        ids = await enqueue_all(self.side, self.clients, workload, self.count, deferred=False)
        began = time.monotonic()
        worker = self.start(f"{workload}-from-start")
        try:
            await drained(self.side, self.clients, ids)
            return self.count / (time.monotonic() - began)
        finally:
            await worker.stop()


async def one_side(
    side: str, round_: int, count: int, concurrency: int, database_url: str, redis_url: str
) -> dict[str, float]:
    logs = LOGS / "throughput"
    logs.mkdir(parents=True, exist_ok=True)
    settings = redis_settings(redis_url)
    clients = Clients(
        ours=await create_waking_pool(settings, default_queue_name=QUEUE),
        bare=await create_pool(
            settings, job_serializer=serialize, job_deserializer=deserialize, default_queue_name=QUEUE
        ),
        saq=saq_queue(redis_url),
    )
    await clients.saq.connect()
    env = worker_env(
        database_url,
        redis_url,
        logs,
        EXTRA_JOB_MODULES="bench.jobs",
        WORKER_MAX_JOBS=str(concurrency),
        SAQ_CONCURRENCY=str(concurrency),
    )
    run = Run(side, round_, count, env, clients)
    try:
        figures = await run.steady()
        for workload in WORKLOADS:
            figures[f"{workload}_from_start"] = await run.from_start(workload)
        return figures
    finally:
        await clients.ours.aclose()
        await clients.bare.aclose()
        await clients.saq.disconnect()


def row(label: str, cells: list[str]) -> str:
    return f"{label:<12}" + "".join(f"{cell:>14}" for cell in cells)


async def main(count: int, concurrency: int, rounds: int) -> None:
    runs: dict[str, list[dict[str, float]]] = {side: [] for side in SIDES}
    with bench_redis_url() as redis_url:
        async with bench_database_url() as database_url:
            for round_ in range(rounds):
                order = list(SIDES)[round_ % len(SIDES) :] + list(SIDES)[: round_ % len(SIDES)]
                for side in order:  # each round starts with the next side: no side always runs first
                    figures = await one_side(side, round_, count, concurrency, database_url, redis_url)
                    runs[side].append(figures)
                    cells = [f"{figures[key]:.0f}" for key in FIGURES]
                    print(f"round {round_ + 1} " + row(side, cells), flush=True)
    median = {
        side: {key: statistics.median(r[key] for r in results) for key in FIGURES}
        for side, results in runs.items()
    }
    ratios = peer_ratios(median)
    print(f"\nthroughput, {count} jobs, {concurrency} concurrent, median of {rounds} rounds (jobs/s)")
    print(row("", list(HEADINGS)))
    for side in SIDES:
        print(row(side, [f"{median[side][key]:.0f}" for key in FIGURES]))
    for label in PEERS:
        print(row(label, [f"{ratios[label][key]:.2f}×" for key in FIGURES]))
    path = write_result(
        "throughput",
        {
            "count": count,
            "concurrency": concurrency,
            "sleep_seconds": SLEEP,
            "unit": "jobs/s",
            "rounds": runs,
            "median": median,
            "ratio_mluv_to_saq": ratios["mluv / SAQ"],
            "ratio_mluv_to_bare": ratios["mluv / arq"],
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
