"""Rule sets: validated before anything is saved, four eyes before publishing, history with diffs, rollback;
and what publishing does to evaluations (nothing to those made, the new version for those after)."""

from __future__ import annotations

from typing import Any

from loanbridge.common.testing import harness

API = "/api/risk/v1"


def stricter(model: dict[str, Any], limit: str = "> 5") -> dict[str, Any]:
    """The default model with the high-risk flag at more than 5 inquiries instead of 10."""
    flags = next(node for node in model["nodes"] if node["id"] == "flags")
    flags["content"]["rules"][0]["inq"] = limit
    return model


def draft(client: Any, headers: dict[str, str], model: dict[str, Any], product: str = "house") -> Any:
    return client.post(
        f"{API}/rulesets/{product}/versions", json={"model": model, "note": "收紧查询次数"}, headers=headers
    )


def publish_new_version(client: Any, officer: dict[str, str], director: dict[str, str], model: dict[str, Any]) -> int:
    version = draft(client, officer, model).get_json()["version"]
    assert client.post(f"{API}/rulesets/house/versions/{version}/approve", json={}, headers=director).status_code == 200
    assert client.post(f"{API}/rulesets/house/versions/{version}/publish", json={}, headers=director).status_code == 200
    return int(version)


def test_a_draft_whose_expression_does_not_compile_is_422_naming_the_node(
    client: Any, officer: dict[str, str], default_model: Any
) -> None:
    model = default_model("house")
    model["nodes"][1]["content"]["expressions"][0]["value"] = "monthly_debt_payment / "

    response = draft(client, officer, model)

    assert response.status_code == 422
    body = response.get_json()
    assert body["code"] == "invalid_ruleset"
    assert [p["node"] for p in body["details"]["problems"]] == ["derived"]


def test_a_draft_missing_a_null_guard_is_caught_by_the_all_null_evaluation(
    client: Any, officer: dict[str, str], default_model: Any
) -> None:
    model = default_model("house")
    model["nodes"][1]["content"]["expressions"][0]["value"] = "monthly_debt_payment / monthly_income"

    response = draft(client, officer, model)

    problems = response.get_json()["details"]["problems"]
    assert response.status_code == 422
    assert problems[0]["node"] == "derived" and "全部为空" in problems[0]["message"]


def test_a_draft_reading_an_unknown_field_is_422_naming_the_table(
    client: Any, officer: dict[str, str], default_model: Any
) -> None:
    model = default_model("house")
    model["nodes"][4]["content"]["inputs"][0]["field"] = "salary"

    response = draft(client, officer, model)

    assert response.status_code == 422
    assert response.get_json()["details"]["problems"] == [
        {"node": "flags", "message": "输入字段 salary 不是已知的风控特征"}
    ]


def test_a_feature_of_the_product_form_becomes_readable_once_intake_announces_it(
    client: Any, officer: dict[str, str], default_model: Any, risk: Any, new_event: Any
) -> None:
    model = default_model("house")
    model["nodes"][4]["content"]["inputs"][0]["field"] = "property_floor_count"
    assert draft(client, officer, model).status_code == 422
    announced = {"product": "house", "form_version": 2, "required_documents": [],
                 "risk_features": [{"name": "property_floor_count", "type": "integer", "title": "楼层数"}]}  # fmt: skip

    harness.deliver([new_event("intake.product.published", announced)], risk.runtime)

    assert draft(client, officer, model).status_code == 201


def test_the_person_who_drafted_a_rule_set_cannot_approve_it(client: Any, tokens: Any, default_model: Any) -> None:
    maker = tokens.header(subject="director-a", roles=["risk_director"])
    checker = tokens.header(subject="director-b", roles=["risk_director"])
    version = draft(client, maker, stricter(default_model("house"))).get_json()["version"]

    own = client.post(f"{API}/rulesets/house/versions/{version}/approve", json={}, headers=maker)
    early = client.post(f"{API}/rulesets/house/versions/{version}/publish", json={}, headers=checker)
    other = client.post(f"{API}/rulesets/house/versions/{version}/approve", json={"note": "同意"}, headers=checker)

    assert (own.status_code, own.get_json()["code"]) == (403, "four_eyes_required")
    assert (early.status_code, early.get_json()["code"]) == (409, "ruleset_not_approved")
    assert other.status_code == 200
    assert (other.get_json()["status"], other.get_json()["approved_by"]) == ("approved", "director-b")


def test_a_risk_officer_cannot_approve_or_publish(client: Any, officer: dict[str, str], default_model: Any) -> None:
    version = draft(client, officer, stricter(default_model("house"))).get_json()["version"]

    assert client.post(f"{API}/rulesets/house/versions/{version}/approve", json={}, headers=officer).status_code == 403
    assert client.post(f"{API}/rulesets/house/versions/{version}/publish", json={}, headers=officer).status_code == 403


def test_publishing_changes_no_evaluation_made_and_later_ones_carry_the_new_version(
    client: Any, officer: dict[str, str], director: dict[str, str], default_model: Any, submit: Any,
    evaluated: Any, submission: Any,
) -> None:  # fmt: skip
    application = submission(features={"credit_inquiries_3m": 7})
    before = evaluated(submit(application)[1])

    version = publish_new_version(client, officer, director, stricter(default_model("house")))
    after = evaluated(submit({**application, "lead_id": "00000000-0000-4000-8000-000000000002"})[1])
    stored = client.get(f"{API}/evaluations/{before['evaluation_id']}", headers=officer).get_json()

    assert (before["ruleset_version"], before["flags"]) == (1, [])
    assert (after["ruleset_version"], after["flags"]) == (version, ["high_risk"])
    assert (stored["ruleset_version"], stored["flags"]) == (1, [])


def test_the_history_shows_who_did_what_when_with_notes_and_the_diff(
    client: Any, officer: dict[str, str], director: dict[str, str], default_model: Any
) -> None:
    version = publish_new_version(client, officer, director, stricter(default_model("house")))

    history = client.get(f"{API}/rulesets/house/versions", headers=officer).get_json()

    newest, first = history[0], history[-1]
    assert (newest["version"], newest["status"], first["status"]) == (version, "published", "retired")
    assert [(s["action"], s["actor"]) for s in newest["steps"]] == [
        ("drafted", "risk-officer-li"), ("approved", "risk-director-wang"), ("published", "risk-director-wang")
    ]  # fmt: skip
    assert newest["steps"][0]["note"] == "收紧查询次数"
    changed = [c for c in newest["diff"] if c["change"] == "rule_changed"]
    assert [(c["node"], c["rule"]) for c in changed] == [("flags", "FLAG_CREDIT_INQUIRIES")]
    assert (changed[0]["before"]["inq"], changed[0]["after"]["inq"]) == ("> 10", "> 5")


def test_a_rollback_republishes_the_earlier_version(
    client: Any, officer: dict[str, str], director: dict[str, str], default_model: Any
) -> None:
    publish_new_version(client, officer, director, stricter(default_model("house")))

    response = client.post(f"{API}/rulesets/house/rollback", json={"to_version": 1, "note": "误伤过多"},
                           headers=director)  # fmt: skip
    published = client.get(f"{API}/rulesets/house", headers=officer).get_json()
    statuses = {
        v["version"]: v["status"] for v in client.get(f"{API}/rulesets/house/versions", headers=officer).get_json()
    }

    assert response.status_code == 200
    assert published["version"] == 1 and published["model"]["contentType"] == "application/vnd.gorules.decision"
    assert statuses == {1: "published", 2: "rolled_back"}


def test_the_published_default_rule_sets_name_the_engine_they_run_on(client: Any, officer: dict[str, str]) -> None:
    listed = client.get(f"{API}/rulesets", headers=officer).get_json()

    assert [(r["product"], r["version"], r["engine_version"]) for r in listed] == [
        ("car", 1, "zen-engine 2.1.3"), ("credit", 1, "zen-engine 2.1.3"), ("house", 1, "zen-engine 2.1.3")
    ]  # fmt: skip


def test_a_salesperson_cannot_read_or_draft_rule_sets(client: Any, sales: dict[str, str], default_model: Any) -> None:
    assert client.get(f"{API}/rulesets", headers=sales).status_code == 403
    assert draft(client, sales, default_model("house")).status_code == 403
