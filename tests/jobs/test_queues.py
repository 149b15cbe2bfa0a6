"""Queues: labels on the command line and arq's health-check keys."""

from __future__ import annotations

import pytest
from arq.constants import health_check_key_suffix

from mluv.jobs.queues import Queue


@pytest.mark.parametrize(
    ("label", "expected"),
    [("fast", Queue.FAST), ("FAST", Queue.FAST), ("long", Queue.LONG), ("Long", Queue.LONG)],
)
def test_from_label(label: str, expected: Queue) -> None:
    assert Queue.from_label(label) is expected


@pytest.mark.parametrize("label", ["slow", "", "mluv:queue:fast", "fast ", "arq:queue"])
def test_from_label_unknown(label: str) -> None:
    with pytest.raises(ValueError, match=r"unknown queue .*; choose one of fast, long$"):
        Queue.from_label(label)


@pytest.mark.parametrize(
    ("queue", "value", "label", "health_check_key"),
    [
        (Queue.FAST, "mluv:queue:fast", "fast", "mluv:queue:fast:health-check"),
        (Queue.LONG, "mluv:queue:long", "long", "mluv:queue:long:health-check"),
    ],
    ids=["fast", "long"],
)
def test_queue_names(queue: Queue, value: str, label: str, health_check_key: str) -> None:
    assert queue.value == value
    assert queue.label == label
    assert queue.health_check_key == health_check_key
    # arq's convention, so `arq --check` finds it.
    assert queue.health_check_key == queue.value + health_check_key_suffix
    assert Queue.from_label(queue.label) is queue
