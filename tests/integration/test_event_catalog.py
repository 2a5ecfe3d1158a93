"""Every event the distributed mode publishes matches its schema in docs/events/.

reporting archives every event of the catalog, so its archive is the record of what went over RabbitMQ."""

from __future__ import annotations

import random

from loanbridge.common.events.envelope import Envelope
from loanbridge.common.events.schemas import validate_data
from loanbridge.common.testing.waiting import wait_until
from tests.integration import leads
from tests.integration.support import ROOT, Api, Stack, register_partner


def archived(stack: Stack) -> list[Envelope]:
    return [Envelope.from_json(row.envelope) for row in stack.sql("reporting", "SELECT envelope FROM event_archive")]


def test_every_event_reporting_received_over_rabbitmq_matches_its_published_schema(stack: Stack, admin: Api) -> None:
    team = admin.post("/api/identity/v1/teams", json={"name": "事件目录组"}).json()
    admin.post(
        "/api/identity/v1/users",
        json={
            "username": "catalog.zhao",
            "password": "catalog-pass-1",
            "display_name": "赵目录",
            "roles": ["sales"],
            "team_id": team["id"],
        },
    )
    partner = register_partner(stack, admin, "目录合作方")
    assert partner.api.post("/api/intake/v1/leads", json=leads.lead(random.Random(8))).status_code == 201
    stack.cli("resync", "identity")
    expected = {
        "identity.team.created",
        "identity.user.created",
        "identity.user.updated",
        "identity.team.updated",
        "intake.customer.created",
        "intake.lead.created",
    }
    wait_until(lambda: expected <= {event.type for event in archived(stack)}, timeout=30, message="all archived")

    errors = [error for envelope in archived(stack) for error in validate_data(envelope, ROOT)]

    assert errors == []
