"""Component tests of identity's probes and OpenAPI document."""

from __future__ import annotations

from typing import Any


def test_identity_is_alive_and_ready(client: Any) -> None:
    assert client.get("/healthz").get_json() == {"status": "ok", "service": "identity"}
    ready = client.get("/readyz")
    assert ready.status_code == 200
    assert ready.get_json()["status"] == "ready"


def test_identity_openapi_documents_tokens_jwks_users_and_teams(client: Any) -> None:
    response = client.get("/api/identity/openapi.json")

    assert response.status_code == 200
    paths = response.get_json()["paths"]
    for path in ("/api/identity/v1/token", "/api/identity/v1/jwks", "/api/identity/v1/users", "/api/identity/v1/teams"):
        assert path in paths
    # The service-to-service endpoints are served but not published with the public API.
    assert all(path.startswith("/api/identity/v1/") for path in paths)
