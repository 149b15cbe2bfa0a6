"""Enqueue latency from bot-side code: the jobs framework next to bare arq's `enqueue_job`.

    .venv/bin/python -m bench.enqueue_latency [--count 5000]

All enqueue the same job shape into an otherwise idle Redis (no worker), one at a time:
- bare arq: `ArqRedis.enqueue_job`, a WATCH/EXISTS then MULTI/PSETEX/ZADD/EXEC transaction (three
  round trips);
- mluv pool: `WakingRedis.enqueue_job` (what `Resources.pool` is), same call, one EVALSHA that makes
  the same checks, writes the same keys and publishes the wake-up;
- mluv job: `DeclaredJob.enqueue`, the bot's call: strict pydantic validation, then the above.
"""

from __future__ import annotations

import argparse
import asyncio
import time
from typing import Any

from arq.connections import ArqRedis, create_pool

from bench.common import bench_redis_url, percentiles, write_result
from mluv.jobs import JobContext, Queue
from mluv.jobs.connections import create_arq_pool, redis_settings
from mluv.jobs.declare import DeclaredJob
from mluv.jobs.serializer import deserialize, serialize


async def noop(ctx: JobContext[Any], user_id: int, note: str) -> None:
    return None


NOOP = DeclaredJob(noop, name="bench_noop", queue=Queue.FAST)


async def measure(pool: ArqRedis, count: int, declared: bool) -> list[float]:
    samples = []
    for i in range(count):
        started = time.perf_counter()
        if declared:
            await NOOP.enqueue(pool, user_id=i, note="x")
        else:
            await pool.enqueue_job("bench_noop", user_id=i, note="x", _queue_name=Queue.FAST.value)
        samples.append((time.perf_counter() - started) * 1000)
    await pool.delete(Queue.FAST.value)
    keys: list[Any] = [key async for key in pool.scan_iter("arq:job:*", count=1000)]
    for start in range(0, len(keys), 1000):
        await pool.delete(*keys[start : start + 1000])
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
        rows: dict[str, dict[str, float]] = {}
        try:
            await measure(ours, 500, declared=True)  # warm-up
            await measure(bare, 500, declared=False)
            rows["bare arq enqueue_job"] = percentiles(await measure(bare, count, declared=False))
            rows["mluv pool enqueue_job"] = percentiles(await measure(ours, count, declared=False))
            rows["mluv DeclaredJob.enqueue"] = percentiles(await measure(ours, count, declared=True))
        finally:
            await ours.aclose()
            await bare.aclose()
    print(f"enqueue latency over {count} enqueues (ms)")
    print(f"{'':<26}{'p50':>8}{'p90':>8}{'p99':>8}{'max':>8}")
    for label, figures in rows.items():
        print(f"{label:<26}" + "".join(f"{figures[k]:>8.3f}" for k in ("p50", "p90", "p99", "max")))
    path = write_result(
        "enqueue_latency",
        {
            "count": count,
            "unit": "ms",
            "bare_arq": rows["bare arq enqueue_job"],
            "mluv_pool": rows["mluv pool enqueue_job"],
            "mluv": rows["mluv DeclaredJob.enqueue"],
        },
    )
    print(f"wrote {path}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--count", type=int, default=5000)
    asyncio.run(main(parser.parse_args().count))
