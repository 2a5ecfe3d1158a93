"""Fixtures of notify's component tests: notify on SQLite in tmp_path with its clock fixed, every provider a
local fake that checks its documented signature, contacts from a fake source, and other services' events built
as their outboxes would write them."""

from __future__ import annotations

import sys
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from loanbridge.common import clock as clocks
from loanbridge.common.events.envelope import Envelope
from loanbridge.common.events.schemas import repository_root, validate_data
from loanbridge.common.testing import harness
from loanbridge.notify import orm
from loanbridge.notify.handlers import dispatch

sys.path.insert(0, str(Path(__file__).parent))

import notify_fakes as fakes

API = "/api/notify/v1"
ROOT = repository_root(Path(__file__))
DINGTALK_TOKEN = "dt-access-token"
DINGTALK_SECRET = "SEC0123456789abcdef"
WECOM_KEY = "693a91f6-7xxx-4bc4-97a0-0ec2sifa5aaa"
ALIYUN_KEY_ID = "LTAI-test-key"
ALIYUN_SECRET = "test-secret/with+chars="
CALLBACK_SECRET = "sms-callback-secret-0123456789"
# Monday 2 March 2026, 10:00 in Shanghai.
START = datetime(2026, 3, 2, 2, 0, tzinfo=UTC)


@pytest.fixture(scope="session")
def tokens() -> harness.TokenFactory:
    return harness.TokenFactory()


@pytest.fixture
def clock() -> Iterator[clocks.FixedClock]:
    with clocks.use_clock(clocks.FixedClock(START)) as fixed:
        yield fixed  # type: ignore[misc]


@pytest.fixture
def dingtalk() -> Iterator[tuple[str, fakes.Recorder]]:
    recorder = fakes.Recorder()
    handler = fakes.dingtalk_handler(recorder, access_token=DINGTALK_TOKEN, secret=DINGTALK_SECRET)
    with fakes.http_server(handler) as base:
        yield base, recorder


@pytest.fixture
def wecom() -> Iterator[tuple[str, fakes.Recorder]]:
    recorder = fakes.Recorder()
    with fakes.http_server(fakes.wecom_handler(recorder, key=WECOM_KEY)) as base:
        yield base, recorder


@pytest.fixture
def aliyun() -> Iterator[tuple[str, fakes.Recorder]]:
    recorder = fakes.Recorder()
    handler = fakes.aliyun_handler(recorder, access_key_id=ALIYUN_KEY_ID, access_key_secret=ALIYUN_SECRET)
    with fakes.http_server(handler) as base:
        yield base, recorder


@pytest.fixture
def smtp() -> Iterator[tuple[int, fakes.SmtpRecorder]]:
    recorder = fakes.SmtpRecorder()
    with fakes.smtp_server(recorder) as port:
        yield port, recorder


@pytest.fixture
def contacts() -> fakes.FakeContacts:
    return fakes.FakeContacts()


@pytest.fixture
def environment(
    tmp_path: Path,
    dingtalk: tuple[str, fakes.Recorder],
    wecom: tuple[str, fakes.Recorder],
    aliyun: tuple[str, fakes.Recorder],
    smtp: tuple[int, fakes.SmtpRecorder],
) -> dict[str, str]:
    return harness.environment_for_tests(
        tmp_path,
        LOANBRIDGE_NOTIFY_DINGTALK_WEBHOOK_URL=f"{dingtalk[0]}/robot/send?access_token={DINGTALK_TOKEN}",
        LOANBRIDGE_NOTIFY_DINGTALK_SECRET=DINGTALK_SECRET,
        LOANBRIDGE_NOTIFY_WECOM_BASE_URL=wecom[0],
        LOANBRIDGE_NOTIFY_WECOM_KEY=WECOM_KEY,
        LOANBRIDGE_NOTIFY_ALIYUN_SMS_ENDPOINT=aliyun[0],
        LOANBRIDGE_NOTIFY_ALIYUN_ACCESS_KEY_ID=ALIYUN_KEY_ID,
        LOANBRIDGE_NOTIFY_ALIYUN_ACCESS_KEY_SECRET=ALIYUN_SECRET,
        LOANBRIDGE_NOTIFY_ALIYUN_SMS_SIGN_NAME="鲁信助贷",
        LOANBRIDGE_NOTIFY_SMTP_HOST="127.0.0.1",
        LOANBRIDGE_NOTIFY_SMTP_PORT=str(smtp[0]),
        LOANBRIDGE_NOTIFY_SMTP_FROM="notify@loanbridge.local",
        LOANBRIDGE_NOTIFY_SMS_CALLBACK_SECRET=CALLBACK_SECRET,
    )


@pytest.fixture
def notify(
    environment: dict[str, str],
    tokens: harness.TokenFactory,
    contacts: fakes.FakeContacts,
    clock: clocks.FixedClock,
) -> Iterator[harness.ServiceUnderTest]:
    service = harness.service_runtime("notify", environment, tokens=tokens)
    service.runtime.config.contacts = contacts
    yield service
    service.runtime.database.dispose()


@pytest.fixture
def client(notify: harness.ServiceUnderTest) -> Any:
    return notify.client()


@pytest.fixture
def as_user(tokens: harness.TokenFactory) -> Callable[..., dict[str, str]]:
    """A bearer header made now (the clock moves in these tests, so tokens are made when used)."""

    def header(user_id: str, *roles: str) -> dict[str, str]:
        return tokens.header(subject=user_id, roles=list(roles) or ["sales"])

    return header


@pytest.fixture
def new_event() -> Callable[..., Envelope]:
    """An event of another service, as its outbox would write it; its data must match the documented schema, so
    these tests read the fields the producers really publish."""

    def build(event_type: str, data: dict[str, Any], *, subject: str | None = None, sequence: int = 1) -> Envelope:
        event = Envelope.new(
            source=event_type.split(".", 1)[0],
            event_type=event_type,
            subject=subject or str(next(iter(data.values()))),
            sequence=sequence,
            data=data,
            correlation_id=str(uuid.uuid4()),
            causation_id=None,
            actor="system:test",
        )
        errors = validate_data(event, ROOT)
        assert errors == [], errors
        return event

    return build


@pytest.fixture
def deliver(notify: harness.ServiceUnderTest, new_event: Callable[..., Envelope]) -> Callable[..., Envelope]:
    """Build an event and deliver it to notify; returns the event."""

    def send(event_type: str, data: dict[str, Any], **kwargs: Any) -> Envelope:
        event = new_event(event_type, data, **kwargs)
        harness.deliver([event], notify.runtime)
        return event

    return send


@pytest.fixture
def staff_member(deliver: Callable[..., Envelope], contacts: fakes.FakeContacts) -> Callable[..., str]:
    """A staff member identity told notify about, with contacts identity would answer."""

    def add(name: str, *roles: str, team_id: str | None = None, mobile: str | None = None) -> str:
        user_id = str(uuid.uuid4())
        deliver(
            "identity.user.created",
            {
                "user_id": user_id,
                "display_name": name,
                "roles": list(roles) or ["sales"],
                "team_id": team_id,
                "region": "济南",
                "products": [],
                "active": True,
            },
        )
        contacts.staff_members[user_id] = {
            "user_id": user_id,
            "mobile": mobile or f"139{uuid.uuid4().int % 10**8:08d}",
            "dingtalk_user_id": None,
            "wecom_user_id": None,
            "email": f"{user_id[:8]}@firm.example",
            "manager_id": None,
        }
        return user_id

    return add


@pytest.fixture
def customer(contacts: fakes.FakeContacts) -> Callable[..., str]:
    """A customer intake knows, with a mobile."""

    def add(mobile: str = "13812345678", *, opt_out: bool = False) -> str:
        customer_id = str(uuid.uuid4())
        contacts.customers[customer_id] = {"customer_id": customer_id, "mobile": mobile, "opt_out": opt_out}
        return customer_id

    return add


@pytest.fixture
def dispatch_now(notify: harness.ServiceUnderTest) -> Callable[[], int]:
    return lambda: dispatch.dispatch_all_due(notify.runtime)


@pytest.fixture
def messages(notify: harness.ServiceUnderTest) -> Callable[..., list[Any]]:
    """The stored messages, by due time."""

    def read(**where: Any) -> list[Any]:
        table = orm.messages
        query = sa.select(table).order_by(table.c.due_at, table.c.id)
        for name, value in where.items():
            query = query.where(table.c[name] == value)
        with notify.runtime.database.session() as session:
            return list(session.execute(query))

    return read
