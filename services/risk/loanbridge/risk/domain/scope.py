"""Who reads which customer's grade and evaluations (ARCHITECTURE.md §4); outside one's scope a read is a 404.

- admin, ops, risk_officer, risk_director: every customer;
- manager: customers owned by a member of their teams (the owner's team as workflow named it, or the team identity
  says the owner is in now), and customers nobody owns (the public pool, or not assigned yet), as in intake and
  workflow;
- sales: the customers they own;
- partner: no grades or evaluations here (their routes refuse partners).

The owner is what workflow's events last told risk, so a read may lag an assignment by the time the event takes.
"""

from __future__ import annotations

from dataclasses import dataclass

from loanbridge.common.auth import Principal

SEES_EVERY_CUSTOMER = ("admin", "ops", "risk_officer", "risk_director")


@dataclass(frozen=True)
class Owner:
    """A customer's owner as risk knows it: ``owner_id`` None is the public pool."""

    owner_id: str | None
    team_id: str | None = None
    member_of_team_id: str | None = None  # the owner's team now, as identity last told


NOBODY = Owner(owner_id=None)


def sees_every_customer(principal: Principal) -> bool:
    return principal.has_any(*SEES_EVERY_CUSTOMER)


def sees_customer(principal: Principal, owner: Owner) -> bool:
    """Whether the caller may read a customer's grade and evaluations."""
    if principal.is_partner:
        return False
    if sees_every_customer(principal):
        return True
    if owner.owner_id is not None and principal.subject == owner.owner_id:
        return True
    if not principal.has_any("manager"):
        return False
    if owner.owner_id is None:
        return True
    teams = set(principal.managed_team_ids)
    return owner.team_id in teams or owner.member_of_team_id in teams
