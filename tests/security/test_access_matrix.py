"""The access matrix, generated from the OpenAPI documents: every operation with an id in its path, tried on real
objects of one tenant by everyone who must not reach them.

A small firm is seeded in process (all six services, events moved between them): partner A's lead, salesperson A's
lead with a document, submitted (so a case, tasks, an evaluation and a grade exist), owned by A in team A. Then each
operation whose path names an object is called

- for objects a tenant owns (a lead, customer, case, document, task, evaluation, grade, ...), by another partner,
  another salesperson of the same team and the manager of another team: each answer 403 or 404;
- for every object, by each role its ``x-roles`` leave out (identity's operations with identity-signed tokens): 403;

and no answer carries a field of tenant A (names, mobiles, ID numbers, the external reference). Apart, every
write operation's body refuses the fields a client must not set (owner_id, status, score, partner_id) unless its
schema declares them, and a partner's lead with them injected stores nothing. The gateway path (tokens, roles,
the internal API through nginx) is proved by tests/integration/test_access.py; this matrix covers the objects.
"""

from __future__ import annotations

import io
import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date
from typing import Any

import pytest
import sqlalchemy as sa

from loanbridge.common.testing.synthetic import id_number_of, minimal_pdf
from loanbridge.intake import orm as intake_orm
from tests.security.suite import Operation, Suite, deliver_all, start_suite

INJECTED = {"owner_id": "intruder", "status": "approved", "score": 999, "partner_id": "partner-b"}
DENIED_OTHER_TENANT = (403, 404)
# Claiming from the public pool is open to every salesperson and manager; a case that is not in the pool is refused
# with 409 not_in_pool, which says no more than the pool list does (and case ids are random UUIDs).
DENIED_BY_STATE = {"POST /api/workflow/v1/pool/{case_id}/claim": (409,)}
# Operations another tenant may still reach, each listed with why (none today); the matrix fails on any new gap.
KNOWN_GAPS: set[str] = set()
# Path parameters that name an object some tenant owns; the others (product codes, days, templates, ...) name the
# firm's configuration, which only roles guard.
TENANT_OBJECTS = {
    "lead_id",
    "customer_id",
    "case_id",
    "document_id",
    "task_id",
    "evaluation_id",
    "loan_id",
    "submission_id",
    "item_id",
    "message_id",
}
TEAM_A, TEAM_B = "team-a", "team-b"
PERSON_A = {"name": "欧阳秋实", "mobile": "13905318866", "id_number": id_number_of("370102", date(1985, 6, 12), 123)}
PERSON_P = {"name": "司马春华", "mobile": "18605319977", "id_number": id_number_of("370202", date(1990, 1, 1), 123)}


@dataclass
class Firm:
    suite: Suite
    ids: dict[str, str]  # path parameter -> an object of tenant A
    markers: list[str]  # tenant A's values that no one else may see
    attackers: dict[str, dict[str, dict[str, str]]]  # service -> attacker -> header
    role_headers: dict[str, dict[str, dict[str, str]]]  # service -> role -> header


def lead_body(person: dict[str, str], **extra: Any) -> dict[str, Any]:
    return {
        **person,
        "city": "济南",
        "product": "credit",
        "amount": 80000,
        "term_months": 12,
        "purpose": "经营周转",
        "form": {"monthly_income": 15000, "monthly_debt_payment": 2000},
        **extra,
    }


def created(answer: Any) -> dict[str, Any]:
    assert answer.status_code in (200, 201), answer.get_json()
    body: dict[str, Any] = answer.get_json()
    return body


def identity_logins(suite: Suite) -> dict[str, dict[str, str]]:
    """identity-signed tokens: one user per staff role, a partner client and a service client."""
    client, admin = suite.client("identity"), suite.admin_header("identity")
    api = "/api/identity/v1"
    team_a = created(client.post(f"{api}/teams", json={"name": "济南一组"}, headers=admin))["id"]
    headers: dict[str, dict[str, str]] = {}
    for role in ("manager", "sales", "risk_officer", "risk_director", "ops"):
        created(
            client.post(
                f"{api}/users",
                headers=admin,
                json={
                    "username": f"u.{role}",
                    "password": "staff-password-1",
                    "display_name": f"{role} 用户",
                    "roles": [role],
                    "team_id": team_a,
                    "mobile": "13700001111",
                },
            )
        )
        token = client.post(
            f"{api}/token", data={"grant_type": "password", "username": f"u.{role}", "password": "staff-password-1"}
        ).get_json()["access_token"]
        headers[role] = {"Authorization": f"Bearer {token}"}
    for kind, path in (("partner", "partners"), ("service", "service-clients")):
        secret = created(client.post(f"{api}/{path}", json={"name": f"{kind} 客户端"}, headers=admin))
        token = client.post(
            f"{api}/token",
            data={
                "grant_type": "client_credentials",
                "client_id": secret["client_id"],
                "client_secret": secret["client_secret"],
            },
        ).get_json()["access_token"]
        headers[kind] = {"Authorization": f"Bearer {token}"}
    headers["team_a"] = {"id": team_a}
    return headers


def seed(suite: Suite) -> Firm:
    tokens = suite.tokens
    intake, admin = suite.client("intake"), suite.admin_header("intake")
    partner_a = {"subject": "p_a", "roles": ["partner"], "partner_id": "partner-a"}
    partner_b = {"subject": "p_b", "roles": ["partner"], "partner_id": "partner-b"}
    for code, claims in (("partner_a_api", partner_a), ("partner_b_api", partner_b)):
        created(
            intake.post(
                "/api/intake/v1/channels",
                headers=admin,
                json={"code": code, "name": code, "kind": "partner", "partner_id": claims["partner_id"]},
            )
        )
    sales_a = tokens.header(subject="sales-a", roles=["sales"], team_id=TEAM_A)

    created(
        intake.post(
            "/api/intake/v1/leads",
            json=lead_body(PERSON_P, external_ref="SECRET-REF-1"),
            headers=tokens.header(**partner_a),
        )
    )
    own_lead = created(intake.post("/api/intake/v1/leads", json=lead_body(PERSON_A, channel="douyin"), headers=sales_a))
    document = created(
        intake.post(
            f"/api/intake/v1/leads/{own_lead['id']}/documents",
            headers=sales_a,
            content_type="multipart/form-data",
            data={"doc_type": "credit_report", "file": (io.BytesIO(minimal_pdf()), "a.pdf")},
        )
    )
    deliver_all(suite)
    created(intake.post(f"/api/intake/v1/leads/{own_lead['id']}/submit", json={}, headers=sales_a))
    deliver_all(suite)

    ids = {
        "lead_id": own_lead["id"],
        "customer_id": own_lead["customer_id"],
        "case_id": own_lead["id"],
        "document_id": document["id"],
    }
    risk_admin = suite.admin_header("risk")
    evaluations = suite.client("risk").get("/api/risk/v1/evaluations", headers=risk_admin).get_json()["items"]
    tasks = suite.client("workflow").get("/api/workflow/v1/tasks", headers=suite.admin_header("workflow"))
    inbox = suite.client("notify").get("/api/notify/v1/inbox", headers=sales_a).get_json()["items"]
    if evaluations:
        ids["evaluation_id"] = evaluations[0]["id"]
    if tasks.get_json()["items"]:
        ids["task_id"] = tasks.get_json()["items"][0]["id"]
    if inbox:
        ids["item_id"] = inbox[0]["id"]
    ids.update(product="credit", version="1", channel="douyin", month="2026-03", day="2026-03-02", code="task_due")

    other_sales = tokens.header(subject="sales-a2", roles=["sales"], team_id=TEAM_A)
    other_manager = tokens.header(subject="mgr-b", roles=["manager"], team_id=TEAM_B, managed_team_ids=[TEAM_B])
    attackers = {
        "another partner": tokens.header(**partner_b),
        "another salesperson": other_sales,
        "another team's manager": other_manager,
    }
    logins = identity_logins(suite)
    ids["team_id"] = logins.pop("team_a")["id"]
    ids["user_id"] = suite.client("identity").get("/api/identity/v1/me", headers=logins["sales"]).get_json()["id"]
    role_headers: dict[str, dict[str, dict[str, str]]] = {}
    for service in suite.services:
        if service == "identity":
            role_headers[service] = {**logins, "admin": suite.admin_header(service)}
            continue
        role_headers[service] = {
            role: tokens.header(
                subject=f"{role}-x", roles=[role], team_id=TEAM_B, managed_team_ids=[TEAM_B], partner_id="partner-b"
            )
            for role in ("manager", "sales", "risk_officer", "risk_director", "ops", "partner", "service")
        }
        role_headers[service]["admin"] = suite.admin_header(service)
    markers = [*PERSON_A.values(), *PERSON_P.values(), "SECRET-REF-1", "欧阳", "司马"]
    return Firm(suite, ids, markers, {service: attackers for service in suite.services}, role_headers)


@pytest.fixture(scope="module")
def firm(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Firm]:
    suite = start_suite(tmp_path_factory.mktemp("matrix"))
    yield seed(suite)
    suite.dispose()


# A valid body for each write on a tenant's object, so that only the scope check can refuse it (an empty body would be
# refused by its schema before the view looks the object up, which proves nothing).
VALID_BODIES: dict[str, dict[str, Any]] = {
    "POST /api/intake/v1/leads/{lead_id}/followups": {"method": "call", "outcome": "reached", "intent_level": "B"},
    "POST /api/intake/v1/customers/{customer_id}/consents": {"channel": "sms", "purpose": "marketing"},
    "POST /api/workflow/v1/cases/{case_id}/transitions": {"to": "lost", "reason": "客户放弃"},
    "POST /api/workflow/v1/cases/{case_id}/assignment": {"assignee_id": "sales-b", "reason": "改派"},
    "POST /api/workflow/v1/cases/{case_id}/release": {"reason": "放入公海"},
    "POST /api/workflow/v1/cases/{case_id}/lender-submissions": {
        "lender": "银行甲",
        "lender_product": "lp01",
        "amount": 50000,
    },
    "POST /api/workflow/v1/cases/{case_id}/lender-submissions/{submission_id}/decision": {
        "decision": "declined",
        "reason": "不符合",
    },
    "POST /api/workflow/v1/cases/{case_id}/loans": {
        "lender": "银行甲",
        "lender_product": "lp01",
        "principal": 50000,
        "annual_rate": 0.1,
        "term_months": 12,
        "method": "equal_installment",
    },
    "POST /api/workflow/v1/loans/{loan_id}/repayments": {
        "reference": "R-1",
        "installment": 1,
        "amount": 100,
        "paid_at": "2026-03-02T10:00:00+08:00",
    },
}
UPLOADS = {"POST /api/intake/v1/leads/{lead_id}/documents"}


def call(firm: Firm, operation: Operation, headers: dict[str, str]) -> Any:
    client = firm.suite.client(operation.service)
    if operation.label in UPLOADS:
        return client.post(
            operation.url(**firm.ids),
            headers=headers,
            content_type="multipart/form-data",
            data={"doc_type": "credit_report", "file": (io.BytesIO(minimal_pdf()), "b.pdf")},
        )
    body = VALID_BODIES.get(operation.label, {}) if operation.method in ("post", "put", "patch") else None
    return client.open(operation.url(**firm.ids), method=operation.method.upper(), json=body, headers=headers)


def leaked(firm: Firm, answer: Any) -> list[str]:
    text = answer.get_data(as_text=True)
    return [marker for marker in firm.markers if marker in text]


def object_operations(firm: Firm) -> list[Operation]:
    return [operation for operation in firm.suite.all_operations() if operation.path_parameters]


def test_another_tenant_is_denied_every_object_of_tenant_a_and_sees_none_of_its_fields(firm: Firm) -> None:
    cells, wrong = 0, []
    for operation in object_operations(firm):
        if not TENANT_OBJECTS & set(operation.path_parameters):
            continue
        for attacker, headers in firm.attackers[operation.service].items():
            answer = call(firm, operation, headers)
            cells += 1
            denied = DENIED_OTHER_TENANT + DENIED_BY_STATE.get(operation.label, ())
            assert not leaked(firm, answer), (operation.label, attacker, leaked(firm, answer))
            if answer.status_code not in denied:
                wrong.append(f"{operation.label} by {attacker}")
                assert answer.status_code == 200, (operation.label, attacker, answer.status_code)

    print(f"access matrix, other tenants: {cells} cells, {len(wrong)} known gaps")
    assert cells >= 3 * 20
    assert set(wrong) == KNOWN_GAPS


def test_each_role_without_the_right_gets_403_on_every_object_operation(firm: Firm) -> None:
    cells, wrong = 0, []
    for operation in object_operations(firm):
        for role in operation.roles_without_the_right():
            answer = call(firm, operation, firm.role_headers[operation.service][role])
            cells += 1
            if answer.status_code != 403 or leaked(firm, answer):
                wrong.append(f"{operation.label} by {role}: {answer.status_code} {leaked(firm, answer)}")

    print(f"access matrix, roles without the right: {cells} cells")
    assert cells >= 200
    assert not wrong, "\n".join(wrong)


def test_the_seeded_objects_are_real_so_the_denials_are_not_mere_absence(firm: Firm) -> None:
    # The owner reads what the matrix denies to others: the denials above are about scope, not missing rows.
    sales_a = firm.suite.tokens.header(subject="sales-a", roles=["sales"], team_id=TEAM_A)
    intake, workflow = firm.suite.client("intake"), firm.suite.client("workflow")

    assert intake.get(f"/api/intake/v1/leads/{firm.ids['lead_id']}", headers=sales_a).status_code == 200
    assert intake.get(f"/api/intake/v1/customers/{firm.ids['customer_id']}", headers=sales_a).status_code == 200
    assert workflow.get(f"/api/workflow/v1/cases/{firm.ids['case_id']}", headers=sales_a).status_code == 200
    content = intake.get(f"/api/intake/v1/documents/{firm.ids['document_id']}/content", headers=sales_a)
    assert content.status_code == 200
    assert "evaluation_id" in firm.ids


def json_body_operations(firm: Firm, document_schemas: dict[str, dict[str, Any]]) -> Iterator[tuple[Operation, set]]:
    for operation in firm.suite.all_operations():
        content = (operation.spec.get("requestBody") or {}).get("content", {})
        schema = (content.get("application/json") or {}).get("schema")
        if schema is None:
            continue
        if "$ref" in schema:
            schema = document_schemas[operation.service][schema["$ref"].rsplit("/", 1)[1]]
        yield operation, set(schema.get("properties", {}))


def test_fields_a_client_must_not_set_are_refused_by_every_body_that_does_not_declare_them(firm: Firm) -> None:
    schemas = {service: firm.suite.openapi(service)["components"]["schemas"] for service in firm.suite.services}
    cells, wrong = 0, []
    for operation, declared in json_body_operations(firm, schemas):
        for name, value in INJECTED.items():
            if name in declared:
                continue  # the operation sets it on purpose (a channel's partner_id, say): its role guards it
            headers: dict[str, str] = {}
            if operation.secured:
                allowed = "admin" if {"admin", "any"} & set(operation.roles) else operation.roles[0]
                headers = firm.role_headers[operation.service][allowed]
            answer = firm.suite.client(operation.service).open(
                operation.url(**firm.ids), method=operation.method.upper(), json={name: value}, headers=headers
            )
            cells += 1
            fields = (answer.get_json() or {}).get("details", {}).get("fields", {})
            if answer.status_code == 422 and name in fields:
                continue
            if answer.status_code in (404, 409) and operation.path_parameters:
                continue  # refused before the body is read (no such object, or not in a state to take one)
            wrong.append(f"{operation.label} with {name}: {answer.status_code} {answer.get_json()}")

    print(f"injected fields: {cells} cells")
    assert cells >= 40
    assert not wrong, "\n".join(wrong)


def test_a_partners_lead_with_injected_owner_status_score_and_partner_is_refused_and_stores_nothing(
    firm: Firm,
) -> None:
    intake = firm.suite.services["intake"]
    partner_a = firm.suite.tokens.header(subject="p_a", roles=["partner"], partner_id="partner-a")

    def count() -> int:
        with intake.runtime.database.session() as session:
            return int(session.execute(sa.select(sa.func.count()).select_from(intake_orm.leads)).scalar_one())

    before = count()
    body = lead_body({"name": "东方晨曦", "mobile": "13805312233"}, external_ref="INJECT-1", **INJECTED)
    answer = intake.client().post("/api/intake/v1/leads", json=body, headers=partner_a)

    assert answer.status_code == 422
    assert set(INJECTED) <= set(answer.get_json()["details"]["fields"])
    assert count() == before
    assert "东方晨曦" not in json.dumps(answer.get_json(), ensure_ascii=False)
