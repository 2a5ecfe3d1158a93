"""Named fault-injection points: inert unless configured; ``raise`` raises, ``exit`` kills, ``@N`` picks a hit."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from loanbridge.common import failpoints
from loanbridge.common.failpoints import FailpointError


def hits_that_fire(name: str, times: int) -> list[int]:
    fired = []
    for number in range(1, times + 1):
        try:
            failpoints.hit(name)
        except FailpointError as error:
            assert str(error) == name
            fired.append(number)
    return fired


def test_failpoints_are_inert_unless_configured() -> None:
    failpoints.configure("")

    assert hits_that_fire("consumer.before_apply", 5) == []


def test_raise_fires_on_every_hit_of_that_point_only() -> None:
    failpoints.configure("consumer.before_apply=raise")

    assert hits_that_fire("consumer.before_apply", 3) == [1, 2, 3]
    assert hits_that_fire("relay.after_publish", 3) == []


def test_raise_at_n_fires_only_on_the_nth_hit() -> None:
    failpoints.configure("relay.after_publish=raise@3")

    assert hits_that_fire("relay.after_publish", 6) == [3]


def test_a_point_named_without_an_action_raises() -> None:
    failpoints.configure("consumer.after_commit")

    assert hits_that_fire("consumer.after_commit", 2) == [1, 2]


def test_several_points_are_separated_by_commas_with_spaces_allowed() -> None:
    failpoints.configure(" a=raise@2 , b=raise ,, ")

    assert hits_that_fire("a", 3) == [2]
    assert hits_that_fire("b", 1) == [1]


def test_configure_replaces_the_points_and_restarts_the_hit_count() -> None:
    failpoints.configure("a=raise@2")
    assert hits_that_fire("a", 1) == []

    failpoints.configure("a=raise@2")

    assert hits_that_fire("a", 2) == [2]
    failpoints.configure("b=raise")
    assert hits_that_fire("a", 3) == []


def run_with_failpoints(spec: str, hits: int) -> subprocess.CompletedProcess[str]:
    """A process that passes a failpoint ``hits`` times, printing after each pass."""
    program = (
        "from loanbridge.common import failpoints\n"
        f"for n in range(1, {hits} + 1):\n"
        "    failpoints.hit('worker.crash')\n"
        "    print('passed', n, flush=True)\n"
    )
    env = {**os.environ, "LOANBRIDGE_FAILPOINTS": spec}
    return subprocess.run([sys.executable, "-c", program], env=env, capture_output=True, text=True, timeout=60)


def passes(finished: subprocess.CompletedProcess[str]) -> list[str]:
    return [line for line in finished.stdout.splitlines() if line.startswith("passed")]


@pytest.mark.parametrize(("spec", "passed"), [("worker.crash=exit", []), ("worker.crash=exit@2", ["passed 1"])])
def test_exit_ends_the_process_at_once_with_status_137(spec: str, passed: list[str]) -> None:
    finished = run_with_failpoints(spec, hits=3)

    assert finished.returncode == 137
    assert passes(finished) == passed


def test_failpoints_are_read_from_the_environment_at_start() -> None:
    finished = run_with_failpoints("worker.crash=raise@2", hits=3)

    assert finished.returncode == 1
    assert passes(finished) == ["passed 1"]
    assert "FailpointError: worker.crash" in finished.stderr
