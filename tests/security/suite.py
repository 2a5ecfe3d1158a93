"""The six services in process for the security tests: each on its own SQLite database, the non-identity ones
trusting a TokenFactory, identity signing its own tokens for a real admin, and events moved between them by the
harness. Helpers read each service's OpenAPI document into the operations the fuzzer and the access matrix walk.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from argon2 import PasswordHasher

from loanbridge.common.auth import ROLES
from loanbridge.common.service import SERVICE_ORDER
from loanbridge.common.testing import harness
from loanbridge.identity import handlers as identity_handlers

ADMIN_USERNAME = "admin"
ADMIN_PASSWORD = "admin-password-1"
# argon2 at its production cost (~0.1 s a hash) would dominate; the same algorithm at a low cost, same code paths.
FAST_HASHER = PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)
METHODS = ("get", "post", "put", "patch", "delete")
PATH_PARAMETER = re.compile(r"{([^}]+)}")


@dataclass(frozen=True)
class Operation:
    """One operation of a service's OpenAPI document."""

    service: str
    method: str
    path: str
    roles: tuple[str, ...]  # who may call it (x-roles); ("any",) for any authenticated caller
    secured: bool
    spec: dict[str, Any] = field(compare=False, repr=False)

    @property
    def label(self) -> str:
        return f"{self.method.upper()} {self.path}"

    @property
    def path_parameters(self) -> list[str]:
        return PATH_PARAMETER.findall(self.path)

    def roles_without_the_right(self) -> list[str]:
        """Every role that may not call this operation (the service role is judged apart: see auth.requires)."""
        if "any" in self.roles:
            return ["service"]
        return [role for role in ROLES if role not in self.roles]

    def url(self, **values: Any) -> str:
        return PATH_PARAMETER.sub(lambda match: str(values.get(match.group(1), "x")), self.path)


@dataclass
class Suite:
    services: dict[str, harness.ServiceUnderTest]
    tokens: harness.TokenFactory
    identity_admin_header: dict[str, str]

    def client(self, service: str) -> Any:
        return self.services[service].client()

    def admin_header(self, service: str) -> dict[str, str]:
        """A real admin token: identity's own for identity, the trusted factory's elsewhere."""
        if service == "identity":
            return self.identity_admin_header
        return self.tokens.header(subject="admin-1", roles=["admin"])

    def openapi(self, service: str) -> dict[str, Any]:
        document: dict[str, Any] = self.client(service).get(f"/api/{service}/openapi.json").get_json()
        return document

    def operations(self, service: str) -> list[Operation]:
        return operations_of(service, self.openapi(service))

    def all_operations(self) -> list[Operation]:
        return [operation for service in self.services for operation in self.operations(service)]

    def dispose(self) -> None:
        for service in self.services.values():
            service.runtime.database.dispose()


def operations_of(service: str, document: dict[str, Any]) -> list[Operation]:
    """Every operation of an OpenAPI document, in document order."""
    found = []
    for path, item in document["paths"].items():
        for method, spec in item.items():
            if method in METHODS:
                roles = tuple(spec.get("x-roles") or ())
                found.append(Operation(service, method, path, roles, bool(spec.get("security")), spec))
    return found


def start_suite(tmp_path: Path, *, services: tuple[str, ...] = tuple(SERVICE_ORDER)) -> Suite:
    """Every service of ``services`` migrated on its own SQLite file, and an admin who signed in to identity."""
    environ = harness.environment_for_tests(tmp_path)
    tokens = harness.TokenFactory()
    started = {name: harness.service_runtime(name, environ, tokens=tokens) for name in services}
    identity_header: dict[str, str] = {}
    if "identity" in started:
        identity = started["identity"]
        identity.runtime.config = replace(identity.runtime.config, hasher=FAST_HASHER)
        identity.runtime.transaction(
            identity_handlers.ensure_admin,
            config=identity.runtime.config,
            username=ADMIN_USERNAME,
            password=ADMIN_PASSWORD,
        )
        answer = identity.client().post(
            "/api/identity/v1/token",
            data={"grant_type": "password", "username": ADMIN_USERNAME, "password": ADMIN_PASSWORD},
        )
        assert answer.status_code == 200, answer.get_json()
        identity_header = {"Authorization": f"Bearer {answer.get_json()['access_token']}"}
    return Suite(services=started, tokens=tokens, identity_admin_header=identity_header)


def deliver_all(suite: Suite, rounds: int = 4) -> None:
    """Move every pending event to every subscriber until nothing is left (as the dispatcher would)."""
    for _ in range(rounds):
        moved = False
        for name, producer in suite.services.items():
            events = harness.drain_outbox(producer.runtime)
            moved = moved or bool(events)
            for consumer_name, consumer in suite.services.items():
                if consumer_name != name:
                    harness.deliver(events, consumer.runtime)
        if not moved:
            return
