"""Polling with a deadline instead of sleeping a fixed time."""

from __future__ import annotations

import time
from collections.abc import Callable

import pytest

from loanbridge.common.testing.waiting import TimedOut, wait_until


def becomes(value: object, *, after: int) -> tuple[Callable[[], object], list[int]]:
    """A probe that answers None ``after`` times, then ``value``; and the list counting its calls."""
    calls: list[int] = []

    def probe() -> object:
        calls.append(1)
        return value if len(calls) > after else None

    return probe, calls


def test_returns_the_first_truthy_value_without_waiting() -> None:
    probe, calls = becomes({"lead_id": "lead-1"}, after=0)

    started = time.monotonic()
    assert wait_until(probe, interval=5) == {"lead_id": "lead-1"}

    assert len(calls) == 1
    assert time.monotonic() - started < 1


def test_polls_until_the_condition_holds() -> None:
    probe, calls = becomes(["event"], after=4)

    assert wait_until(probe, timeout=5, interval=0.001) == ["event"]
    assert len(calls) == 5


@pytest.mark.parametrize("falsy", [None, False, 0, [], ""])
def test_falsy_answers_count_as_not_yet(falsy: object) -> None:
    with pytest.raises(TimedOut):
        wait_until(lambda: falsy, timeout=0.05, interval=0.01)


def test_times_out_naming_the_condition_and_the_last_value() -> None:
    started = time.monotonic()

    with pytest.raises(TimedOut) as raised:
        wait_until(lambda: 0, timeout=0.2, interval=0.02, message="lead reaches reporting")

    elapsed = time.monotonic() - started
    assert 0.2 <= elapsed < 2
    assert "lead reaches reporting" in str(raised.value)
    assert "0.2s" in str(raised.value)
    assert "last value: 0" in str(raised.value)
    assert isinstance(raised.value, AssertionError)


def test_exceptions_count_as_not_yet_until_the_probe_succeeds() -> None:
    calls: list[int] = []

    def probe() -> str:
        calls.append(1)
        if len(calls) < 3:
            raise ConnectionError("not listening yet")
        return "up"

    assert wait_until(probe, timeout=5, interval=0.001) == "up"


def test_last_exception_is_chained_on_timeout() -> None:
    def probe() -> None:
        raise ConnectionRefusedError("port 8101")

    with pytest.raises(TimedOut) as raised:
        wait_until(probe, timeout=0.05, interval=0.01)

    assert isinstance(raised.value.__cause__, ConnectionRefusedError)


def test_probe_runs_at_least_once_even_with_no_time_left() -> None:
    probe, calls = becomes("ready", after=0)

    assert wait_until(probe, timeout=0) == "ready"
    assert len(calls) == 1
