"""How the suite sees the identity service (entry point ``loanbridge.services``)."""

from pathlib import Path

from loanbridge.common.runtime import Runtime
from loanbridge.common.service import ServiceSpec
from loanbridge.identity import handlers, rotation
from loanbridge.identity.app import create_app
from loanbridge.identity.commands import create_admin, rotate_signing_key
from loanbridge.identity.config import IdentityConfig
from loanbridge.identity.subscriptions import SUBSCRIPTIONS


def resync(runtime: Runtime) -> int:
    return runtime.transaction(handlers.emit_snapshots)


SERVICE = ServiceSpec(
    name="identity",
    create_app=create_app,
    migrations=Path(__file__).parent / "migrations",
    subscriptions=SUBSCRIPTIONS,
    commands=(create_admin, rotate_signing_key),
    resync=resync,
    rewrap_keys=rotation.rewrap_keys,
    reencrypt=rotation.reencrypt,
    config_factory=IdentityConfig.from_env,
)
