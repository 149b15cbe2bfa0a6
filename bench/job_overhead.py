"""The jobs framework's own cost per job, without Redis: what `throughput` measures on top of arq.

    .venv/bin/python -m bench.job_overhead [--count 20000]

Calls a declared no-op job's worker entry point (`DeclaredJob.run`: lax validation of the arguments,
structlog context, the inner timeout, the retry policy's bookkeeping, metrics, and the one JSON
"job done" line, rendered and redacted, written to /dev/null) `--count` times, with logging at INFO
(as shipped) and at WARNING (the line skipped), next to calling the bare function. Microseconds per
job, median of 5 passes. Writes bench/results/job_overhead.json.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import time
from typing import Any

from bench.common import write_result
from mluv.jobs import Queue
from mluv.jobs.counters import JobCounters
from mluv.jobs.declare import DeclaredJob
from mluv.jobs.run import CTX_COUNTERS, CTX_RESOURCES
from mluv.logs import configure_logging


async def noop(ctx: Any, user_id: int, note: str) -> None:
    return None


DECLARED = DeclaredJob(noop, name="bench_overhead", queue=Queue.FAST, timeout=30)


async def per_job_us(count: int, declared: bool) -> float:
    ctx: dict[str, Any] = {CTX_COUNTERS: JobCounters(), CTX_RESOURCES: object(), "job_id": "j", "job_try": 1}
    started = time.perf_counter()
    for n in range(count):
        if declared:
            await DECLARED.run(ctx, user_id=n, note="x")
        else:
            await noop(ctx, user_id=n, note="x")
    return (time.perf_counter() - started) / count * 1e6


async def measure(count: int) -> dict[str, float]:
    figures: dict[str, float] = {}
    for label, level, declared in (
        ("bare function", "INFO", False),
        ("framework, LOG_LEVEL=INFO", "INFO", True),
        ("framework, LOG_LEVEL=WARNING", "WARNING", True),
    ):
        configure_logging(level=level, json=True)
        figures[label] = statistics.median([await per_job_us(count, declared) for _ in range(5)])
    return figures


def main(count: int) -> None:
    stderr = sys.stderr
    with open(os.devnull, "w") as devnull:
        sys.stderr = devnull  # the log handler writes to stderr: measure rendering, not the terminal
        try:
            figures = asyncio.run(measure(count))
        finally:
            sys.stderr = stderr
    print(f"framework cost per job, median of 5 x {count} calls (µs)")
    for label, value in figures.items():
        print(f"  {label:<30}{value:>8.1f}")
    print(f"wrote {write_result('job_overhead', {'count': count, 'unit': 'us per job', 'figures': figures})}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--count", type=int, default=20_000)
    main(parser.parse_args().count)
