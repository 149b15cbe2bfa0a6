"""The job catalogue: one module per concern, and arq WorkerSettings per queue.

    mluv worker                  # the fast queue: short, user-facing jobs
    mluv worker --queue long     # the long queue: batches, broadcasts, reports

`arq workers.WorkerSettings` / `arq workers.LongWorkerSettings` run the same jobs with arq's own polling
loop (mluv worker sleeps until an enqueue wakes it: mluv.jobs.wake).

The settings classes are built on first access (module __getattr__), after every job module below has
registered its jobs, and from the environment of the process that asks for them.
"""

from __future__ import annotations

import importlib
from typing import Any

from workers import analytics as analytics
from workers import gamification as gamification
from workers import maintenance as maintenance
from workers import messaging as messaging
from workers import notifications as notifications
from workers import review as review

_BUILT: dict[str, type] = {}


def load_job_modules() -> None:
    """Import the modules named in EXTRA_JOB_MODULES, so their jobs register too."""
    from mluv.settings import get_settings

    for module in get_settings().extra_job_modules:
        importlib.import_module(module)


def __getattr__(name: str) -> Any:
    from mluv.jobs.queues import Queue
    from mluv.jobs.worker import build_worker_settings

    queues = {"WorkerSettings": Queue.FAST, "LongWorkerSettings": Queue.LONG}
    if name not in queues:
        raise AttributeError(f"module 'workers' has no attribute {name!r}")
    if name not in _BUILT:
        load_job_modules()
        _BUILT[name] = build_worker_settings(queues[name])
    return _BUILT[name]
