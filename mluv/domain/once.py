"""A value built on first use, once per process however many threads ask (the lexicon, the dictionary)."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Generic, TypeVar

T = TypeVar("T")


class BuiltOnce(Generic[T]):
    """`get()` builds the value on its first call and returns that same value ever after.

    Double-checked under a lock: the build runs once even when several threads (reviews running in
    threads) ask at the same moment, and later calls take no lock.
    """

    def __init__(self, build: Callable[[], T], *, on_built: Callable[[T], None] | None = None) -> None:
        self._build = build
        self._on_built = on_built
        self._value: T | None = None
        self._lock = threading.Lock()

    def get(self) -> T:
        value = self._value
        if value is None:
            with self._lock:
                value = self._value
                if value is None:
                    value = self._value = self._build()
                    if self._on_built is not None:
                        self._on_built(value)
        return value
