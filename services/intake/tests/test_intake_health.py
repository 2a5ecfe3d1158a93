"""Component tests of intake's probes and OpenAPI document."""

from __future__ import annotations

from typing import Any


def test_intake_is_alive_and_ready(client: Any) -> None:
    assert client.get("/healthz").get_json() == {"status": "ok", "service": "intake"}
    assert client.get("/readyz").status_code == 200


def test_intake_openapi_documents_leads_with_the_idempotency_header(client: Any) -> None:
    response = client.get("/api/intake/openapi.json")

    assert response.status_code == 200
    post = response.get_json()["paths"]["/api/intake/v1/leads"]["post"]
    assert "Idempotency-Key" in [parameter["name"] for parameter in post.get("parameters", [])]
