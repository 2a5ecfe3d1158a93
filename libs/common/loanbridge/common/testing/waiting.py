"""Wait for something to become true with a deadline: tests poll instead of sleeping a fixed time."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")


class TimedOut(AssertionError):
    """The condition did not hold before the deadline."""


def wait_until(
    probe: Callable[[], T], *, timeout: float = 10.0, interval: float = 0.05, message: str = "condition"
) -> T:
    """Call ``probe`` until it returns a truthy value and return it; fail after ``timeout`` seconds.

    Exceptions from the probe count as "not yet" until the deadline, then the last one is chained.
    """
    deadline = time.monotonic() + timeout
    last_error: BaseException | None = None
    last_value: T | None = None
    while True:
        try:
            last_value = probe()
            if last_value:
                return last_value
        except Exception as exc:  # the probe may fail while the system is still converging
            last_error = exc
        if time.monotonic() >= deadline:
            raise TimedOut(f"{message} not reached within {timeout}s (last value: {last_value!r})") from last_error
        time.sleep(interval)
