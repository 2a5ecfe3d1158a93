"""The rules on their own: quiet hours, policy conditions, and the settings notify reads at start."""

from __future__ import annotations

from datetime import UTC, datetime, time
from zoneinfo import ZoneInfo

import pytest

from loanbridge.common.config import ConfigError, Env
from loanbridge.notify.config import NotifyConfig
from loanbridge.notify.contacts import HttpContacts, NoContacts
from loanbridge.notify.domain import policies, rules

SHANGHAI = ZoneInfo("Asia/Shanghai")


def at(hour: int, minute: int = 0, day: int = 17) -> datetime:
    return datetime(2026, 3, day, hour, minute, tzinfo=SHANGHAI)


@pytest.mark.parametrize(
    ("local", "expected"),
    [
        (at(20, 59), at(20, 59)),
        (at(21, 0), at(8, 0, day=18)),
        (at(23, 30), at(8, 0, day=18)),
        (at(0, 10), at(8, 0)),
        (at(7, 59), at(8, 0)),
        (at(8, 0), at(8, 0)),
    ],
)
def test_a_customer_sms_in_quiet_hours_waits_until_eight(local: datetime, expected: datetime) -> None:
    allowed = rules.outside_quiet_hours(local.astimezone(UTC), zone=SHANGHAI, start=time(21), end=time(8))

    assert allowed == expected


@pytest.mark.parametrize(
    ("condition", "matched"),
    [
        ({"reason": "duplicate_owner"}, True),
        ({"reason": {"not": "duplicate_owner"}}, False),
        ({"flags": {"contains": "high_risk"}}, True),
        ({"flags": {"contains": "no_ruleset"}}, False),
        ({"decision": {"in": ["review", "reject"]}}, True),
        ({"escalate_to.role": "manager"}, True),
        ({"escalate_to": {"not": None}}, True),
    ],
)
def test_policy_conditions_test_the_events_fields(condition: dict, matched: bool) -> None:
    data = {
        "reason": "duplicate_owner",
        "flags": ["high_risk"],
        "decision": "review",
        "escalate_to": {"role": "manager"},
    }

    assert policies.matches(condition, data) is matched


def test_without_contacts_settings_notify_starts_with_no_contacts_and_channels_off() -> None:
    config = NotifyConfig.from_env(Env({}))

    assert isinstance(config.contacts, NoContacts)
    assert config.channels_configured() == {
        "inbox": True,
        "dingtalk": False,
        "wecom": False,
        "sms": None,
        "email": False,
    }


def test_contacts_settings_half_given_stop_the_start_naming_what_is_missing() -> None:
    with pytest.raises(ConfigError, match="LOANBRIDGE_NOTIFY_CLIENT_SECRET"):
        NotifyConfig.from_env(
            Env({"LOANBRIDGE_NOTIFY_IDENTITY_URL": "http://127.0.0.1:8101", "LOANBRIDGE_NOTIFY_INTAKE_URL": "x",
                 "LOANBRIDGE_NOTIFY_CLIENT_ID": "s_notify"})
        )  # fmt: skip


def test_full_contacts_settings_make_an_http_contacts_client() -> None:
    config = NotifyConfig.from_env(
        Env({"LOANBRIDGE_NOTIFY_IDENTITY_URL": "http://127.0.0.1:8101", "LOANBRIDGE_NOTIFY_INTAKE_URL":
             "http://127.0.0.1:8102", "LOANBRIDGE_NOTIFY_CLIENT_ID": "s_notify",
             "LOANBRIDGE_NOTIFY_CLIENT_SECRET": "secret", "LOANBRIDGE_NOTIFY_QUIET_HOURS": "22:00-07:30"})
    )  # fmt: skip

    assert isinstance(config.contacts, HttpContacts)
    assert (config.quiet_start, config.quiet_end) == (time(22), time(7, 30))


def test_an_aliyun_key_without_its_secret_stops_the_start() -> None:
    with pytest.raises(ConfigError, match="NOTIFY_ALIYUN_ACCESS_KEY_SECRET"):
        NotifyConfig.from_env(Env({"LOANBRIDGE_NOTIFY_ALIYUN_ACCESS_KEY_ID": "LTAI"}))
