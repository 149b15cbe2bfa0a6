"""The job catalogue: one module per concern; arq's entry point `workers.WorkerSettings`.

    mluv worker                  # the fast queue: short, user-facing jobs
    mluv worker --queue long     # the long queue: batches, broadcasts, reports

`arq workers.WorkerSettings` / `arq workers.LongWorkerSettings` run the same jobs with arq's own polling
loop (mluv worker sleeps until an enqueue wakes it: mluv.jobs.wake).

Importing this package registers every job below. The settings classes are built on first access (module
__getattr__) by the worker's composition root, mluv.worker, from the environment of the process that asks
for them: arq names this module on its command line, so it is the one import from the catalogue up to
the composition root (an `ignore_imports` line of the layer contract in pyproject.toml).
"""

from __future__ import annotations

from typing import Any

from workers import analytics as analytics
from workers import broadcasts as broadcasts
from workers import gamification as gamification
from workers import maintenance as maintenance
from workers import messaging as messaging
from workers import notifications as notifications
from workers import review as review

_BUILT: dict[str, type] = {}


def __getattr__(name: str) -> Any:
    from mluv.jobs.queues import Queue
    from mluv.worker import worker_settings

    queues = {"WorkerSettings": Queue.FAST, "LongWorkerSettings": Queue.LONG}
    if name not in queues:
        raise AttributeError(f"module 'workers' has no attribute {name!r}")
    if name not in _BUILT:
        _BUILT[name] = worker_settings(queues[name])
    return _BUILT[name]
