"""How the suite sees the notify service (entry point ``loanbridge.services``)."""

from datetime import datetime
from pathlib import Path

from loanbridge.common.runtime import Runtime
from loanbridge.common.service import ServiceSpec
from loanbridge.notify.app import create_app
from loanbridge.notify.config import NotifyConfig
from loanbridge.notify.handlers import history
from loanbridge.notify.handlers.dispatch import message_loop
from loanbridge.notify.handlers.webhooks import reencrypt, rewrap_keys, webhook_loop
from loanbridge.notify.subscriptions import SUBSCRIPTIONS


def close_history(runtime: Runtime, *, before: datetime, actor: str) -> dict[str, int]:
    return runtime.transaction(history.close_history, before=before, actor=actor)


SERVICE = ServiceSpec(
    name="notify",
    create_app=create_app,
    migrations=Path(__file__).parent / "migrations",
    subscriptions=SUBSCRIPTIONS,
    worker_loops=(message_loop, webhook_loop),
    config_factory=NotifyConfig.from_env,
    rewrap_keys=rewrap_keys,
    reencrypt=reencrypt,
    close_history=close_history,
)
