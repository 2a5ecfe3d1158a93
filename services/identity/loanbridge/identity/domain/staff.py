"""Staff roles and the products a salesperson may sell."""

from __future__ import annotations

from loanbridge.common.auth import ROLES

STAFF_ROLES = tuple(role for role in ROLES if role not in ("partner", "service"))


def invalid_staff_roles(roles: list[str]) -> list[str]:
    """The roles a staff account may not hold (partner and service are clients' roles, not people's)."""
    return sorted(set(roles) - set(STAFF_ROLES))
