"""How the suite sees the risk service (entry point ``loanbridge.services``)."""

from pathlib import Path

from loanbridge.common.service import ServiceSpec
from loanbridge.risk.app import create_app
from loanbridge.risk.config import RiskConfig
from loanbridge.risk.subscriptions import SUBSCRIPTIONS

SERVICE = ServiceSpec(
    name="risk",
    create_app=create_app,
    migrations=Path(__file__).parent / "migrations",
    subscriptions=SUBSCRIPTIONS,
    config_factory=RiskConfig.from_env,
)
