"""Who may call what, through the gateway: tokens, roles, the internal API, bad bodies, metrics."""

from __future__ import annotations

import base64
import json
import random
import time
from pathlib import Path

import jwt
import requests
from prometheus_client.parser import text_string_to_metric_families

from loanbridge.common.service import SERVICE_ORDER
from loanbridge.common.stack import read_secrets
from tests.integration import leads
from tests.integration.support import Api, Stack, client_token, password_token, register_partner

LEAD_COUNTS = "SELECT (SELECT COUNT(*) FROM leads) + (SELECT COUNT(*) FROM customers) + (SELECT COUNT(*) FROM outbox)"


def identity_signing_key(stack: Stack) -> tuple[str, str]:
    """identity's active signing key, opened with the stack's KEK: lets the test forge what only identity signs."""
    from loanbridge.common.pii.crypto import FieldCipher, KeyEncryptionKey, decode_key
    from loanbridge.common.runtime import Runtime
    from loanbridge.common.service import get
    from loanbridge.identity.keys import PRIVATE_KEY_FIELD
    from loanbridge.identity.orm import active_signing_key

    kek = read_secrets(stack.var_dir / "secrets.env")["PII_KEK"]
    runtime = Runtime(
        get("identity"),
        environ={**stack.env, "LOANBRIDGE_DATABASE_URL": stack.database_url("identity"), "LOANBRIDGE_PII_KEK": kek},
    )
    cipher = FieldCipher(KeyEncryptionKey(decode_key("PII_KEK", kek)))
    with runtime.database.session() as session:
        row = active_signing_key(session)
        return row.kid, cipher.decrypt(session, PRIVATE_KEY_FIELD, row.private_key_enc)


def test_requests_without_a_valid_token_are_refused(stack: Stack, admin: Api) -> None:
    kpis = f"{stack.gateway}/api/reporting/v1/kpis"
    assert requests.get(kpis, timeout=10).status_code == 401
    assert requests.get(kpis, headers={"Authorization": "Bearer not-a-jwt"}, timeout=10).status_code == 401

    token = admin.session.headers["Authorization"].split()[1]
    header, payload, signature = token.split(".")
    claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    claims["roles"] = ["admin", "risk_director"]
    forged = base64.urlsafe_b64encode(json.dumps(claims).encode()).decode().rstrip("=")
    tampered = requests.get(kpis, headers={"Authorization": f"Bearer {header}.{forged}.{signature}"}, timeout=10)
    assert tampered.status_code == 401
    assert tampered.json()["code"] == "invalid_token"

    kid, private_key = identity_signing_key(stack)
    now = int(time.time())
    expired = jwt.encode(
        {**claims, "iat": now - 7200, "exp": now - 3600}, private_key, algorithm="RS256", headers={"kid": kid}
    )
    answer = requests.get(kpis, headers={"Authorization": f"Bearer {expired}"}, timeout=10)
    assert answer.status_code == 401
    assert answer.json()["code"] == "token_expired"
    assert answer.json()["message"]  # zh-CN for the end user


def test_a_role_without_the_right_gets_403(stack: Stack, admin: Api) -> None:
    team = admin.post("/api/identity/v1/teams", json={"name": "济南一组"})
    assert team.status_code == 201, team.text
    created = admin.post(
        "/api/identity/v1/users",
        json={
            "username": "sales.wang",
            "password": "sales-pass-1",
            "display_name": "王销售",
            "roles": ["sales"],
            "team_id": team.json()["id"],
            "mobile": "13700001111",
        },
    )
    assert created.status_code == 201, created.text
    assert "mobile" not in created.json()
    sales = Api(stack.gateway, password_token(stack.gateway, "sales.wang", "sales-pass-1"))
    own = sales.get("/api/reporting/v1/kpis")  # a salesperson's KPIs count only their own leads: none yet
    assert (own.status_code, own.json()["rows"]) == (200, [])
    assert sales.post("/api/identity/v1/partners", json={"name": "x"}).status_code == 403
    assert sales.get("/api/identity/v1/me").json()["username"] == "sales.wang"


def test_internal_endpoints_answer_only_service_tokens_and_are_never_routed(stack: Stack, admin: Api) -> None:
    user = admin.post(
        "/api/identity/v1/users",
        json={
            "username": "ops.li",
            "password": "ops-pass-12",
            "display_name": "李运营",
            "roles": ["ops"],
            "mobile": "13700002222",
            "email": "li@example.cn",
        },
    ).json()
    path = f"/internal/v1/contacts/staff/{user['id']}"
    service = admin.post("/api/identity/v1/service-clients", json={"name": "notify"}).json()
    service_token = client_token(stack.gateway, service["client_id"], service["client_secret"])

    assert (
        requests.get(stack.gateway + path, headers={"Authorization": f"Bearer {service_token}"}, timeout=10).status_code
        == 404
    )
    for prefixed in (f"/api/identity{path}", f"/api/identity/v1/../../..{path}", "/metrics", "/api/identity/metrics"):
        assert requests.get(stack.gateway + prefixed, timeout=10).status_code == 404, prefixed

    direct = stack.web_url("identity") + path
    assert requests.get(direct, timeout=10).status_code == 401
    assert requests.get(direct, headers=admin.session.headers, timeout=10).status_code == 403
    answer = requests.get(direct, headers={"Authorization": f"Bearer {service_token}"}, timeout=10)
    assert answer.status_code == 200
    assert answer.json()["mobile"] == "13700002222"
    audited = stack.sql("identity", "SELECT COUNT(*) FROM access_audit WHERE resource = :r", r=f"user:{user['id']}")
    assert audited[0][0] == 1


def test_a_bad_lead_gets_422_naming_the_field_and_writes_nothing(stack: Stack, admin: Api) -> None:
    partner = register_partner(stack, admin, "校验合作方")
    rng = random.Random(404)
    before = stack.sql("intake", LEAD_COUNTS)[0][0]
    cases = {
        "name": {k: v for k, v in leads.lead(rng).items() if k != "name"},
        "amount": leads.lead(rng, amount="三十万"),
        "mobile": leads.lead(rng, mobile="1381234567"),
        "term_months": leads.lead(rng, term_months="十二"),
        "id_number": leads.lead(rng, id_number="370102199001011234"),
        "city": leads.lead(rng, city="北京"),
    }
    for field, body in cases.items():
        answer = partner.api.post("/api/intake/v1/leads", json=body)
        assert answer.status_code == 422, (field, answer.text)
        assert answer.json()["code"] == "validation_error"
        assert field in answer.json()["details"]["fields"], (field, answer.json())
        assert body.get("mobile", "-") not in answer.text
    not_json = partner.api.post("/api/intake/v1/leads", data="{", headers={"Content-Type": "application/json"})
    assert not_json.status_code == 400 and "body" in not_json.json()["details"]["fields"]
    assert stack.sql("intake", LEAD_COUNTS)[0][0] == before


def test_every_process_serves_parseable_metrics_with_the_named_families(stack: Stack, admin: Api) -> None:
    for service in SERVICE_ORDER:
        assert admin.get(f"/api/{service}/openapi.json").status_code == 200
    web_families = {"loanbridge_http_requests", "loanbridge_http_request_duration_seconds"}
    worker_families = {
        "loanbridge_outbox_backlog",
        "loanbridge_outbox_oldest_pending_age_seconds",
        "loanbridge_events_published",
        "loanbridge_queue_messages",
        "loanbridge_broker_connected",
    }
    for service in SERVICE_ORDER:
        for url, expected in ((stack.web_url(service), web_families), (stack.worker_url(service), worker_families)):
            text = requests.get(f"{url}/metrics", timeout=10).text
            names = {family.name for family in text_string_to_metric_families(text)}
            assert expected <= names, (url, expected - names)
    reporting = requests.get(f"{stack.worker_url('reporting')}/metrics", timeout=10).text
    consumer = {family.name for family in text_string_to_metric_families(reporting)}
    assert {
        "loanbridge_events_consumed",
        "loanbridge_events_dead_lettered",
        "loanbridge_events_retried",
        "loanbridge_events_duplicates",
        "loanbridge_events_redelivered",
    } <= consumer


def test_workers_yield_the_cpu_to_the_webs(stack: Stack) -> None:
    """A request cannot wait, a worker's events can: every worker runs at nice 10, every web at the default 0."""

    def nice_of(pid: int) -> int:
        stat = Path(f"/proc/{pid}/stat").read_text()
        return int(stat.rsplit(")", 1)[1].split()[16])  # field 19 of proc(5), counted after the command name

    for service in SERVICE_ORDER:
        web, worker = stack.pid(f"{service}-web"), stack.pid(f"{service}-worker")
        assert web is not None and worker is not None, service
        assert (nice_of(web), nice_of(worker)) == (0, 10), service
