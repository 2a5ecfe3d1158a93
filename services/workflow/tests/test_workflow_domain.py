"""Unit tests of the pure rules: assignment conditions and strategies, SLA units."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from loanbridge.common.calendar import BusinessCalendar
from loanbridge.workflow.domain import sla
from loanbridge.workflow.domain.assignment import Candidate, least_loaded, round_robin, rule_matches


def member(user_id: str, *, open_customers: int = 0, cap: int = 10, active: bool = True) -> Candidate:
    return Candidate(user_id=user_id, active=active, open_customers=open_customers, cap=cap)


def test_a_rule_matches_on_city_product_channel_and_an_amount_range() -> None:
    rule = {"condition": {"cities": ["临沂"], "products": ["car"], "amount_min": 50000, "amount_max": 300000}}

    assert rule_matches(rule, {"city": "临沂", "product": "car", "channel": "douyin", "amount": 120000})
    assert not rule_matches(rule, {"city": "临沂", "product": "car", "channel": "douyin", "amount": 400000})
    assert not rule_matches(rule, {"city": "济南", "product": "car", "channel": "douyin", "amount": 120000})


def test_a_rule_may_add_a_zen_expression_over_the_lead() -> None:
    rule = {"condition": {"expression": 'channel == "douyin" and amount >= 100000'}}

    assert rule_matches(rule, {"channel": "douyin", "amount": 100000})
    assert not rule_matches(rule, {"channel": "baidu", "amount": 100000})


def test_round_robin_continues_after_the_last_one_served_and_skips_the_unavailable() -> None:
    members = [member("a"), member("b", active=False), member("c", open_customers=10), member("d")]

    assert round_robin(members, "a").user_id == "d"  # type: ignore[union-attr]
    assert round_robin(members, "d").user_id == "a"  # type: ignore[union-attr]
    assert round_robin([member("b", active=False)], None) is None


def test_least_loaded_breaks_ties_by_user_id() -> None:
    members = [member("b", open_customers=1), member("a", open_customers=1), member("c", open_customers=3)]

    assert least_loaded(members).user_id == "a"  # type: ignore[union-attr]


def test_plain_hours_and_days_ignore_the_calendar() -> None:
    start = datetime(2026, 10, 1, 2, tzinfo=UTC)

    assert sla.deadline(start, 5, "hours", on=BusinessCalendar()) == start + timedelta(hours=5)
    assert sla.deadline(start, 2, "days", on=BusinessCalendar()) == start + timedelta(days=2)
