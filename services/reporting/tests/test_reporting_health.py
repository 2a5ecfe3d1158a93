"""Component tests of reporting's probes and OpenAPI document."""

from __future__ import annotations

from typing import Any


def test_reporting_is_alive_and_ready(reporting: Any) -> None:
    client = reporting.client()
    assert client.get("/healthz").get_json() == {"status": "ok", "service": "reporting"}
    assert client.get("/readyz").status_code == 200


def test_reporting_openapi_documents_the_kpis(reporting: Any) -> None:
    response = reporting.client().get("/api/reporting/openapi.json")

    assert response.status_code == 200
    parameters = response.get_json()["paths"]["/api/reporting/v1/kpis"]["get"]["parameters"]
    assert {"from", "to", "channel", "product", "city"} <= {parameter["name"] for parameter in parameters}


def test_reporting_openapi_documents_every_kpi_table_and_the_export(reporting: Any) -> None:
    paths = reporting.client().get("/api/reporting/openapi.json").get_json()["paths"]

    expected = {"kpis", "roi", "approvals", "funnel", "stage-times", "leaderboard", "overdue", "trends", "sla"}
    assert {f"/api/reporting/v1/{name}" for name in expected | {"export.xlsx"}} <= set(paths)
    kpi_values = next(p for p in paths["/api/reporting/v1/export.xlsx"]["get"]["parameters"] if p["name"] == "kpi")
    assert "owner_id" in {parameter["name"] for parameter in paths["/api/reporting/v1/kpis"]["get"]["parameters"]}
    assert kpi_values["required"] is True
