"""Enqueue latency from bot-side code: the jobs framework next to SAQ's `Queue.enqueue` and bare arq's
`enqueue_job`.

    .venv/bin/python -m bench.enqueue_latency [--count 5000]

All enqueue the same job shape (`bench_noop(user_id, note)`) into an otherwise idle Redis (no worker),
one at a time, each with its own client on the same Redis, the sides taking turns in ten blocks:
- bare arq: `ArqRedis.enqueue_job`, a WATCH/EXISTS then MULTI/PSETEX/ZADD/EXEC transaction (three
  round trips);
- SAQ 0.26: `Queue.enqueue` (bench.peers.saq_queue), one EVALSHA that checks, SETs the JSON job and
  adds it to its zset and list;
- mluv pool: `WakingRedis.enqueue_job` (what `Resources.pool` is), arq's call, one EVALSHA that makes
  arq's checks, writes the same keys and publishes the wake-up;
- mluv job: `DeclaredJob.enqueue`, the bot's call: strict pydantic validation, then the above.

The ratios are the bot's call (mluv job) over SAQ's and over arq's (below 1: mluv is faster).
Writes bench/results/enqueue_latency.json (µs).
"""

from __future__ import annotations

import argparse
import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import Any

from arq.connections import create_pool
from redis.asyncio import Redis

from bench.common import PEERS, bench_redis_url, peer_ratios, percentiles, write_result
from bench.peers import saq_queue
from mluv.jobs import JobContext, Queue
from mluv.jobs.connections import create_arq_pool, redis_settings
from mluv.jobs.declare import DeclaredJob
from mluv.jobs.serializer import deserialize, serialize


async def noop(ctx: JobContext[Any], user_id: int, note: str) -> None:
    return None


NOOP = DeclaredJob(noop, name="bench_noop", queue=Queue.FAST)
QUANTILES = ("p50", "p90", "p99", "max")
BLOCKS = 10


async def measure(redis: Redis, count: int, enqueue: Callable[[int], Awaitable[Any]]) -> list[float]:
    samples = []
    for i in range(count):
        started = time.perf_counter()
        await enqueue(i)
        samples.append((time.perf_counter() - started) * 1_000_000)
    await redis.flushdb()  # BENCH_REDIS_URL is a db the benchmarks may flush
    return samples


async def main(count: int) -> None:
    with bench_redis_url() as url:
        ours = await create_arq_pool(url)
        bare = await create_pool(
            redis_settings(url),
            job_serializer=serialize,
            job_deserializer=deserialize,
            default_queue_name=Queue.FAST.value,
        )
        saq = saq_queue(url)
        await saq.connect()
        sides: dict[str, Callable[[int], Awaitable[Any]]] = {
            "bare arq enqueue_job": lambda i: bare.enqueue_job("bench_noop", user_id=i, note="x"),
            "SAQ Queue.enqueue": lambda i: saq.enqueue("bench_noop", user_id=i, note="x"),
            "mluv pool enqueue_job": lambda i: ours.enqueue_job(
                "bench_noop", user_id=i, note="x", _queue_name=Queue.FAST.value
            ),
            "mluv DeclaredJob.enqueue": lambda i: NOOP.enqueue(ours, user_id=i, note="x"),
        }
        try:
            for enqueue in sides.values():  # warm-up: connections, scripts loaded
                await measure(ours, 500, enqueue)
            samples: dict[str, list[float]] = {label: [] for label in sides}
            for _ in range(BLOCKS):  # interleaved, so that a busy spell of the machine hits every side
                for label, enqueue in sides.items():
                    samples[label] += await measure(ours, count // BLOCKS, enqueue)
            rows = {label: percentiles(values) for label, values in samples.items()}
        finally:
            await ours.aclose()
            await bare.aclose()
            await saq.disconnect()
    quantiles = {label: {k: figures[k] for k in QUANTILES} for label, figures in rows.items()}
    ratios = peer_ratios(
        {
            "mluv": quantiles["mluv DeclaredJob.enqueue"],
            "SAQ": quantiles["SAQ Queue.enqueue"],
            "bare arq": quantiles["bare arq enqueue_job"],
        }
    )
    print(f"enqueue latency over {count} enqueues (µs)")
    print(f"{'':<26}" + "".join(f"{k:>8}" for k in QUANTILES))
    for label, figures in quantiles.items():
        print(f"{label:<26}" + "".join(f"{figures[k]:>8.0f}" for k in QUANTILES))
    for label in PEERS:
        print(f"{label:<26}" + "".join(f"{ratios[label][k]:>7.2f}×" for k in QUANTILES))
    path = write_result(
        "enqueue_latency",
        {
            "count": count,
            "unit": "µs",
            "bare_arq": rows["bare arq enqueue_job"],
            "saq": rows["SAQ Queue.enqueue"],
            "mluv_pool": rows["mluv pool enqueue_job"],
            "mluv": rows["mluv DeclaredJob.enqueue"],
            "ratio_mluv_to_saq": ratios["mluv / SAQ"],
            "ratio_mluv_to_bare": ratios["mluv / arq"],
        },
    )
    print(f"wrote {path}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--count", type=int, default=5000)
    asyncio.run(main(parser.parse_args().count))
