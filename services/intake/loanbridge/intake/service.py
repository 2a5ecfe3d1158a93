"""How the suite sees the intake service (entry point ``loanbridge.services``)."""

from pathlib import Path

from loanbridge.common.runtime import Runtime
from loanbridge.common.service import ServiceSpec
from loanbridge.intake.app import create_app
from loanbridge.intake.config import IntakeConfig
from loanbridge.intake.handlers import leads
from loanbridge.intake.subscriptions import SUBSCRIPTIONS


def resync(runtime: Runtime) -> int:
    return runtime.transaction(leads.emit_snapshots)


SERVICE = ServiceSpec(
    name="intake",
    create_app=create_app,
    migrations=Path(__file__).parent / "migrations",
    subscriptions=SUBSCRIPTIONS,
    resync=resync,
    config_factory=IntakeConfig.from_env,
)
