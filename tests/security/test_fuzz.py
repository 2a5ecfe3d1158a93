"""API fuzzing: schemathesis generates requests from every service's OpenAPI document and sends them to the Flask
app in process (WSGI), as a signed-in admin.

``make test`` runs a modest count (``LOANBRIDGE_FUZZ_EXAMPLES``, default 10 valid and 10 invalid requests per
operation) with the checks the suite gates on: no server error (an exception escaping a view, or a 5xx), every
response within its declared schema, and no operation that answers without its token (schemathesis's
``ignored_auth``, which re-sends a successful request without and with a wrong token). ``make fuzz`` runs 200 of each
with every check schemathesis has (``LOANBRIDGE_FUZZ_ALL_CHECKS=1``) but *positive data acceptance*: a request the
schema allows may still break a business rule (an ID number's checksum, a date range, a rule's expression) that
OpenAPI cannot state, and 422 is the right answer to it. What both runs check instead is that every such refusal is
a clear one: ``rejection_names_its_cause`` (a 400 or 422 answers the house error body, a Chinese message, and the
fields or the problems at fault). Runs are derandomized: a failure found once is found again by the same command.

Alongside, every operation is called without a token and with a forged one, whatever its inputs: all 401, and the
operations that need no token are exactly the known public ones.
"""

from __future__ import annotations

import os
import re
import time
from collections.abc import Iterator
from typing import Any

import jwt
import pytest
import schemathesis
from cryptography.hazmat.primitives.asymmetric import rsa
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis.checks import not_a_server_error
from schemathesis.generation.modes import GenerationMode
from schemathesis.specs.openapi.checks import ignored_auth, positive_data_acceptance, response_schema_conformance

from loanbridge.common.service import SERVICE_ORDER
from tests.security.suite import Suite, operations_of, start_suite

EXAMPLES = int(os.environ.get("LOANBRIDGE_FUZZ_EXAMPLES", "10"))
ALL_CHECKS = os.environ.get("LOANBRIDGE_FUZZ_ALL_CHECKS", "").lower() in ("1", "true", "yes")
CHINESE = re.compile("[\u4e00-\u9fff]")


def rejection_names_its_cause(ctx: Any, response: Any, case: Any) -> None:
    """A 400 or 422 is the house error body: a code, a Chinese message, and the fields (or the problems) at fault."""
    if response.status_code not in (400, 422):
        return
    body = response.json()
    assert isinstance(body, dict) and isinstance(body.get("code"), str), f"no error code: {body!r}"[:300]
    assert CHINESE.search(body.get("message") or ""), f"no Chinese message: {body!r}"[:300]
    details = body.get("details") or {}
    assert details.get("fields") or details.get("problems"), f"names no field nor problem: {body!r}"[:300]


GATED_CHECKS = [not_a_server_error, response_schema_conformance, ignored_auth, rejection_names_its_cause]
# What anyone may call: signing in, the public keys, and the SMS provider's reply callback (checked by signature).
PUBLIC_OPERATIONS = {
    "POST /api/identity/v1/token",
    "GET /api/identity/v1/jwks",
    "POST /api/notify/v1/sms/replies",
}


@pytest.fixture(scope="module")
def suite(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Suite]:
    started = start_suite(tmp_path_factory.mktemp("fuzz"))
    yield started
    started.dispose()


def fuzz_operation(operation: Any, mode: GenerationMode, headers: dict[str, str]) -> tuple[int, str | None]:
    """Run ``EXAMPLES`` generated requests of one operation; returns how many were sent and the failure, if any."""
    sent = 0

    @settings(
        max_examples=EXAMPLES,
        deadline=None,
        database=None,
        derandomize=True,
        suppress_health_check=list(HealthCheck),
        phases=[Phase.explicit, Phase.generate, Phase.shrink],
    )
    @given(case=operation.as_strategy(generation_mode=mode))
    def run(case: Any) -> None:
        nonlocal sent
        if only_its_token_is_invalid(case):
            return
        sent += 1
        carry_the_admins_token(case, headers)
        # Passed as ``headers`` too: schemathesis then knows the token as explicit auth, which ignored_auth removes.
        if ALL_CHECKS:
            case.call_and_validate(headers=headers, additional_checks=[rejection_names_its_cause],
                                   excluded_checks=[positive_data_acceptance])  # fmt: skip
        else:
            case.call_and_validate(headers=headers, checks=GATED_CHECKS)

    try:
        run()
    except Unsatisfiable:
        if mode is GenerationMode.NEGATIVE:
            return sent, None  # nothing in the operation can be made invalid (no parameters, no body)
        return sent, "no valid request could be generated"
    except (Exception, BaseExceptionGroup) as exc:  # every operation's failure is collected: one run, all reported
        return sent, f"{type(exc).__name__}: {str(exc)[:2000]}"
    return sent, None


def only_its_token_is_invalid(case: Any) -> bool:
    """A negative case whose one invalid part is its ``Authorization`` header: every request is sent with the
    admin's token in its place, so as sent it is a valid request, and answering it is right. (Refusing a missing,
    malformed or forged token is proved separately, on every secured operation.)"""
    mutations = getattr(phase_data(case), "mutations", ())
    return bool(mutations) and all(mutation.parameter == "Authorization" for mutation in mutations)


def carry_the_admins_token(case: Any, headers: dict[str, str]) -> None:
    """Make the case what is sent: the admin's token in its headers, and no invalid ``Authorization`` among its
    mutations. The checks then judge the request as sent; schemathesis's own allowances (a query value that
    serializes into a valid one, say) apply as they do to a case with no token mutated."""
    case.headers = {**(case.headers or {}), **headers}
    data = phase_data(case)
    if getattr(data, "mutations", None):
        data.mutations = tuple(mutation for mutation in data.mutations if mutation.parameter != "Authorization")


def phase_data(case: Any) -> Any:
    """What schemathesis recorded of how it generated the case (its mutations, for a negative one), if anything."""
    return getattr(case.meta.phase, "data", None) if case.meta else None


@pytest.mark.parametrize("service", SERVICE_ORDER)
def test_fuzzing_finds_no_server_error_no_schema_break_and_no_ignored_auth(suite: Suite, service: str) -> None:
    schema = schemathesis.openapi.from_wsgi(f"/api/{service}/openapi.json", suite.services[service].app)
    headers = suite.admin_header(service)
    started, requests, operations, failures = time.monotonic(), 0, 0, []
    for result in schema.get_all_operations():
        operation = result.ok()
        operations += 1
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
            sent, failure = fuzz_operation(operation, mode, headers)
            requests += sent
            if failure:
                failures.append(f"{operation.label} [{mode.value}]: {failure}")

    print(f"fuzz {service}: {operations} operations, {requests} requests, {time.monotonic() - started:.1f} s")
    assert operations == len(suite.operations(service))
    assert not failures, "\n\n".join(failures)


def forged_token() -> str:
    """A well-formed admin token signed by a key no service trusts."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    now = int(time.time())
    claims = {"sub": "intruder", "roles": ["admin"], "iss": "loanbridge-identity", "aud": "loanbridge"}
    return jwt.encode({**claims, "iat": now, "exp": now + 600}, key, algorithm="RS256", headers={"kid": "unknown"})


def test_every_operation_but_the_public_ones_refuses_a_missing_or_forged_token(suite: Suite) -> None:
    forged = forged_token()
    refused, public = 0, set()
    for operation in suite.all_operations():
        if not operation.secured:
            public.add(operation.label)
            continue
        client = suite.client(operation.service)
        url = operation.url(version=1, month="2026-03", day="2026-03-02")
        for headers in ({}, {"Authorization": "Bearer not-a-jwt"}, {"Authorization": f"Bearer {forged}"}):
            answer = client.open(url, method=operation.method.upper(), json={}, headers=headers)
            assert answer.status_code == 401, (operation.label, headers, answer.get_json())
            assert answer.get_json()["code"] in ("unauthenticated", "invalid_token"), operation.label
            refused += 1

    assert public == PUBLIC_OPERATIONS
    assert refused == 3 * (len(suite.all_operations()) - len(PUBLIC_OPERATIONS))


def test_the_operations_walked_are_those_of_the_openapi_documents(suite: Suite) -> None:
    # The matrix and the fuzzer read the same documents; an operation missing x-roles would escape the matrix.
    for service in SERVICE_ORDER:
        for operation in operations_of(service, suite.openapi(service)):
            if operation.secured:
                assert operation.roles, operation.label
