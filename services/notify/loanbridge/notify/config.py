"""notify's settings: the channels' providers (base URLs and credentials), the contacts endpoints and service
client, the customer rules (quiet hours, daily cap) and the retry schedules. Read once per process; a channel
whose credentials are not set is off (its messages fail with ``channel_not_configured``)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import time
from typing import Any

from loanbridge.common.config import ConfigError, Env
from loanbridge.common.pii.crypto import FieldCipher, field_cipher_from_env
from loanbridge.notify.channels.dingtalk import DingTalkRobot
from loanbridge.notify.channels.email import SmtpEmail
from loanbridge.notify.channels.sms import AliyunSms, SmsProvider
from loanbridge.notify.channels.wecom import WeComRobot
from loanbridge.notify.contacts import ContactSource, HttpContacts, NoContacts

SMS_PROVIDERS = ("aliyun",)


def _clock_time(text: str, name: str) -> time:
    try:
        hour, minute = (int(part) for part in text.split(":"))
        return time(hour, minute)
    except ValueError as exc:
        raise ConfigError(f"LOANBRIDGE_{name} must be HH:MM-HH:MM, got {text!r}") from exc


@dataclass
class NotifyConfig:
    contacts: ContactSource = field(default_factory=NoContacts)
    dingtalk: DingTalkRobot | None = None
    wecom: WeComRobot | None = None
    sms: SmsProvider | None = None
    email: SmtpEmail | None = None
    robot_per_minute: int = 20
    quiet_start: time = time(21, 0)
    quiet_end: time = time(8, 0)
    customer_daily_cap: int = 3
    retry_delays: tuple[float, ...] = (30.0, 120.0, 600.0, 3600.0)
    dispatch_batch: int = 200
    lease_seconds: float = 300.0
    poll_seconds: float = 1.0
    sms_callback_secret: str | None = None
    recipient_hash_key: bytes | None = None
    webhook_retry_base: float = 30.0
    webhook_retry_cap: float = 3600.0
    webhook_retry_hours: float = 24.0
    webhook_timeout: float = 10.0
    # Seals webhook secrets at rest (LOANBRIDGE_PII_KEK); without it webhooks cannot be registered.
    cipher: FieldCipher | None = None

    @classmethod
    def from_env(cls, env: Env | None = None) -> NotifyConfig:
        env = env or Env()
        quiet = (env.get("NOTIFY_QUIET_HOURS") or "21:00-08:00").split("-")
        if len(quiet) != 2:
            raise ConfigError("LOANBRIDGE_NOTIFY_QUIET_HOURS must be HH:MM-HH:MM")
        hash_key = env.get("NOTIFY_RECIPIENT_HASH_KEY") or env.get("BLIND_INDEX_KEY")
        return cls(
            contacts=_contacts(env),
            dingtalk=_dingtalk(env),
            wecom=_wecom(env),
            sms=_sms(env),
            email=_email(env),
            robot_per_minute=env.integer("NOTIFY_ROBOT_PER_MINUTE", 20),
            quiet_start=_clock_time(quiet[0], "NOTIFY_QUIET_HOURS"),
            quiet_end=_clock_time(quiet[1], "NOTIFY_QUIET_HOURS"),
            customer_daily_cap=env.integer("NOTIFY_CUSTOMER_DAILY_CAP", 3),
            retry_delays=env.numbers("NOTIFY_RETRY_DELAYS", cls.retry_delays),
            dispatch_batch=env.integer("NOTIFY_DISPATCH_BATCH", 200),
            poll_seconds=env.number("NOTIFY_POLL_SECONDS", 1.0),
            sms_callback_secret=env.get("NOTIFY_SMS_CALLBACK_SECRET"),
            recipient_hash_key=hash_key.encode() if hash_key else None,
            webhook_retry_base=env.number("NOTIFY_WEBHOOK_RETRY_BASE", 30.0),
            webhook_retry_hours=env.number("NOTIFY_WEBHOOK_RETRY_HOURS", 24.0),
            cipher=field_cipher_from_env(env) if env.get("PII_KEK") else None,
        )

    def channels_configured(self) -> dict[str, Any]:
        """Which channels can send (for admins; never a credential)."""
        return {
            "inbox": True,
            "dingtalk": self.dingtalk is not None,
            "wecom": self.wecom is not None,
            "sms": self.sms.kind if self.sms is not None else None,
            "email": self.email is not None,
        }


def _contacts(env: Env) -> ContactSource:
    names = ("NOTIFY_IDENTITY_URL", "NOTIFY_INTAKE_URL", "NOTIFY_CLIENT_ID", "NOTIFY_CLIENT_SECRET")
    values = [env.get(name) for name in names]
    if not any(values):
        return NoContacts()
    missing = [name for name, value in zip(names, values, strict=True) if not value]
    if missing:
        raise ConfigError(f"contacts need LOANBRIDGE_{', LOANBRIDGE_'.join(missing)} as well")
    identity_url, intake_url, client_id, client_secret = (str(value) for value in values)
    return HttpContacts(identity_url, intake_url, client_id, client_secret)


def _dingtalk(env: Env) -> DingTalkRobot | None:
    url = env.get("NOTIFY_DINGTALK_WEBHOOK_URL")
    return DingTalkRobot(url, env.get("NOTIFY_DINGTALK_SECRET")) if url else None


def _wecom(env: Env) -> WeComRobot | None:
    key = env.get("NOTIFY_WECOM_KEY")
    base = env.get("NOTIFY_WECOM_BASE_URL", "https://qyapi.weixin.qq.com") or ""
    return WeComRobot(base, key) if key else None


def _sms(env: Env) -> SmsProvider | None:
    provider = env.get("NOTIFY_SMS_PROVIDER", "aliyun")
    if provider not in SMS_PROVIDERS:
        raise ConfigError(f"LOANBRIDGE_NOTIFY_SMS_PROVIDER must be one of {', '.join(SMS_PROVIDERS)}")
    key_id = env.get("NOTIFY_ALIYUN_ACCESS_KEY_ID")
    if not key_id:
        return None
    return AliyunSms(
        endpoint=env.get("NOTIFY_ALIYUN_SMS_ENDPOINT", "https://dysmsapi.aliyuncs.com") or "",
        access_key_id=key_id,
        access_key_secret=env.require("NOTIFY_ALIYUN_ACCESS_KEY_SECRET"),
        sign_name=env.require("NOTIFY_ALIYUN_SMS_SIGN_NAME"),
        region=env.get("NOTIFY_ALIYUN_REGION", "cn-hangzhou") or "cn-hangzhou",
    )


def _email(env: Env) -> SmtpEmail | None:
    host = env.get("NOTIFY_SMTP_HOST")
    if not host:
        return None
    return SmtpEmail(
        host=host,
        port=env.integer("NOTIFY_SMTP_PORT", 25),
        sender=env.require("NOTIFY_SMTP_FROM"),
        username=env.get("NOTIFY_SMTP_USERNAME"),
        password=env.get("NOTIFY_SMTP_PASSWORD"),
        starttls=(env.get("NOTIFY_SMTP_STARTTLS") or "false").lower() in ("1", "true", "yes"),
    )
