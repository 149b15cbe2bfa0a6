"""The jobs framework on arq: declared jobs, retry policies, queues, safe serializer, metrics, cron.

It knows arq and Redis, nothing of Telegram, the web or the catalogue (docs/architecture.md).
"""

from mluv.jobs.cron import CronRun, cron, every
from mluv.jobs.declare import DeclaredJob, InvalidJobArguments, job, registry
from mluv.jobs.queues import Queue
from mluv.jobs.retry import NO_RETRY, RetryableError, RetryPolicy, is_transient
from mluv.jobs.run import JobContext

__all__ = [
    "NO_RETRY",
    "CronRun",
    "DeclaredJob",
    "InvalidJobArguments",
    "JobContext",
    "Queue",
    "RetryPolicy",
    "RetryableError",
    "cron",
    "every",
    "is_transient",
    "job",
    "registry",
]
