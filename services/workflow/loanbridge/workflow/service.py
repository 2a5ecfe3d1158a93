"""How the suite sees the workflow service (entry point ``loanbridge.services``)."""

from pathlib import Path

from loanbridge.common.service import ServiceSpec
from loanbridge.workflow.app import create_app
from loanbridge.workflow.subscriptions import SUBSCRIPTIONS

SERVICE = ServiceSpec(
    name="workflow",
    create_app=create_app,
    migrations=Path(__file__).parent / "migrations",
    subscriptions=SUBSCRIPTIONS,
)
