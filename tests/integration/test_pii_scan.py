"""No personal data where none may be: after the rest of the integration suite (conftest runs this module last),
the leads seeded here and every ID number or mobile any test sent are looked for in every service's tables, every
queue and dead-letter queue, every process's log, every /metrics page and the error bodies of bad requests."""

from __future__ import annotations

import random

import requests

from loanbridge.common import service as services
from loanbridge.common.events.topology import ServiceQueues
from loanbridge.common.testing import synthetic
from loanbridge.common.testing.piiscan import PiiScanner
from loanbridge.common.testing.waiting import wait_until
from tests.integration.support import Api, Stack, register_partner

# Four-character names no other test uses, so a hit is this test's data and nothing else.
SEEDED_NAMES = ("欧阳秋实", "司马春华", "上官明远", "诸葛青禾")


def seed(stack: Stack, admin: Api) -> PiiScanner:
    partner = register_partner(stack, admin, "扫描测试合作方")
    rng = random.Random(404)
    scanner = PiiScanner()
    for number, name in enumerate(SEEDED_NAMES):
        body = {"name": name, "mobile": synthetic.mobile(rng), "id_number": synthetic.id_number(rng),
                "city": "济南", "product": "credit", "amount": 80_000, "term_months": 24,
                "external_ref": f"pii-scan-{number}"}  # fmt: skip
        scanner.names.add(name)
        scanner.mobiles.add(body["mobile"])
        scanner.id_numbers.add(body["id_number"])
        created = partner.api.post("/api/intake/v1/leads", json=body)
        assert created.status_code == 201, created.text
    # The control: where personal data is meant to be shown (unmasked, audited), the scanner finds all of it.
    customer_id = created.json()["customer_id"]
    unmasked = admin.get(f"/api/intake/v1/customers/{customer_id}", params={"unmask": "true"})
    assert unmasked.status_code == 200, unmasked.text
    kinds = {finding.kind for finding in scanner.scan_text("control", unmasked.text)}
    assert kinds == {"seeded_name", "seeded_mobile", "seeded_id_number"}
    return scanner


def bad_requests(stack: Stack, admin: Api, scanner: PiiScanner) -> list[str]:
    """Requests a client gets wrong with personal data in them: the answers must not echo it."""
    name, mobile, id_number = sorted(scanner.names)[0], sorted(scanner.mobiles)[0], sorted(scanner.id_numbers)[0]
    bodies = [
        {"name": name, "mobile": mobile, "id_number": id_number[:17] + "0", "city": "济南", "product": "credit",
         "amount": 1, "term_months": 12},  # a bad check character, an amount too small
        {"name": name, "mobile": mobile + "9", "id_number": id_number, "city": "济南", "product": "credit",
         "amount": 80_000, "term_months": 12},  # a mobile of 12 digits
        {"name": name * 40, "mobile": mobile, "id_number": id_number, "product": "nope", "owner_id": mobile},
    ]  # fmt: skip
    answers = [admin.post("/api/intake/v1/leads", json=body) for body in bodies]
    assert all(400 <= answer.status_code < 500 for answer in answers), [answer.status_code for answer in answers]
    searched = admin.get("/api/intake/v1/customers", params={"mobile": mobile + "0"})
    return [answer.text for answer in [*answers, searched]]


def test_no_personal_data_in_tables_queues_logs_metrics_or_error_bodies(stack: Stack, admin: Api) -> None:
    scanner = seed(stack, admin)
    bodies = bad_requests(stack, admin, scanner)
    wait_until(stack.drained, timeout=60, interval=0.5, message="every outbox and queue drained")

    findings = [finding for index, body in enumerate(bodies) for finding in scanner.scan_text(f"body:{index}", body)]
    installed = services.discover()
    for name in installed:
        findings += scanner.scan_database(stack.database_url(name), label=name)
    queues = []
    delays = tuple(float(delay) for delay in stack.env["LOANBRIDGE_EVENTS_RETRY_DELAYS"].split(","))
    for name, spec in installed.items():
        if spec.subscriptions:
            own = ServiceQueues(name, delays)
            queues += [own.main, own.dead_letter, *(queue for queue, _delay in own.retry_queues)]
    findings += scanner.scan_queues(stack.broker_url(via_proxy=False), queues)
    findings += scanner.scan_files(stack.layout.log_dir)
    for name in installed:
        for url in (stack.web_url(name), stack.worker_url(name)):
            findings += scanner.scan_text(f"metrics:{url}", requests.get(f"{url}/metrics", timeout=10).text)

    assert findings == [], "\n".join(str(finding) for finding in findings)
