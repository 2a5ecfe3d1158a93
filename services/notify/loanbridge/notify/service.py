"""How the suite sees the notify service (entry point ``loanbridge.services``)."""

from pathlib import Path

from loanbridge.common.service import ServiceSpec
from loanbridge.notify.app import create_app
from loanbridge.notify.subscriptions import SUBSCRIPTIONS

SERVICE = ServiceSpec(
    name="notify",
    create_app=create_app,
    migrations=Path(__file__).parent / "migrations",
    subscriptions=SUBSCRIPTIONS,
)
