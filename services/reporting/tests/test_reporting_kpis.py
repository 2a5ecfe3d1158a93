"""Component tests of reporting's lead KPIs, fed with intake's real events moved without a broker."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import pytest
import sqlalchemy as sa

from loanbridge.common.clock import FixedClock, use_clock
from loanbridge.common.events.envelope import Envelope
from loanbridge.common.events.inbox import Outcome
from loanbridge.common.testing import harness
from loanbridge.intake.service import SERVICE as INTAKE
from loanbridge.reporting import orm

KPIS = "/api/reporting/v1/kpis"
# 10:00 in Shanghai on 2026-03-10, far from a day boundary.
MORNING = datetime(2026, 3, 10, 2, 0, tzinfo=UTC)
Relay = Callable[[], list[tuple[Envelope, Outcome]]]
LEAD_FIELDS = ("channel", "product", "leads", "amount")


def kpis(reporting: Any, headers: dict[str, str], **query: str) -> Any:
    return reporting.client().get(KPIS, query_string=query, headers=headers)


def rows_for_day(reporting: Any, headers: dict[str, str], day: str, **filters: str) -> list[dict[str, Any]]:
    """The day's rows, each cut down to the lead counts and amounts these tests are about."""
    response = kpis(reporting, headers, **{"from": day, "to": day, **filters})
    assert response.status_code == 200, response.get_json()
    return [{key: row[key] for key in LEAD_FIELDS} for row in response.get_json()["rows"]]


def lead_updated(created: Envelope, *, sequence: int, **changes: Any) -> Envelope:
    """An ``intake.lead.updated`` for the same lead as ``created``, with a chosen sequence."""
    return Envelope.new(
        source="intake",
        event_type="intake.lead.updated",
        subject=created.subject,
        sequence=sequence,
        data={**created.data, **changes},
        correlation_id=f"test-{sequence}",
        causation_id=None,
        actor="sales-zhang",
    )


def test_leads_delivered_from_intake_show_in_kpis_by_channel_and_product(
    reporting: Any, submit_lead: Callable[..., dict[str, Any]], relay: Relay, admin_headers: dict[str, str]
) -> None:
    with use_clock(FixedClock(MORNING)):
        submit_lead(channel="douyin", product="house", amount=300000)
        submit_lead(channel="douyin", product="house", amount=200000.5)
        submit_lead(channel="baidu", product="credit", amount=50000)
    delivered = relay()

    response = kpis(reporting, admin_headers, **{"from": "2026-03-10", "to": "2026-03-10"})

    assert [(e.type, outcome) for e, outcome in delivered if e.type == "intake.lead.created"] == [
        ("intake.lead.created", Outcome.APPLIED)
    ] * 3
    assert response.status_code == 200
    body = response.get_json()
    assert (body["from"], body["to"]) == ("2026-03-10", "2026-03-10")
    assert [{key: row[key] for key in LEAD_FIELDS} for row in body["rows"]] == [
        {"channel": "baidu", "product": "credit", "leads": 1, "amount": 50000.0},
        {"channel": "douyin", "product": "house", "leads": 2, "amount": 500000.5},
    ]


def test_delivering_the_same_events_twice_counts_each_lead_once(
    reporting: Any, submit_lead: Callable[..., dict[str, Any]], relay: Relay, admin_headers: dict[str, str]
) -> None:
    with use_clock(FixedClock(MORNING)):
        submit_lead(channel="douyin")
    first = relay()
    events = [event for event, _ in first]

    second = harness.deliver(events, reporting.runtime)

    assert "intake.lead.created" in [event.type for event in events]
    assert [outcome for _, outcome in first] == [Outcome.APPLIED] * len(events)
    assert second == [Outcome.DUPLICATE] * len(events)
    assert rows_for_day(reporting, admin_headers, "2026-03-10") == [
        {"channel": "douyin", "product": "house", "leads": 1, "amount": 300000.0}
    ]
    with reporting.runtime.database.session() as session:
        archived = session.execute(sa.select(sa.func.count()).select_from(orm.event_archive)).scalar_one()
    assert archived == len(events)


def test_resync_snapshots_from_intake_do_not_count_a_lead_twice(
    reporting: Any,
    intake: Any,
    submit_lead: Callable[..., dict[str, Any]],
    relay: Relay,
    admin_headers: dict[str, str],
) -> None:
    with use_clock(FixedClock(MORNING)):
        submit_lead(channel="douyin")
    relay()

    INTAKE.resync(intake.runtime)
    snapshots = relay()

    assert [(event.type, outcome) for event, outcome in snapshots if event.type != "intake.product.published"] == [
        ("intake.customer.updated", Outcome.APPLIED),
        ("intake.lead.updated", Outcome.APPLIED),
    ]
    assert rows_for_day(reporting, admin_headers, "2026-03-10")[0]["leads"] == 1


def test_kpis_filter_by_channel_product_and_city(
    reporting: Any, submit_lead: Callable[..., dict[str, Any]], relay: Relay, admin_headers: dict[str, str]
) -> None:
    with use_clock(FixedClock(MORNING)):
        submit_lead(channel="douyin", product="house", city="济南", amount=100)
        submit_lead(channel="douyin", product="credit", city="青岛", amount=200)
        submit_lead(channel="baidu", product="house", city="济南", amount=400)
    relay()
    day = "2026-03-10"

    by_channel = rows_for_day(reporting, admin_headers, day, channel="douyin")
    by_product = rows_for_day(reporting, admin_headers, day, product="house")
    by_city = rows_for_day(reporting, admin_headers, day, city="青岛")
    combined = rows_for_day(reporting, admin_headers, day, channel="douyin", city="济南")
    nothing = rows_for_day(reporting, admin_headers, day, channel="referral")

    assert [(r["channel"], r["product"], r["amount"]) for r in by_channel] == [
        ("douyin", "credit", 200.0),
        ("douyin", "house", 100.0),
    ]
    assert [(r["channel"], r["product"], r["amount"]) for r in by_product] == [
        ("baidu", "house", 400.0),
        ("douyin", "house", 100.0),
    ]
    assert [(r["channel"], r["product"], r["leads"]) for r in by_city] == [("douyin", "credit", 1)]
    assert [(r["channel"], r["product"], r["leads"]) for r in combined] == [("douyin", "house", 1)]
    assert nothing == []


def test_kpis_range_with_from_after_to_is_422_naming_from(reporting: Any, admin_headers: dict[str, str]) -> None:
    response = kpis(reporting, admin_headers, **{"from": "2026-03-10", "to": "2026-03-09"})

    assert response.status_code == 422
    body = response.get_json()
    assert body["code"] == "validation_error"
    assert "from" in body["details"]["fields"]


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ({"from": "2026-13-01", "to": "2026-03-10"}, "from"),
        ({"from": "2026-03-01", "to": "yesterday"}, "to"),
        ({"from": "2010-01-01", "to": "2026-03-10"}, "from"),
        ({"chanel": "douyin"}, "chanel"),
    ],
    ids=["bad_month", "not_a_date", "more_than_ten_years", "misspelt_filter"],
)
def test_bad_kpi_queries_are_422_naming_the_parameter(
    reporting: Any, admin_headers: dict[str, str], query: dict[str, str], field: str
) -> None:
    response = kpis(reporting, admin_headers, **query)

    assert response.status_code == 422
    assert field in response.get_json()["details"]["fields"]


def test_kpis_are_refused_to_partners_and_risk_staff_and_need_a_token(
    reporting: Any, tokens: harness.TokenFactory, sales_headers: dict[str, str]
) -> None:
    day = {"from": "2026-03-10", "to": "2026-03-10"}
    partner = tokens.header(roles=["partner"], partner_id="partner-1")

    assert kpis(reporting, partner, **day).status_code == 403
    assert kpis(reporting, tokens.header(roles=["risk_officer"]), **day).status_code == 403
    assert reporting.client().get(KPIS, query_string=day).status_code == 401
    for role in ("admin", "ops", "manager", "sales"):
        assert kpis(reporting, tokens.header(roles=[role]), **day).status_code == 200


def test_a_lead_counts_on_its_business_day_in_shanghai(
    reporting: Any, submit_lead: Callable[..., dict[str, Any]], relay: Relay, admin_headers: dict[str, str]
) -> None:
    with use_clock(FixedClock(datetime(2026, 3, 1, 17, 30, tzinfo=UTC))):  # 01:30 on 2 March in Shanghai
        submit_lead(channel="douyin")
    with use_clock(FixedClock(datetime(2026, 3, 1, 15, 59, 59, tzinfo=UTC))):  # 23:59:59 on 1 March in Shanghai
        submit_lead(channel="baidu")
    relay()

    assert [r["channel"] for r in rows_for_day(reporting, admin_headers, "2026-03-02")] == ["douyin"]
    assert [r["channel"] for r in rows_for_day(reporting, admin_headers, "2026-03-01")] == ["baidu"]


def test_kpis_default_to_the_last_thirty_business_days(
    reporting: Any, tokens: harness.TokenFactory, submit_lead: Callable[..., dict[str, Any]], relay: Relay
) -> None:
    with use_clock(FixedClock(MORNING)):
        submit_lead(channel="douyin")
        relay()
        response = kpis(reporting, tokens.header(roles=["ops"]))

    body = response.get_json()
    assert (body["from"], body["to"]) == ("2026-02-09", "2026-03-10")
    assert [r["leads"] for r in body["rows"]] == [1]


def test_an_older_lead_update_does_not_overwrite_a_newer_one(
    reporting: Any, submit_lead: Callable[..., dict[str, Any]], relay: Relay, admin_headers: dict[str, str]
) -> None:
    with use_clock(FixedClock(MORNING)):
        submit_lead(channel="douyin", product="house", amount=300000)
    created = next(event for event, _ in relay() if event.type == "intake.lead.created")

    newer = harness.deliver([lead_updated(created, sequence=3, channel="baidu", amount=900000)], reporting.runtime)
    older = harness.deliver([lead_updated(created, sequence=2, channel="ground", amount=1)], reporting.runtime)

    assert newer == older == [Outcome.APPLIED]
    assert rows_for_day(reporting, admin_headers, "2026-03-10") == [
        {"channel": "baidu", "product": "house", "leads": 1, "amount": 900000.0}
    ]


def test_a_lead_update_arriving_before_its_creation_is_kept(
    reporting: Any, submit_lead: Callable[..., dict[str, Any]], intake: Any, admin_headers: dict[str, str]
) -> None:
    with use_clock(FixedClock(MORNING)):
        submit_lead(channel="douyin", amount=300000)
    created = next(e for e in harness.drain_outbox(intake.runtime) if e.type == "intake.lead.created")

    harness.deliver([lead_updated(created, sequence=2, amount=450000)], reporting.runtime)
    harness.deliver([created], reporting.runtime)

    assert rows_for_day(reporting, admin_headers, "2026-03-10") == [
        {"channel": "douyin", "product": "house", "leads": 1, "amount": 450000.0}
    ]
