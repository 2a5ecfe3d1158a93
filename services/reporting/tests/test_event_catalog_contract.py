"""The event catalog's contract: what identity, intake and risk really publish is what docs/events/ documents
(workflow and notify drive their own types in their own contract tests).

identity and intake are driven through their APIs (and their resyncs), risk by intake's events; every event
they write to their outboxes is checked against its JSON Schema, and every routing key a service subscribes to
(reporting archives them all) has a schema or is listed as not yet published. It lives with reporting, the
consumer of the whole catalog.
"""

from __future__ import annotations

import ast
import io
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from argon2 import PasswordHasher

from loanbridge.common import service as services
from loanbridge.common.events.catalog import EVENT_TYPES, NOT_YET_PUBLISHED
from loanbridge.common.events.envelope import Envelope, routing_key
from loanbridge.common.events.schemas import (
    load_schema,
    parse_routing_key,
    repository_root,
    schema_path,
    validate_data,
)
from loanbridge.common.testing import harness
from loanbridge.identity import handlers as identity_handlers

ROOT = repository_root(Path(__file__))
IDENTITY = "/api/identity/v1"
INTAKE = "/api/intake/v1"
PASSWORD = "staff-password-1"
PUBLISHED = {event_type for event_type in EVENT_TYPES if event_type not in NOT_YET_PUBLISHED}
FAST_HASHER = PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)


@pytest.fixture
def identity(suite_env: dict[str, str]) -> Iterator[harness.ServiceUnderTest]:
    service = harness.service_runtime("identity", suite_env)
    # argon2 at a low cost: the same code paths without ~0.1 s a hash.
    service.runtime.config = replace(service.runtime.config, hasher=FAST_HASHER)
    yield service
    service.runtime.database.dispose()


def ok(response: Any, status: int) -> dict[str, Any]:
    assert response.status_code == status, response.get_json()
    body: dict[str, Any] = response.get_json()
    return body


def drive_identity(identity: harness.ServiceUnderTest) -> list[Envelope]:
    """Teams and staff created, changed, deactivated and re-activated, then a resync: every identity event."""
    runtime, client = identity.runtime, identity.client()
    runtime.transaction(identity_handlers.ensure_admin, config=runtime.config, username="admin", password=PASSWORD)
    token = ok(
        client.post(f"{IDENTITY}/token", data={"grant_type": "password", "username": "admin", "password": PASSWORD}),
        200,
    )["access_token"]
    admin = {"Authorization": f"Bearer {token}"}

    def user(**fields: Any) -> dict[str, Any]:
        body = {"password": PASSWORD, "display_name": "张三", "roles": ["sales"], **fields}
        return ok(client.post(f"{IDENTITY}/users", json=body, headers=admin), 201)

    manager = user(username="zhao.manager", display_name="赵经理", roles=["manager", "sales"])
    team = ok(
        client.post(
            f"{IDENTITY}/teams", json={"name": "济南一组", "manager_id": manager["id"], "region": "济南"}, headers=admin
        ),
        201,
    )
    bare_team = ok(client.post(f"{IDENTITY}/teams", json={"name": "青岛筹备组"}, headers=admin), 201)
    sales = user(
        username="zhang.san",
        team_id=team["id"],
        region="济南",
        products=["house", "credit"],
        mobile="13812345678",
        email="zhang.san@jinan-loans.example.com",
    )
    user(username="risk.li", display_name="李风控", roles=["risk_officer"])
    ok(
        client.patch(f"{IDENTITY}/teams/{bare_team['id']}", json={"name": "青岛一组", "region": "青岛"}, headers=admin),
        200,
    )
    ok(
        client.patch(
            f"{IDENTITY}/users/{sales['id']}", json={"display_name": "张三丰", "roles": ["sales", "ops"]}, headers=admin
        ),
        200,
    )
    ok(client.patch(f"{IDENTITY}/users/{sales['id']}", json={"active": False}, headers=admin), 200)
    ok(client.patch(f"{IDENTITY}/users/{sales['id']}", json={"active": True, "team_id": None}, headers=admin), 200)
    live = harness.drain_outbox(runtime)
    assert services.get("identity").resync is not None
    services.get("identity").resync(runtime)  # type: ignore[misc]
    return live + harness.drain_outbox(runtime)


def drive_intake(intake: harness.ServiceUnderTest, tokens: harness.TokenFactory) -> list[Envelope]:
    """A partner's lead for a new person, a salesperson's for the same person, another for a new one, a resync."""
    runtime, client = intake.runtime, intake.client()
    admin = tokens.header(subject="admin-1", roles=["admin"])
    partner_id = "6f1f6f1e-2c1b-4d8e-9a55-0b9d7c3e0a11"
    ok(
        client.post(
            f"{INTAKE}/channels",
            json={"code": "rongtong_api", "name": "融通数科", "kind": "partner", "partner_id": partner_id},
            headers=admin,
        ),
        201,
    )
    partner = tokens.header(subject="p_rongtong_api", roles=["partner"], partner_id=partner_id)
    sales = tokens.header(subject="5b0c2d8e-1f4a-4c7b-8e3d-2a6f9b1c0d7e", roles=["sales"])
    person = {"name": "张三丰", "mobile": "13812345678", "id_number": "370102198506121239", "city": "济南"}
    form = {
        "monthly_income": 20000,
        "monthly_debt_payment": 4000,
        "social_security_months": 36,
        "employer_type": "private",
        "employer_name": "济南某某机械厂",
    }
    ok(
        client.post(
            f"{INTAKE}/leads",
            json={
                **person,
                "product": "credit",
                "amount": 500000,
                "term_months": 36,
                "purpose": "经营周转",
                "form": form,
            },
            headers=partner,
        ),
        201,
    )
    ok(
        client.post(
            f"{INTAKE}/leads",
            json={**person, "product": "credit", "amount": 88000.5, "term_months": 12, "channel": "douyin"},
            headers=sales,
        ),
        201,
    )
    car = ok(
        client.post(
            f"{INTAKE}/leads",
            json={
                "name": "李四",
                "mobile": "13905310001",
                "city": "青岛",
                "product": "car",
                "amount": 120000,
                "term_months": 24,
                "channel": "douyin",
                "form": {"vehicle_valuation": 150000, "vehicle_age_years": 3, "credit_inquiries_3m": 2},
            },
            headers=sales,
        ),
        201,
    )
    pdf = b"%PDF-1.4\n1 0 obj <<>> endobj\ntrailer <<>>\n%%EOF\n"
    upload = {"doc_type": "credit_report", "file": (io.BytesIO(pdf), "征信报告.pdf")}
    ok(client.post(f"{INTAKE}/leads/{car['id']}/documents", data=upload, headers=sales), 201)
    ok(client.post(f"{INTAKE}/leads/{car['id']}/submit", headers=sales), 201)
    followup = {
        "method": "call",
        "outcome": "interested",
        "intent_level": "A",
        "next_followup_at": "2026-12-01T02:00:00Z",
    }
    ok(client.post(f"{INTAKE}/leads/{car['id']}/followups", json=followup, headers=sales), 201)
    ok(
        client.post(
            f"{INTAKE}/leads/{car['id']}/followups", json={"method": "sms", "outcome": "no_answer"}, headers=sales
        ),
        201,
    )
    ok(client.put(f"{INTAKE}/channels/douyin/spend/2026-11", json={"amount": 120000}, headers=admin), 200)
    live = harness.drain_outbox(runtime)
    assert services.get("intake").resync is not None
    services.get("intake").resync(runtime)  # type: ignore[misc]
    return live + harness.drain_outbox(runtime)


def drive_risk(risk: harness.ServiceUnderTest, intake_events: list[Envelope]) -> list[Envelope]:
    """intake's leads, follow-ups and submission reach risk: grades and an evaluation."""
    harness.deliver(intake_events, risk.runtime)
    return harness.drain_outbox(risk.runtime)


@pytest.fixture
def risk(suite_env: dict[str, str]) -> Iterator[harness.ServiceUnderTest]:
    service = harness.service_runtime("risk", suite_env)
    yield service
    service.runtime.database.dispose()


@pytest.fixture
def published(
    identity: harness.ServiceUnderTest,
    intake: harness.ServiceUnderTest,
    risk: harness.ServiceUnderTest,
    tokens: harness.TokenFactory,
) -> list[Envelope]:
    from_intake = drive_intake(intake, tokens)
    return drive_identity(identity) + from_intake + drive_risk(risk, from_intake)


def test_every_event_identity_intake_and_risk_publish_matches_its_documented_schema(published: list[Envelope]) -> None:
    errors = [error for event in published for error in validate_data(event, ROOT)]

    assert errors == [], "\n".join(errors)
    assert len(published) > 20


# Publishers whose own tests drive every type they publish and check it against its schema.
OWN_CONTRACTS = {
    "workflow": "services/workflow/tests/test_workflow_event_schemas.py",
    "notify": "services/notify/tests/test_notify_channels.py",
}


def test_the_drive_publishes_every_type_documented_as_published(published: list[Envelope]) -> None:
    """So that no documented type escapes the check above (a new publisher is driven here, or by its own
    contract test)."""
    elsewhere = {event_type for event_type in PUBLISHED if event_type.split(".")[0] in OWN_CONTRACTS}

    assert {event.type for event in published} == PUBLISHED - elsewhere
    for path in OWN_CONTRACTS.values():
        assert (ROOT / path).is_file(), path


def test_the_drive_covers_nulls_and_values_alike(published: list[Envelope]) -> None:
    """Nullable fields are seen both null and set, so the schemas' ["string","null"] are exercised both ways."""
    leads = [event.data for event in published if event.type.startswith("intake.lead.")]
    users = [event.data for event in published if event.type.startswith("identity.user.")]
    teams = [event.data for event in published if event.type.startswith("identity.team.")]

    assert {lead["partner_id"] is None for lead in leads} == {True, False}
    assert {lead["purpose"] is None for lead in leads} == {True, False}
    assert {lead["duplicate_outcome"] for lead in leads} == {"new_customer", "pool_customer"}
    assert {isinstance(lead["amount"], int) for lead in leads} == {True, False}
    assert {user["team_id"] is None for user in users} == {True, False}
    assert {team["manager_id"] is None for team in teams} == {True, False}
    assert any(lead["features"] == {} for lead in leads)


def test_an_event_gaining_an_undocumented_field_is_reported(published: list[Envelope]) -> None:
    for event in published:
        grown = replace(event, data={**event.data, "mobile": "13812345678"})

        errors = validate_data(grown, ROOT)

        assert errors == [
            f"{event.type} (event {event.id}) at data: Additional properties are not allowed ('mobile' was unexpected)"
        ]


def test_an_event_losing_a_documented_required_field_is_reported(published: list[Envelope]) -> None:
    for event in published:
        for name in load_schema(event.type, event.major, root=ROOT)["required"]:
            shrunk = replace(event, data={key: value for key, value in event.data.items() if key != name})

            errors = validate_data(shrunk, ROOT)

            assert errors == [f"{event.type} (event {event.id}) at data: '{name}' is a required property"]


def test_every_subscribed_routing_key_has_a_schema_or_is_listed_as_not_yet_published() -> None:
    subscribed = {key for spec in services.discover().values() for key in spec.subscriptions}

    assert set(map(routing_key, EVENT_TYPES)) <= subscribed, "reporting archives the whole catalog"
    for key in sorted(subscribed):
        event_type, major = parse_routing_key(key)
        documented = (ROOT / schema_path(event_type, major)).is_file()
        assert documented or event_type in NOT_YET_PUBLISHED, f"{key}: no schema and not listed as not yet published"


def test_no_service_names_one_of_its_own_catalog_types_that_is_listed_as_not_yet_published() -> None:
    """A service whose code names a type of its own (``uow.emit("<its type>", …)``) publishes it: it needs a schema."""
    catalog = set(EVENT_TYPES)
    named: dict[str, set[str]] = {}
    for path in sorted((ROOT / "services").glob("*/loanbridge/*/**/*.py")):
        owner = path.relative_to(ROOT / "services").parts[0]
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Constant) and node.value in catalog and node.value.split(".")[0] == owner:
                named.setdefault(owner, set()).add(node.value)

    assert named, "the scan found no publisher at all"
    for owner, types in named.items():
        assert not types & NOT_YET_PUBLISHED, f"{owner} names {sorted(types & NOT_YET_PUBLISHED)}: document them"
    assert set().union(*named.values()) == PUBLISHED


def test_a_lead_whose_form_gives_a_feature_a_list_is_refused_rather_than_published_against_the_schema(
    intake: harness.ServiceUnderTest, tokens: harness.TokenFactory
) -> None:
    sales = tokens.header(subject="5b0c2d8e-1f4a-4c7b-8e3d-2a6f9b1c0d7e", roles=["sales"])
    lead = {
        "name": "王五",
        "mobile": "13905310002",
        "city": "济南",
        "product": "house",
        "amount": 300000,
        "term_months": 24,
        "channel": "douyin",
        "form": {"monthly_income": [41]},
    }

    response = intake.client().post(f"{INTAKE}/leads", json=lead, headers=sales)
    errors = [error for event in harness.drain_outbox(intake.runtime) for error in validate_data(event, ROOT)]

    assert (response.status_code, errors) == (422, [])


def test_an_empty_team_or_manager_id_is_refused_or_stored_as_null_rather_than_published_as_an_empty_id(
    identity: harness.ServiceUnderTest,
) -> None:
    runtime, client = identity.runtime, identity.client()
    runtime.transaction(identity_handlers.ensure_admin, config=runtime.config, username="admin", password=PASSWORD)
    grant = {"grant_type": "password", "username": "admin", "password": PASSWORD}
    admin = {"Authorization": f"Bearer {ok(client.post(f'{IDENTITY}/token', data=grant), 200)['access_token']}"}
    staff = {"username": "wang.wu", "password": PASSWORD, "display_name": "王五", "roles": ["sales"], "team_id": ""}

    user = client.post(f"{IDENTITY}/users", json=staff, headers=admin)
    team = client.post(f"{IDENTITY}/teams", json={"name": "烟台一组", "manager_id": ""}, headers=admin)
    errors = [error for event in harness.drain_outbox(runtime) for error in validate_data(event, ROOT)]

    assert (user.status_code, "team_id" in user.get_json()["details"]["fields"]) == (422, True)
    assert (team.status_code, "manager_id" in team.get_json()["details"]["fields"]) == (422, True)
    assert errors == []
