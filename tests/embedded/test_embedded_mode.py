"""`loanbridge run`: every service in one process, no broker; nothing accepted is lost or applied twice."""

from __future__ import annotations

import random
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import requests

from loanbridge.common.events.envelope import Envelope
from loanbridge.common.events.schemas import validate_data
from loanbridge.common.testing.waiting import wait_until
from tests.embedded.conftest import admin_of, partner_of
from tests.embedded.support import ROOT, EmbeddedProcess
from tests.integration import leads
from tests.integration.support import Api, kpi_leads


def test_run_answers_health_and_a_partners_leads_reach_kpis_exactly_once(embedded: EmbeddedProcess) -> None:
    assert requests.get(f"{embedded.url}/healthz", timeout=5).json()["mode"] == "embedded"
    assert requests.get(f"{embedded.url}/readyz", timeout=5).status_code == 200
    admin = admin_of(embedded)
    partner = partner_of(embedded, admin)
    rng = random.Random(31)
    bodies = [leads.lead(rng, external_ref=f"emb-{n}") for n in range(100)]

    assert [partner.api.post("/api/intake/v1/leads", json=body).status_code for body in bodies] == [201] * 100
    with ThreadPoolExecutor(max_workers=8) as pool:
        replays = list(pool.map(lambda body: partner.api.post("/api/intake/v1/leads", json=body).status_code, bodies))
    assert replays == [201] * 100

    wait_until(lambda: kpi_leads(admin, channel=partner.channel) == 100, timeout=30, message="100 leads in KPIs")
    assert embedded.sql("reporting", "SELECT COUNT(*) FROM lead_facts")[0][0] == 100
    assert embedded.sql("reporting", "SELECT COUNT(*) FROM inbox WHERE event_type = 'intake.lead.created'")[0][0] == 100
    text = requests.get(f"{embedded.url}/metrics", timeout=5).text
    assert 'loanbridge_events_consumed_total{service="reporting",type="intake.lead.created"} 100.0' in text
    archived = [
        Envelope.from_json(row.envelope) for row in embedded.sql("reporting", "SELECT envelope FROM event_archive")
    ]
    assert [error for envelope in archived for error in validate_data(envelope, ROOT)] == []
    assert requests.get(f"{embedded.url}/api/intake/openapi.json", timeout=5).status_code == 200


def test_kill_9_mid_stream_then_run_again_loses_no_lead_and_counts_none_twice(embedded: EmbeddedProcess) -> None:
    admin = admin_of(embedded)
    partner = partner_of(embedded, admin)
    token = partner.api.session.headers["Authorization"]
    rng = random.Random(47)
    bodies = [leads.lead(rng, external_ref=f"kill-{n}") for n in range(600)]
    accepted: set[str] = set()
    posting_done = threading.Event()

    def post_all() -> None:
        # A client that retries each lead (same external_ref) until it gets its 201, through every outage.
        session = requests.Session()
        session.headers["Authorization"] = token
        for body in bodies:
            while True:
                try:
                    answer = session.post(f"{embedded.url}/api/intake/v1/leads", json=body, timeout=5)
                    if answer.status_code == 201:
                        accepted.add(answer.json()["id"])
                        break
                    assert answer.status_code >= 500 or answer.status_code == 429, answer.text
                except requests.RequestException:
                    pass
                time.sleep(0.05)
        posting_done.set()

    poster = threading.Thread(target=post_all, daemon=True)
    poster.start()
    for crash in range(3):
        wait_until(lambda c=crash: len(accepted) >= 150 * (c + 1), timeout=120, message="leads flowing")
        embedded.kill()
        embedded.start()
    assert posting_done.wait(180), "the client could not submit every lead"

    assert len(accepted) == 600
    wait_until(
        lambda: kpi_leads(Api(embedded.url, _fresh_admin_token(embedded)), channel=partner.channel) == 600,
        timeout=60,
        message="600 leads in KPIs",
    )
    assert embedded.sql("intake", "SELECT COUNT(*) FROM leads")[0][0] == 600
    assert embedded.sql("reporting", "SELECT COUNT(*) FROM lead_facts")[0][0] == 600
    assert embedded.sql("reporting", "SELECT COUNT(*) FROM dead_letters")[0][0] == 0


def _fresh_admin_token(embedded: EmbeddedProcess) -> str:
    from tests.integration.support import password_token

    return password_token(embedded.url, "admin", "embedded-admin-1")


def test_a_poison_event_is_retried_dead_lettered_and_replayed_once_fixed(embedded: EmbeddedProcess) -> None:
    admin = admin_of(embedded)
    partner = partner_of(embedded, admin)
    wait_until(
        lambda: embedded.sql("reporting", "SELECT COUNT(*) FROM dispatch_cursors")[0][0] > 0,
        timeout=30,
        message="reporting caught up with identity and intake",
    )
    embedded.stop()
    # A bug in reporting's handlers, simulated by a failpoint: everything it is delivered fails.
    embedded.start(extra_env={"LOANBRIDGE_FAILPOINTS": "dispatcher.before_apply=raise"})
    partner = partner.__class__(
        partner.partner_id, partner.channel, Api(embedded.url, partner.api.session.headers["Authorization"].split()[1])
    )
    assert partner.api.post("/api/intake/v1/leads", json=leads.lead(random.Random(5))).status_code == 201
    wait_until(
        lambda: embedded.sql("reporting", "SELECT COUNT(*) FROM dead_letters")[0][0] >= 2,
        timeout=30,
        message="dead-lettered",
    )  # the customer and the lead events
    text = requests.get(f"{embedded.url}/metrics", timeout=5).text
    assert 'loanbridge_events_retried_total{reason="failed",service="reporting",type="intake.lead.created"}' in text
    assert 'loanbridge_events_dead_lettered_total{service="reporting",type="intake.lead.created"} 1.0' in text
    assert kpi_leads(admin, channel=partner.channel) == 0

    embedded.stop()
    embedded.start()  # the fix is deployed
    assert "replayed 2 event(s)" in embedded.cli("replay-dlq", "reporting")
    wait_until(lambda: kpi_leads(admin, channel=partner.channel) == 1, timeout=30, message="the lead counted")
    assert embedded.sql("reporting", "SELECT COUNT(*) FROM dispatch_retries")[0][0] == 0
