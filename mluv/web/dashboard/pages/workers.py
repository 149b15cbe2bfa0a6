"""The workers page's view: each worker process with its host, pid, queue, start, running jobs, heartbeat."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from mluv.jobs.arq_state import WorkerInfo
from mluv.jobs.queues import Queue


@dataclass(frozen=True)
class RunningJob:
    job_id: str
    job_try: int
    started_at: dt.datetime


@dataclass(frozen=True)
class WorkerView:
    worker_id: str
    host: str
    pid: int
    queue: str
    started_at: dt.datetime
    seen_at: dt.datetime
    max_jobs: int
    jobs_done: int
    running: list[RunningJob]


def _when(ts: float) -> dt.datetime:
    return dt.datetime.fromtimestamp(ts, dt.UTC)


def worker_views(workers: list[WorkerInfo]) -> list[WorkerView]:
    labels = {q.value: q.label for q in Queue}
    return [
        WorkerView(
            worker_id=w.worker_id,
            host=w.host,
            pid=w.pid,
            queue=labels.get(w.queue, w.queue.rsplit(":", 1)[-1]),
            started_at=_when(w.started_at),
            seen_at=_when(w.seen_at),
            max_jobs=w.max_jobs,
            jobs_done=w.jobs_done,
            running=[RunningJob(job_id, job_try, _when(started)) for job_id, job_try, started in w.running],
        )
        for w in workers
    ]
