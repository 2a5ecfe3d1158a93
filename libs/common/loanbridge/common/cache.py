"""A small per-process cache with a time to live, for reference data read on every request (channels,
quotas) that changes rarely and may be seen late by a few seconds."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Hashable
from typing import Generic, TypeVar

V = TypeVar("V")


class TtlCache(Generic[V]):
    """Values by key for ``ttl`` seconds. ``None`` is never cached, so something just created is found at once."""

    def __init__(self, ttl: float) -> None:
        self.ttl = ttl
        self._values: dict[Hashable, tuple[float, V]] = {}
        self._lock = threading.Lock()

    def get(self, key: Hashable, load: Callable[[], V | None]) -> V | None:
        """The cached value, or ``load()``'s (cached unless None)."""
        now = time.monotonic()
        with self._lock:
            hit = self._values.get(key)
        if hit is not None and now - hit[0] < self.ttl:
            return hit[1]
        value = load()
        if value is not None:
            with self._lock:
                self._values[key] = (now, value)
        return value

    def forget(self, key: Hashable) -> None:
        with self._lock:
            self._values.pop(key, None)
