"""Settings from LOANBRIDGE_* variables: database URLs, typed values, defaults, and secrets that have none."""

from __future__ import annotations

import base64

import pytest

from loanbridge.common.config import ConfigError, Env, EventSettings, Settings, database_url
from loanbridge.common.pii.crypto import blind_index_from_env, decode_key, field_cipher_from_env


def test_shared_database_url_template_is_filled_with_the_service_name() -> None:
    env = Env({"LOANBRIDGE_DATABASE_URL": "mysql+pymysql://lb@db:3306/loanbridge_{service}"})

    assert database_url(env, "intake") == "mysql+pymysql://lb@db:3306/loanbridge_intake"
    assert database_url(env, "risk") == "mysql+pymysql://lb@db:3306/loanbridge_risk"


def test_service_specific_database_url_wins_over_the_shared_template() -> None:
    env = Env(
        {
            "LOANBRIDGE_DATABASE_URL": "sqlite:///var/{service}.db",
            "LOANBRIDGE_INTAKE_DATABASE_URL": "sqlite:///elsewhere/intake.db",
        }
    )

    assert database_url(env, "intake") == "sqlite:///elsewhere/intake.db"
    assert database_url(env, "workflow") == "sqlite:///var/workflow.db"


def test_empty_service_variable_falls_back_to_the_shared_template() -> None:
    env = Env({"LOANBRIDGE_INTAKE_DATABASE_URL": "", "LOANBRIDGE_DATABASE_URL": "sqlite:///var/{service}.db"})

    assert database_url(env, "intake") == "sqlite:///var/intake.db"


def test_missing_database_url_raises_config_error_naming_both_variables() -> None:
    with pytest.raises(ConfigError) as raised:
        Settings.from_env("intake", {})

    assert "LOANBRIDGE_INTAKE_DATABASE_URL" in str(raised.value)
    assert "LOANBRIDGE_DATABASE_URL" in str(raised.value)


def test_settings_use_documented_defaults_when_only_the_database_is_set() -> None:
    settings = Settings.from_env("notify", {"LOANBRIDGE_DATABASE_URL": "sqlite:///var/{service}.db"})

    assert settings.service == "notify"
    assert settings.database_url == "sqlite:///var/notify.db"
    assert settings.business_timezone == "Asia/Shanghai"
    assert settings.events.broker_url is None
    assert settings.events.retry_delays == EventSettings.retry_delays
    assert settings.events.max_attempts == len(EventSettings.retry_delays) + 1
    assert settings.auth.jwks_url is None
    assert (settings.auth.issuer, settings.auth.audience) == ("loanbridge-identity", "loanbridge")
    assert settings.worker_nice == 10


def test_settings_read_typed_values_from_the_environment() -> None:
    settings = Settings.from_env(
        "workflow",
        {
            "LOANBRIDGE_DATABASE_URL": "sqlite:///var/{service}.db",
            "LOANBRIDGE_BROKER_URL": "amqp://guest:guest@127.0.0.1:5672//",
            "LOANBRIDGE_EVENTS_RETRY_DELAYS": "0.5, 2,10",
            "LOANBRIDGE_EVENTS_DELIVERY_LIMIT": "4",
            "LOANBRIDGE_CONFIRM_TIMEOUT": "1.5",
            "LOANBRIDGE_BUSINESS_TIMEZONE": "Asia/Urumqi",
            "LOANBRIDGE_JWT_AUDIENCE": "firm-a",
            "LOANBRIDGE_WORKER_NICE": "0",
        },
    )

    assert settings.events.broker_url == "amqp://guest:guest@127.0.0.1:5672//"
    assert settings.events.retry_delays == (0.5, 2.0, 10.0)
    assert settings.events.max_attempts == 4
    assert settings.events.delivery_limit == 4
    assert settings.events.confirm_timeout == 1.5
    assert settings.business_timezone == "Asia/Urumqi"
    assert settings.auth.audience == "firm-a"
    assert settings.worker_nice == 0


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("EVENTS_DELIVERY_LIMIT", "ten"),
        ("RELAY_POLL_INTERVAL", "fast"),
        ("EVENTS_RETRY_DELAYS", "1,two,3"),
    ],
)
def test_malformed_number_raises_config_error_naming_the_variable(variable: str, value: str) -> None:
    environ = {"LOANBRIDGE_DATABASE_URL": "sqlite:///var/{service}.db", f"LOANBRIDGE_{variable}": value}

    with pytest.raises(ConfigError) as raised:
        Settings.from_env("risk", environ)

    assert f"LOANBRIDGE_{variable}" in str(raised.value)


def test_required_variable_without_a_value_raises_config_error_naming_it() -> None:
    with pytest.raises(ConfigError) as raised:
        Env({"LOANBRIDGE_SMS_SECRET": ""}).require("SMS_SECRET")

    assert "LOANBRIDGE_SMS_SECRET" in str(raised.value)


def test_pii_key_encryption_key_has_no_default() -> None:
    with pytest.raises(ConfigError) as raised:
        field_cipher_from_env(Env({}))

    assert "LOANBRIDGE_PII_KEK" in str(raised.value)


def test_blind_index_key_has_no_default() -> None:
    with pytest.raises(ConfigError) as raised:
        blind_index_from_env(Env({"LOANBRIDGE_PII_KEK": base64.b64encode(bytes(32)).decode()}))

    assert "LOANBRIDGE_BLIND_INDEX_KEY" in str(raised.value)


def test_key_that_does_not_encode_32_bytes_is_refused_naming_the_variable() -> None:
    short = base64.b64encode(b"0123456789abcdef").decode()

    with pytest.raises(ConfigError) as raised:
        field_cipher_from_env(Env({"LOANBRIDGE_PII_KEK": short}))

    assert "LOANBRIDGE_PII_KEK" in str(raised.value)
    assert "32 bytes" in str(raised.value)


def test_key_text_may_use_standard_or_url_safe_base64() -> None:
    raw = bytes(range(200, 232))  # encodes with both '+'/'/' and '-'/'_' characters
    standard = base64.b64encode(raw).decode()
    url_safe = base64.urlsafe_b64encode(raw).decode().rstrip("=")
    assert standard != url_safe

    assert decode_key("PII_KEK", standard) == raw
    assert decode_key("PII_KEK", url_safe) == raw
