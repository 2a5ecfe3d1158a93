"""Who gets a new case: the submitter, the customer's owner, or the first assignment rule that matches.

A rule has a condition (cities, products, channels, an amount range, optionally a zen-engine expression over the
lead) and a strategy: a named user, a team by round-robin, or the team member with the fewest open customers.
Only active staff under their cap are candidates.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from loanbridge.workflow.domain.processes import evaluate

STRATEGIES = ("user", "round_robin", "least_loaded")


@dataclass(frozen=True)
class Candidate:
    """A staff member who might take a case, with how many customers they own now and may own at most."""

    user_id: str
    active: bool
    open_customers: int
    cap: int

    @property
    def available(self) -> bool:
        return self.active and self.open_customers < self.cap


def rule_matches(rule: dict[str, Any], lead: dict[str, Any]) -> bool:
    """Whether a lead (city, product, channel, amount) meets an assignment rule's condition."""
    condition = rule.get("condition") or {}
    for name, plural in (("city", "cities"), ("product", "products"), ("channel", "channels")):
        wanted = condition.get(plural) or []
        if wanted and lead.get(name) not in wanted:
            return False
    amount = Decimal(str(lead.get("amount") or 0))
    if condition.get("amount_min") is not None and amount < Decimal(str(condition["amount_min"])):
        return False
    if condition.get("amount_max") is not None and amount > Decimal(str(condition["amount_max"])):
        return False
    expression = condition.get("expression")
    return not expression or evaluate(expression, {**lead, "amount": float(amount)})


def round_robin(members: Sequence[Candidate], last_user_id: str | None) -> Candidate | None:
    """The next available member after the last one served, in user id order."""
    ordered = sorted(members, key=lambda member: member.user_id)
    start = next((i + 1 for i, member in enumerate(ordered) if member.user_id == last_user_id), 0)
    rotated = ordered[start:] + ordered[:start]
    return next((member for member in rotated if member.available), None)


def least_loaded(members: Sequence[Candidate]) -> Candidate | None:
    """The available member owning the fewest open customers (ties by user id)."""
    available = [member for member in members if member.available]
    return min(available, key=lambda member: (member.open_customers, member.user_id), default=None)
