"""How the suite sees the intake service (entry point ``loanbridge.services``)."""

from pathlib import Path

from loanbridge.common.runtime import Runtime
from loanbridge.common.service import ServiceSpec
from loanbridge.intake.app import create_app
from loanbridge.intake.config import IntakeConfig
from loanbridge.intake.handlers import imports, keys, leads
from loanbridge.intake.storage import S3Store
from loanbridge.intake.subscriptions import SUBSCRIPTIONS


def prepare(runtime: Runtime) -> None:
    """Create the document bucket when documents go to S3 (idempotent; run by ``loanbridge migrate``)."""
    if isinstance(runtime.config.documents, S3Store):
        runtime.config.documents.ensure_bucket()


def resync(runtime: Runtime) -> int:
    return runtime.transaction(leads.emit_snapshots)


SERVICE = ServiceSpec(
    name="intake",
    create_app=create_app,
    migrations=Path(__file__).parent / "migrations",
    subscriptions=SUBSCRIPTIONS,
    resync=resync,
    worker_loops=(imports.import_loop,),
    rewrap_keys=keys.rewrap_keys,
    reencrypt=keys.rekey_customers,
    prepare=prepare,
    config_factory=IntakeConfig.from_env,
)
