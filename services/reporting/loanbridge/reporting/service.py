"""How the suite sees the reporting service (entry point ``loanbridge.services``)."""

from pathlib import Path

from loanbridge.common.service import ServiceSpec
from loanbridge.reporting.app import create_app
from loanbridge.reporting.commands import rebuild
from loanbridge.reporting.subscriptions import SUBSCRIPTIONS

SERVICE = ServiceSpec(
    name="reporting",
    create_app=create_app,
    migrations=Path(__file__).parent / "migrations",
    subscriptions=SUBSCRIPTIONS,
    commands=(rebuild,),
)
