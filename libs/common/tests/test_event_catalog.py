"""Unit tests of the event catalog's schemas (docs/events/), of the data check, and of the AsyncAPI document."""

from __future__ import annotations

import json
import subprocess
import sys
import uuid
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from loanbridge.common.auth import ROLES
from loanbridge.common.events import asyncapi
from loanbridge.common.events.catalog import EVENT_TYPES, NOT_YET_PUBLISHED, ROUTING_KEYS
from loanbridge.common.events.envelope import Envelope, dataschema
from loanbridge.common.events.schemas import (
    UndocumentedEventType,
    check_schema,
    load_schema,
    parse_routing_key,
    repository_root,
    schema_path,
    validate_data,
)
from loanbridge.common.features import FEATURES
from loanbridge.common.service import ServiceSpec, discover

ROOT = repository_root(Path(__file__))
PUBLISHED = [event_type for event_type in EVENT_TYPES if event_type not in NOT_YET_PUBLISHED]
USER_TYPES = ["identity.user.created", "identity.user.updated", "identity.user.deactivated"]
LEAD_TYPES = ["intake.lead.created", "intake.lead.updated"]


def new_id() -> str:
    return str(uuid.uuid4())


def workflow_sample(event_type: str) -> dict[str, Any]:
    """Data of each workflow type as workflow sends it."""
    case = {"case_id": new_id(), "customer_id": new_id()}
    loan = {**case, "loan_id": new_id()}
    task = {**case, "task_id": new_id(), "assignee_id": "sales-zhang", "assignee_role": None, "kind": "first_contact",
            "title": "首次联系客户", "due_at": "2026-12-02T02:00:00Z",
            "escalate_to": {"user_id": "mgr-wang", "role": "manager"}}  # fmt: skip
    lender = {**case, "submission_id": new_id(), "lender": "齐鲁银行", "lender_product": "qilu_house_1",
              "amount": 500000, "decision": None, "approved_amount": None, "reason": None}  # fmt: skip
    samples: dict[str, dict[str, Any]] = {
        "workflow.case.assigned": {**case, "assignee_id": "sales-zhang", "previous_assignee_id": None,
                                   "team_id": "team-jinan-1", "rule_id": "staff_entered", "reason": "staff_entered",
                                   "conflict_with": None},
        "workflow.case.recycled": {**case, "from_owner": "sales-zhang", "to_owner": None, "reason": "not_followed_up"},
        "workflow.case.claimed": {**case, "from_owner": None, "to_owner": "sales-li", "team_id": None,
                                  "reason": "claimed"},
        "workflow.stage.changed": {**case, "from_stage": "assigned", "to_stage": "pre_review", "actor": "sales-zhang",
                                   "reason": None},
        "workflow.task.created": task,
        "workflow.task.completed": task,
        "workflow.task.overdue": task,
        "workflow.task.reminder_due": task,
        "workflow.lender.submitted": lender,
        "workflow.lender.decided": {**lender, "decision": "approved", "approved_amount": 450000},
        "workflow.loan.disbursed": {**loan, "lender": "齐鲁银行", "lender_product": "qilu_house_1", "principal": 100000,
                                    "annual_rate": 0.12, "term_months": 1, "commission": 2000,
                                    "method": "equal_installment", "disbursed_at": "2026-11-30T02:00:00Z",
                                    "schedule": [{"installment": 1, "due_date": "2026-12-30", "principal": 100000,
                                                  "interest": 1000, "amount": 101000}]},
        "workflow.repayment.recorded": {**loan, "installment": 1, "reference": "fin-0001",
                                        "paid_at": "2026-12-30T02:00:00Z", "amount": 101000},
        "workflow.loan.overdue": {**loan, "installment": 1, "due_date": "2026-12-30", "days_past_due": 1,
                                  "amount_due": 101000, "outstanding_principal": 100000},
        "workflow.loan.settled": {**loan, "settled_at": "2026-12-30T02:00:00Z"},
    }  # fmt: skip
    return samples[event_type]


def sample_data(event_type: str) -> dict[str, Any]:
    """Data of each type as its publisher sends it."""
    if event_type.startswith("workflow."):
        return workflow_sample(event_type)
    if event_type.startswith("notify."):
        failed = event_type == "notify.message.failed"
        return {"message_id": new_id(), "channel": "sms", "template": "repayment_due", "subject_id": new_id(),
                "recipient_kind": "customer", "recipient_id": new_id(), "cause_event_type": "workflow.loan.disbursed",
                "attempt": 2, "error": "isv.MOBILE_NUMBER_ILLEGAL" if failed else None}  # fmt: skip
    entity = event_type.split(".")[1]
    if event_type == "risk.customer.graded":
        return {"customer_id": new_id(), "lead_id": new_id(), "grade": "A", "previous_grade": None, "reasons": []}
    if entity == "user":
        return {
            "user_id": new_id(),
            "display_name": "张三",
            "roles": ["sales"],
            "team_id": new_id(),
            "region": "济南",
            "products": ["house"],
            "active": event_type != "identity.user.deactivated",
        }
    if entity == "team":
        return {"team_id": new_id(), "name": "济南一组", "manager_id": None, "region": "济南"}
    if entity == "customer":
        return {"customer_id": new_id(), "masked_name": "张**", "city": "济南", "channel": "douyin"}
    if entity == "application":
        return {
            "lead_id": new_id(),
            "customer_id": new_id(),
            "product": "credit",
            "form_version": 1,
            "amount": 88000.5,
            "term_months": 36,
            "channel": "douyin",
            "city": "济南",
            "features": {"monthly_income": 20000, "age": 41, "blacklisted": False},
            "documents": ["id_card", "credit_report"],
            "required_documents": ["id_card", "credit_report", "bank_statement", "income_proof"],
            "missing_fields": ["social_security_months"],
        }
    if entity == "document":
        return {"lead_id": new_id(), "document_id": new_id(), "doc_type": "credit_report"}
    if entity == "followup":
        return {
            "lead_id": new_id(),
            "customer_id": new_id(),
            "user_id": new_id(),
            "method": "call",
            "outcome": "interested",
            "intent_level": "A",
            "next_followup_at": "2026-11-30T02:00:00Z",
        }
    if entity == "channel":
        return {"channel": "douyin", "month": "2026-11", "amount": 120000}
    if entity == "product":
        return {
            "product": "house",
            "form_version": 2,
            "risk_features": [{"name": "property_valuation", "type": "number", "title": "房产估值(元)"}],
            "required_documents": ["id_card", "property_certificate"],
        }
    if entity == "evaluation":
        hit = {"rule_id": "ROUTE_DEBT_RATIO", "table": "routing", "decision": "review", "reason": "负债率超过70%",
               "route_to": "risk_director", "flag": None, "inputs": {"debt_ratio": 0.71}}  # fmt: skip
        return {
            "evaluation_id": new_id(),
            "lead_id": new_id(),
            "customer_id": new_id(),
            "product": "house",
            "ruleset_version": 1,
            "decision": "review",
            "score": 72.0,
            "grade": "B",
            "route_to": "risk_director",
            "flags": [],
            "hits": [hit],
            "missing_documents": [],
            "missing_fields": [],
            "reasons": ["负债率超过70%"],
            "supplement_required": False,
        }
    return {
        "lead_id": new_id(),
        "customer_id": new_id(),
        "product": "house",
        "amount": 88000.5,
        "term_months": 36,
        "purpose": None,
        "channel": "douyin",
        "partner_id": None,
        "city": "济南",
        "submitted_by": "p_rongtong_api",
        "duplicate_outcome": "pool_customer",
        "features": {"monthly_income": 20000, "blacklisted": False, "employer_type": "soe", "age": None},
        "created_at": "2026-11-28T10:27:23.123456Z",
    }


def event(event_type: str, data: dict[str, Any] | None = None) -> Envelope:
    return Envelope.new(
        source=event_type.split(".")[0],
        event_type=event_type,
        subject=new_id(),
        sequence=1,
        data=sample_data(event_type) if data is None else data,
        correlation_id=new_id(),
        causation_id=None,
        actor=None,
    )


# --- the schema files -----------------------------------------------------------------------------------------
@pytest.mark.parametrize("event_type", PUBLISHED)
def test_each_published_type_has_a_valid_closed_schema_at_the_path_its_envelopes_name(event_type: str) -> None:
    path = ROOT / dataschema(event_type)
    schema = json.loads(path.read_text(encoding="utf-8"))

    check_schema(schema)
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    assert schema["$id"] == schema_path(event_type) == dataschema(event_type)
    assert schema["title"] and schema["description"]
    assert schema["type"] == "object"
    assert schema["additionalProperties"] is False
    assert set(schema["required"]) == set(schema["properties"]), "every field of today's events is always sent"
    for name, field in schema["properties"].items():
        assert field.get("description"), f"{event_type}.{name} has no description"


def test_every_catalog_type_either_has_a_schema_or_is_listed_as_not_yet_published_never_both() -> None:
    assert NOT_YET_PUBLISHED.issubset(EVENT_TYPES)
    for event_type in EVENT_TYPES:
        has_schema = (ROOT / schema_path(event_type)).is_file()
        assert has_schema != (event_type in NOT_YET_PUBLISHED), event_type
    documented = {path.name for path in (ROOT / "docs" / "events").glob("*.schema.json")}
    assert documented == {Path(schema_path(event_type)).name for event_type in PUBLISHED}, "a schema of no type"


def test_the_events_readme_lists_every_published_type_with_its_schema_file() -> None:
    readme = (ROOT / "docs" / "events" / "README.md").read_text(encoding="utf-8")

    for event_type in PUBLISHED:
        assert f"| {event_type} |" in readme
        assert f"({Path(schema_path(event_type)).name})" in readme
    assert "../events.md" in readme


@pytest.mark.parametrize("event_type", LEAD_TYPES)
def test_lead_features_document_the_feature_dictionary_and_admit_a_products_own_scalar_features(
    event_type: str,
) -> None:
    features = load_schema(event_type, root=ROOT)["properties"]["features"]

    assert features["type"] == "object"
    assert features["additionalProperties"] == {"type": ["number", "boolean", "string", "null"]}
    assert features["propertyNames"] == {"pattern": "^[a-z][a-z0-9_]{0,63}$"}
    assert list(features["properties"]) == list(FEATURES)
    for field in features["properties"].values():
        assert field["type"] == ["number", "boolean", "string", "null"]


@pytest.mark.parametrize("event_type", LEAD_TYPES)
def test_duplicate_outcome_is_one_of_the_four_outcomes(event_type: str) -> None:
    outcome = load_schema(event_type, root=ROOT)["properties"]["duplicate_outcome"]

    assert outcome["enum"] == ["new_customer", "pool_customer", "own_customer", "owned_by_other"]


@pytest.mark.parametrize("event_type", USER_TYPES)
def test_user_roles_are_the_staff_roles_of_the_role_list(event_type: str) -> None:
    roles = load_schema(event_type, root=ROOT)["properties"]["roles"]

    assert roles["items"]["enum"] == [role for role in ROLES if role not in ("partner", "service")]


# --- finding and loading schemas ------------------------------------------------------------------------------
def test_schemas_are_found_by_walking_up_from_any_directory_below_the_root() -> None:
    here = Path(__file__).parent

    assert repository_root(here) == ROOT
    assert load_schema("intake.lead.created", 1, root=here) == load_schema("intake.lead.created", root=ROOT)


def test_a_tree_without_docs_events_has_no_root(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError):
        repository_root(tmp_path)


def test_loading_the_schema_of_an_undocumented_type_raises() -> None:
    with pytest.raises(UndocumentedEventType, match="undocumented event type"):
        load_schema("intake.lead.archived", root=ROOT)
    with pytest.raises(UndocumentedEventType):
        load_schema("intake.lead.created", 2, root=ROOT)


def test_a_routing_key_is_split_into_type_and_major_version() -> None:
    assert parse_routing_key("intake.lead.created.v1") == ("intake.lead.created", 1)
    assert parse_routing_key("intake.lead.created.v12") == ("intake.lead.created", 12)
    for key in ROUTING_KEYS:
        assert parse_routing_key(key)[1] == 1
    with pytest.raises(ValueError):
        parse_routing_key("intake.lead.created")


# --- checking data --------------------------------------------------------------------------------------------
@pytest.mark.parametrize("event_type", PUBLISHED)
def test_data_as_the_publisher_sends_it_passes(event_type: str) -> None:
    assert validate_data(event(event_type), ROOT) == []


@pytest.mark.parametrize("event_type", PUBLISHED)
def test_an_undocumented_field_is_reported(event_type: str) -> None:
    errors = validate_data(event(event_type, {**sample_data(event_type), "mobile": "13812345678"}), ROOT)

    assert len(errors) == 1
    assert event_type in errors[0]
    assert "'mobile' was unexpected" in errors[0]


@pytest.mark.parametrize("event_type", PUBLISHED)
def test_each_missing_documented_field_is_reported(event_type: str) -> None:
    data = sample_data(event_type)
    for name in data:
        lacking = event(event_type, {k: v for k, v in data.items() if k != name})

        errors = validate_data(lacking, ROOT)

        assert errors == [f"{event_type} (event {lacking.id}) at data: '{name}' is a required property"]


def test_a_field_of_the_wrong_type_or_format_is_reported_with_its_path() -> None:
    data = sample_data("intake.lead.created")
    bad = {
        **data,
        "lead_id": "L-1",
        "amount": "500000",
        "duplicate_outcome": "duplicate",
        "created_at": "2026-11-28 10:27",
        "features": {**data["features"], "age": [30], "Employer Name": "济南某某机械厂"},
    }

    errors = validate_data(event("intake.lead.created", bad), ROOT)

    joined = "\n".join(errors)
    assert "at data/lead_id: 'L-1' is not a 'uuid'" in joined
    assert "at data/amount: '500000' is not of type 'number'" in joined
    assert "at data/duplicate_outcome: 'duplicate' is not one of" in joined
    assert "at data/created_at: '2026-11-28 10:27' is not a 'date-time'" in joined
    assert "at data/features/age: [30] is not of type" in joined
    assert "at data/features: 'Employer Name' does not match" in joined
    assert len(errors) == 6


def test_a_role_outside_the_staff_roles_and_a_deactivated_user_still_active_are_reported() -> None:
    partner_role = {**sample_data("identity.user.created"), "roles": ["partner"]}
    still_active = {**sample_data("identity.user.deactivated"), "active": True}

    assert "data/roles/0: 'partner' is not one of" in "".join(
        validate_data(event("identity.user.created", partner_role), ROOT)
    )
    assert "data/active: False was expected" in "".join(
        validate_data(event("identity.user.deactivated", still_active), ROOT)
    )


def test_a_type_without_a_schema_file_is_an_undocumented_event_type() -> None:
    errors = validate_data(event("intake.lead.archived", {"customer_id": new_id()}), ROOT)

    assert errors == [
        "intake.lead.archived v1: undocumented event type (no docs/events/intake.lead.archived.v1.schema.json)"
    ]


def test_an_envelope_naming_another_schema_is_reported() -> None:
    wrong = replace(event("intake.customer.created"), dataschema="docs/events/intake.lead.created.v1.schema.json")

    errors = validate_data(wrong, ROOT)

    assert len(errors) == 1
    assert "dataschema is 'docs/events/intake.lead.created.v1.schema.json'" in errors[0]


def test_a_date_time_must_be_an_rfc3339_instant() -> None:
    data = sample_data("intake.lead.created")
    for good in ("2026-11-28T10:27:23Z", "2026-11-28T10:27:23.5+08:00"):
        assert validate_data(event("intake.lead.created", {**data, "created_at": good}), ROOT) == [], good
    for bad in ("2026-11-28", "2026-02-30T10:27:23Z", "2026-11-28T10:27:23", "yesterday"):
        assert validate_data(event("intake.lead.created", {**data, "created_at": bad}), ROOT), bad


# --- the AsyncAPI document ------------------------------------------------------------------------------------
def test_the_committed_asyncapi_document_is_what_the_code_generates_now() -> None:
    committed = (ROOT / "docs" / "events" / "asyncapi.json").read_text(encoding="utf-8")

    regenerated = asyncapi.render(asyncapi.build(discover()))

    assert regenerated == committed, (
        "docs/events/asyncapi.json is stale: run "
        "`.venv/bin/python -m loanbridge.common.events.asyncapi > docs/events/asyncapi.json`"
    )


def test_running_the_module_prints_the_document() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "loanbridge.common.events.asyncapi"], capture_output=True, check=True, timeout=120
    )

    assert result.stdout.decode("utf-8") == asyncapi.render(asyncapi.build(discover()))


def test_every_catalog_key_is_a_channel_whose_payload_references_its_schema_when_published() -> None:
    document = asyncapi.build(discover())

    assert document["asyncapi"] == "2.6.0"
    assert list(document["channels"]) == list(ROUTING_KEYS)
    for key in ROUTING_KEYS:
        event_type, _ = parse_routing_key(key)
        channel = document["channels"][key]
        assert channel["bindings"]["amqp"]["exchange"]["name"] == "loanbridge.events"
        assert channel["bindings"]["amqp"]["is"] == "routingKey"
        assert channel["subscribe"]["message"] == {"$ref": f"#/components/messages/{key}"}
        message = document["components"]["messages"][key]
        assert message["bindings"]["amqp"]["messageType"] == event_type
        data = message["payload"]["allOf"][1]["properties"]["data"]
        if event_type in NOT_YET_PUBLISHED:
            assert "$ref" not in data
            assert message["x-loanbridge-published"] is False
        else:
            assert (ROOT / "docs" / "events" / data["$ref"]).resolve() == (ROOT / schema_path(event_type)).resolve()
            assert message["x-loanbridge-published"] is True


def test_the_envelope_schema_names_every_envelope_field() -> None:
    envelope = asyncapi.build({})["components"]["schemas"]["envelope"]
    body = json.loads(event("intake.customer.created").to_json())

    assert set(envelope["required"]) == set(body)
    assert set(envelope["properties"]) == set(body)


def test_a_services_subscriptions_become_consumers_and_its_queues_appear_in_the_topology() -> None:
    spec = ServiceSpec(
        name="finance",
        create_app=lambda runtime: None,  # type: ignore[arg-type,return-value]
        migrations=Path("."),
        subscriptions={"workflow.loan.disbursed.v1": lambda uow, event: None, "finance.ledger.closed.v1": print},
    )

    document = asyncapi.build({"finance": spec})

    consumers = document["channels"]["workflow.loan.disbursed.v1"]["x-loanbridge-consumers"]
    assert consumers == [{"service": "finance", "queue": "finance.events"}]
    assert document["channels"]["intake.lead.created.v1"]["x-loanbridge-consumers"] == []
    assert list(document["channels"])[-1] == "finance.ledger.closed.v1"
    assert document["components"]["messages"]["finance.ledger.closed.v1"]["x-loanbridge-published"] is False
    [queue] = document["x-loanbridge-topology"]["queues"]
    assert queue["queue"] == "finance.events"
    assert queue["deadLetterQueue"] == "finance.events.dlq"
    assert queue["bindings"] == 2
