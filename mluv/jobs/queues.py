"""Queues by latency class.

arq re-runs a crashed job only after its in-progress key expires, which is the longest timeout of any
function in that worker + 10 s. Short user-facing jobs therefore live on their own queue, served by
workers whose every job has a short timeout, so a job lost in a crash runs again within a minute; long
jobs (broadcasts, reports, batch statistics) live on another queue with long timeouts.
"""

from __future__ import annotations

from enum import StrEnum

from mluv.settings import Settings


class Queue(StrEnum):
    FAST = "mluv:queue:fast"
    LONG = "mluv:queue:long"

    @property
    def label(self) -> str:
        return self.name.lower()

    def default_timeout(self, settings: Settings) -> float:
        """The timeout of a job of this queue that sets none: FAST_JOB_TIMEOUT or LONG_JOB_TIMEOUT."""
        return float(settings.fast_job_timeout if self is Queue.FAST else settings.long_job_timeout)

    @property
    def health_check_key(self) -> str:
        # arq's convention (<queue><health_check_key_suffix>), so `arq --check` finds it.
        return f"{self.value}:health-check"

    @classmethod
    def from_label(cls, label: str) -> Queue:
        try:
            return cls[label.upper()]
        except KeyError:
            names = ", ".join(q.label for q in cls)
            raise ValueError(f"unknown queue {label!r}; choose one of {names}") from None
