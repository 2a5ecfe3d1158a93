"""reporting's additions to the ``loanbridge`` command."""

from __future__ import annotations

import click

from loanbridge.common import service as services
from loanbridge.common.db import migrate_database
from loanbridge.common.logs import configure_logging
from loanbridge.common.runtime import Runtime
from loanbridge.reporting import handlers


@click.command("rebuild")
@click.argument("service", type=click.Choice(["reporting"]))
@click.option("--batch", default=handlers.REBUILD_BATCH, show_default=True, help="Events replayed per transaction.")
def rebuild(service: str, batch: int) -> None:
    """Empty a service's read models and rebuild them from its event archive (reporting)."""
    runtime = Runtime(services.get(service))
    configure_logging(service=service, level=runtime.settings.log_level)
    migrate_database(runtime.settings.database_url, runtime.spec.migrations)
    count = handlers.rebuild(runtime, batch=batch)
    click.echo(f"{service}: read models rebuilt from {count} archived event(s)")
