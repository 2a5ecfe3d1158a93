"""The ``loanbridge`` commands' own behaviour, apart from what they run."""

from __future__ import annotations

import os

import pytest
from click.testing import CliRunner

from loanbridge.common import cli


@pytest.mark.parametrize(("environ", "expected"), [({}, 10), ({"LOANBRIDGE_WORKER_NICE": "3"}, 3)])
def test_rotate_keys_runs_at_the_workers_cpu_priority(
    monkeypatch: pytest.MonkeyPatch, environ: dict[str, str], expected: int
) -> None:
    taken: list[int] = []
    monkeypatch.setattr(os, "nice", taken.append)
    monkeypatch.setattr(cli.services, "discover", dict)  # no service: nothing to rotate
    # The group would write the local servers' defaults into os.environ, for every test after this one.
    monkeypatch.setattr(cli.stack, "local_defaults", lambda environ: {})
    monkeypatch.delenv("LOANBRIDGE_WORKER_NICE", raising=False)

    result = CliRunner().invoke(cli.main, ["rotate-keys", "--data-keys"], env=environ)

    assert result.exit_code == 0, result.output
    assert taken == [expected]
