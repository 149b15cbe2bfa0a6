"""BuiltOnce: one build, however many threads ask at once."""

from __future__ import annotations

import threading
import time

from mluv.domain.once import BuiltOnce


def test_many_threads_asking_at_once_build_it_once() -> None:
    builds: list[int] = []
    announced: list[object] = []

    def build() -> object:
        builds.append(1)
        time.sleep(0.05)  # widens the window in which the other threads ask
        return object()

    once = BuiltOnce(build, on_built=announced.append)
    results: list[object] = []
    threads = [threading.Thread(target=lambda: results.append(once.get())) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(builds) == 1 and len(results) == 8
    assert all(result is results[0] for result in results) and announced == [results[0]]
    assert once.get() is results[0]
