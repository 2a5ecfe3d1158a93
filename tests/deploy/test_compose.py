"""docker-compose.yml: it passes the Compose Specification's JSON schema (deploy/compose/compose-spec.schema.json),
comes up in order (stores healthy, then migrate to completion, then webs and workers, then the gateway), reads
every secret from .env without a default, and its gateway configuration is the template's rendering. Each check
is also shown to fail on a broken copy."""

from __future__ import annotations

import copy
import hashlib
import importlib.util
import re
from types import ModuleType

from tests.deploy.support import (
    COMPOSE_DIR,
    COMPOSE_FILE,
    COMPOSE_GATEWAY,
    COMPOSE_SCHEMA,
    ENV_EXAMPLE,
    GATEWAY_TEMPLATE,
    code_processes,
    compose_order_problems,
    compose_schema_errors,
    env_example_problems,
    load_compose,
)

# The copy's digest, as noted in deploy/compose/README.md (check-jsonschema 0.39.0 ships the same).
SCHEMA_SHA256 = "d549057ebc2925f39f62799eab0db7b9e2c18b35b6c00595199116da3ed10e64"


def render_gateway_module() -> ModuleType:
    spec = importlib.util.spec_from_file_location("render_gateway", COMPOSE_DIR / "render_gateway.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_compose_file_passes_the_compose_specification_schema() -> None:
    assert hashlib.sha256(COMPOSE_SCHEMA.read_bytes()).hexdigest() == SCHEMA_SHA256
    assert compose_schema_errors(load_compose(COMPOSE_FILE.read_text())) == []


def test_the_schema_check_fails_on_a_bad_field() -> None:
    broken = load_compose(COMPOSE_FILE.read_text())
    broken["services"]["gateway"]["depends_on"]["identity-web"]["condition"] = "service_up"
    broken["services"]["migrate"]["restart_policy"] = "never"

    errors = compose_schema_errors(broken)

    assert any(error.startswith("services.gateway.depends_on") for error in errors)
    assert any(error.startswith("services.migrate") and "restart_policy" in error for error in errors)


def test_compose_comes_up_in_order_with_healthchecks() -> None:
    assert compose_order_problems(load_compose(COMPOSE_FILE.read_text()), code_processes()) == []


def test_the_order_check_fails_when_a_worker_skips_migrate_and_the_gateway_a_web() -> None:
    broken = copy.deepcopy(load_compose(COMPOSE_FILE.read_text()))
    broken["services"]["risk-worker"]["depends_on"] = {"rabbitmq": {"condition": "service_healthy"}}
    del broken["services"]["gateway"]["depends_on"]["notify-web"]
    del broken["services"]["intake-web"]["healthcheck"]

    assert compose_order_problems(broken, code_processes()) == [
        "intake-web has no healthcheck",
        "risk-worker does not wait for migrate (service_completed_successfully), it has None",
        "gateway does not wait for notify-web (service_healthy), it has None",
    ]


def test_migrate_runs_once_with_every_services_database() -> None:
    migrate = load_compose(COMPOSE_FILE.read_text())["services"]["migrate"]

    assert migrate["command"] == ["migrate"] and migrate["restart"] == "no"
    assert {f"LOANBRIDGE_{service.upper()}_DATABASE_URL" for service in code_processes()} <= set(migrate["environment"])


def test_every_secret_comes_from_env_and_the_example_has_no_values() -> None:
    assert env_example_problems(COMPOSE_FILE.read_text(), ENV_EXAMPLE.read_text()) == []


def test_the_env_check_fails_on_a_secret_missing_from_the_example_or_given_a_value() -> None:
    compose = COMPOSE_FILE.read_text() + "\n# ${LOANBRIDGE_NEW_SECRET:?set it}\n"
    example = re.sub(r"^RABBITMQ_PASSWORD=$", "RABBITMQ_PASSWORD=guest", ENV_EXAMPLE.read_text(), flags=re.M)

    assert env_example_problems(compose, example) == [
        "LOANBRIDGE_NEW_SECRET is read by docker-compose.yml but not in .env.example",
        "RABBITMQ_PASSWORD is a secret but .env.example gives it a value",
    ]


def test_the_compose_gateway_config_is_the_templates_rendering() -> None:
    module = render_gateway_module()

    assert tuple(code_processes()) == module.SERVICES
    assert COMPOSE_GATEWAY.read_text() == module.render(GATEWAY_TEMPLATE.read_text())


def test_the_rendering_check_fails_when_the_template_changes() -> None:
    module = render_gateway_module()
    changed = GATEWAY_TEMPLATE.read_text().replace("proxy_read_timeout 30s;", "proxy_read_timeout 60s;")

    assert changed != GATEWAY_TEMPLATE.read_text()
    assert COMPOSE_GATEWAY.read_text() != module.render(changed)
