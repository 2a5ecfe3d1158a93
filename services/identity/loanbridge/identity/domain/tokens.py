"""The claims of the tokens identity issues (ARCHITECTURE.md §4)."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from typing import Any


def base_claims(*, subject: str, issuer: str, audience: str, now: datetime, ttl: timedelta) -> dict[str, Any]:
    return {
        "iss": issuer,
        "aud": audience,
        "sub": subject,
        "iat": int(now.timestamp()),
        "exp": int((now + ttl).timestamp()),
        "jti": str(uuid.uuid4()),
    }


def staff_claims(
    *,
    user_id: str,
    display_name: str,
    roles: list[str],
    team_id: str | None,
    managed_team_ids: list[str],
    region: str | None,
    **common: Any,
) -> dict[str, Any]:
    return {
        **base_claims(subject=user_id, **common),
        "name": display_name,
        "roles": sorted(roles),
        "team_id": team_id,
        "managed_team_ids": sorted(managed_team_ids),
        "region": region,
    }


def client_claims(*, client_id: str, kind: str, partner_id: str | None, **common: Any) -> dict[str, Any]:
    claims = {**base_claims(subject=client_id, **common), "roles": [kind]}
    if partner_id:
        claims["partner_id"] = partner_id
    return claims
