"""How the suite sees the workflow service (entry point ``loanbridge.services``)."""

from datetime import datetime
from pathlib import Path

from loanbridge.common.runtime import Runtime
from loanbridge.common.service import ServiceSpec
from loanbridge.workflow import config
from loanbridge.workflow.app import create_app
from loanbridge.workflow.handlers import cases, history, tasks
from loanbridge.workflow.subscriptions import SUBSCRIPTIONS


def resync(runtime: Runtime) -> int:
    return runtime.transaction(cases.emit_snapshots)


def close_history(runtime: Runtime, *, before: datetime, actor: str) -> dict[str, int]:
    return runtime.transaction(history.close_history, before=before, actor=actor)


SERVICE = ServiceSpec(
    name="workflow",
    create_app=create_app,
    migrations=Path(__file__).parent / "migrations",
    subscriptions=SUBSCRIPTIONS,
    resync=resync,
    close_history=close_history,
    worker_loops=(tasks.timer_loop,),
    config_factory=config.WorkflowConfig.from_env,
)
