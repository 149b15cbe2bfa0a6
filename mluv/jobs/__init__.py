"""The jobs framework on arq: declared jobs, retry policies, queues, safe serializer, metrics, cron."""

from mluv.jobs.cron import CronRun, cron, every
from mluv.jobs.declare import DeclaredJob, InvalidJobArguments, JobContext, bind_pool, job, registry
from mluv.jobs.queues import Queue
from mluv.jobs.retry import NO_RETRY, RetryableError, RetryPolicy, is_transient

__all__ = [
    "NO_RETRY",
    "CronRun",
    "DeclaredJob",
    "InvalidJobArguments",
    "JobContext",
    "Queue",
    "RetryPolicy",
    "RetryableError",
    "bind_pool",
    "cron",
    "every",
    "is_transient",
    "job",
    "registry",
]
