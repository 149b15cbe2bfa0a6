"""End-to-end job latency (enqueue → job done, idle worker) and the idle worker's Redis cost.

    .venv/bin/python -m bench.e2e_latency [--count 500] [--idle-seconds 30]

Three worker processes, one at a time, each on a private redis-server (so that `INFO commandstats`
counts nobody else's commands):

- bare arq at its default 0.5 s poll (`arq bench.jobs.BareWorkerSettings`, WORKER_POLL_DELAY=0.5);
- bare arq at a 10 ms poll (WORKER_POLL_DELAY=0.01);
- `mluv worker`: an enqueue wakes it (mluv.jobs.wake), with the shipped settings; its idle window
  includes the fast queue's two per-minute crons (send_scheduled_messages, reconcile_deliveries);
- `mluv worker --queue long`, idle cost only: the same loop without per-minute crons.

Latency: `--count` jobs one at a time (40 for the 0.5 s poll), each enqueued after a random 20-50 ms
pause (20-520 ms for the 0.5 s poll, so arrivals fall anywhere in its cycle) so it meets an idle
worker; the job PUBLISHes its number as its last act, and the figure is from just before the enqueue
call to that message (the result write follows it, ~0.1 ms). Idle cost: Redis
commands per second over `--idle-seconds` with the worker idle (the difference of two INFO commandstats,
less the bench's own INFO). Writes bench/results/e2e_latency.json.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import time
from pathlib import Path
from typing import Any

from arq.connections import create_pool

from bench.common import (
    BIN,
    LOGS,
    WorkerProcess,
    bench_database_url,
    percentiles,
    worker_env,
    write_result,
)
from bench.jobs import DONE_CHANNEL, bench_signal
from mluv.jobs.connections import redis_settings
from mluv.jobs.queues import Queue
from mluv.jobs.serializer import deserialize, serialize
from mluv.jobs.wake import create_waking_pool

QUEUE = Queue.FAST.value
SIDES: dict[str, tuple[list[str], dict[str, str]]] = {
    "bare arq, 0.5 s poll": (
        [str(BIN / "arq"), "bench.jobs.BareWorkerSettings"],
        {"WORKER_POLL_DELAY": "0.5"},
    ),
    "bare arq, 10 ms poll": (
        [str(BIN / "arq"), "bench.jobs.BareWorkerSettings"],
        {"WORKER_POLL_DELAY": "0.01"},
    ),
    "mluv worker": ([str(BIN / "mluv"), "worker", "--queue", "fast"], {}),
    # Idle cost only: the long queue has no per-minute cron (the fast one runs two a minute).
    "mluv worker, long queue": ([str(BIN / "mluv"), "worker", "--queue", "long"], {}),
}


async def commands(client: Any) -> dict[str, int]:
    stats = await client.info("commandstats")
    return {name.removeprefix("cmdstat_"): int(value["calls"]) for name, value in stats.items()}


async def idle_cost(client: Any, seconds: float) -> dict[str, Any]:
    before = await commands(client)
    await asyncio.sleep(seconds)
    after = await commands(client)
    delta = {name: calls - before.get(name, 0) for name, calls in after.items()}
    delta["info"] -= 1  # the first INFO above
    delta = {name: calls for name, calls in delta.items() if calls}
    return {"per_second": sum(delta.values()) / seconds, "seconds": seconds, "commands": delta}


async def latency(side: str, redis_url: str, count: int) -> list[float]:
    settings = redis_settings(redis_url)
    ours = await create_waking_pool(settings, default_queue_name=QUEUE)
    bare = await create_pool(
        settings, job_serializer=serialize, job_deserializer=deserialize, default_queue_name=QUEUE
    )
    samples: list[float] = []
    try:
        async with ours.pubsub() as pubsub:
            await pubsub.subscribe(DONE_CHANNEL)
            await pubsub.get_message(timeout=1)
            longest = 0.52 if "0.5 s" in side else 0.05
            for n in range(count):
                await asyncio.sleep(random.uniform(0.02, longest))
                started = time.perf_counter()
                if side == "mluv worker":
                    await bench_signal.enqueue(ours, n=n)
                else:
                    await bare.enqueue_job("bench_signal", n=n)
                while True:
                    message = await pubsub.get_message(ignore_subscribe_messages=True, timeout=5)
                    if message is None:
                        raise RuntimeError(f"{side}: job {n} not done within 5 s")
                    if int(message["data"]) == n:
                        break
                samples.append((time.perf_counter() - started) * 1000)
    finally:
        await ours.aclose()
        await bare.aclose()
    return samples


async def one_side(side: str, count: int, idle_seconds: float, database_url: str) -> dict[str, Any]:
    from mluv.embedded import start_embedded

    logs = LOGS / "e2e_latency"
    logs.mkdir(parents=True, exist_ok=True)
    # A private server: INFO commandstats then counts this worker's commands only.
    services = await asyncio.to_thread(
        start_embedded, Path(".mluv") / "bench-idle-redis", postgres=False, redis_persistent=False
    )
    argv, extra = SIDES[side]
    try:
        client = await create_pool(redis_settings(services.redis_url))
        await client.flushdb()
        await client.config_resetstat()
        env = worker_env(database_url, services.redis_url, logs, EXTRA_JOB_MODULES="bench.jobs", **extra)
        worker = WorkerProcess(argv, env, logs / f"{side.replace(',', '').replace(' ', '-')}.log")
        try:
            await worker.ready(client, Queue.LONG.value if "long" in argv else QUEUE)
            await asyncio.sleep(2.0)  # startup work (cron catch-up) done
            idle = await idle_cost(client, idle_seconds)
            figures = percentiles(await latency(side, services.redis_url, count)) if count else None
        finally:
            await worker.stop()
            await client.aclose()
    finally:
        await asyncio.to_thread(services.stop)
    return {"latency_ms": figures, "idle": idle}


async def main(count: int, idle_seconds: float) -> None:
    results: dict[str, Any] = {}
    async with bench_database_url() as database_url:
        for side in SIDES:
            n = 0 if "long queue" in side else 40 if "0.5 s" in side else count
            # the 0.5 s poll is steady: a third of the idle window shows its rate
            window = idle_seconds / 3 if side.startswith("bare") else idle_seconds
            results[side] = await one_side(side, n, window, database_url)
            r = results[side]
            lat = r["latency_ms"] or {"p50": float("nan"), "p99": float("nan")}
            print(
                f"{side:<24} p50 {lat['p50']:>7.2f} ms  p99 {lat['p99']:>7.2f} ms"
                f"  idle {r['idle']['per_second']:>6.2f} commands/s",
                flush=True,
            )
    print("\nend-to-end latency (ms) and idle cost")
    print(f"{'':<24}{'p50':>8}{'p90':>8}{'p99':>8}{'n':>6}{'idle cmd/s':>12}")
    for side, r in results.items():
        lat = r["latency_ms"] or {"p50": float("nan"), "p90": float("nan"), "p99": float("nan"), "n": 0}
        print(
            f"{side:<24}{lat['p50']:>8.2f}{lat['p90']:>8.2f}{lat['p99']:>8.2f}{lat['n']:>6}"
            f"{r['idle']['per_second']:>12.2f}"
        )
    path = write_result("e2e_latency", {"unit": "ms", "sides": results})
    print(f"wrote {path}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--count", type=int, default=500)
    parser.add_argument("--idle-seconds", type=float, default=30.0)
    arguments = parser.parse_args()
    asyncio.run(main(arguments.count, arguments.idle_seconds))
