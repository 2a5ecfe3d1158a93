"""How the suite sees the workflow service (entry point ``loanbridge.services``)."""

from pathlib import Path

from loanbridge.common.runtime import Runtime
from loanbridge.common.service import ServiceSpec
from loanbridge.workflow import config
from loanbridge.workflow.app import create_app
from loanbridge.workflow.handlers import cases, tasks
from loanbridge.workflow.subscriptions import SUBSCRIPTIONS


def resync(runtime: Runtime) -> int:
    return runtime.transaction(cases.emit_snapshots)


SERVICE = ServiceSpec(
    name="workflow",
    create_app=create_app,
    migrations=Path(__file__).parent / "migrations",
    subscriptions=SUBSCRIPTIONS,
    resync=resync,
    worker_loops=(tasks.timer_loop,),
    config_factory=config.WorkflowConfig.from_env,
)
