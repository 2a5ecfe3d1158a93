"""Who sees which customer and lead (ARCHITECTURE.md §4): a read outside one's scope is a 404, never data.

- admin, ops, risk_officer, risk_director: every customer and lead;
- manager: customers owned by a member of their teams, customers nobody owns yet (the public pool), and
  customers of leads the manager entered;
- sales: customers they own, and customers of leads they entered;
- partner: only the leads it submitted (no customer records).
"""

from __future__ import annotations

from collections.abc import Iterable

from loanbridge.common.auth import Principal

SEES_EVERYTHING = ("admin", "ops", "risk_officer", "risk_director")
MAY_UNMASK = ("admin", "risk_officer", "risk_director", "manager", "sales")


def sees_every_customer(principal: Principal) -> bool:
    return principal.has_any(*SEES_EVERYTHING)


def sees_customer(
    principal: Principal, *, owner_id: str | None, owner_team_id: str | None, submitters: Iterable[str]
) -> bool:
    """Whether a staff member may read a customer (partners never read customer records)."""
    if principal.is_partner:
        return False
    if sees_every_customer(principal):
        return True
    if principal.subject == owner_id or principal.subject in set(submitters):
        return True
    if principal.has_any("manager"):
        return owner_id is None or owner_team_id in principal.managed_team_ids
    return False


def sees_lead(principal: Principal, *, partner_id: str | None, submitted_by: str, customer_visible: bool) -> bool:
    if principal.partner_id:
        return partner_id == principal.partner_id
    return customer_visible or submitted_by == principal.subject


def may_unmask(principal: Principal) -> bool:
    """Roles that may ask for a customer's personal data in clear (each such read is audited)."""
    return principal.has_any(*MAY_UNMASK) and not principal.is_partner
