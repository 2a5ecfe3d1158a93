"""identity's additions to the ``loanbridge`` command."""

from __future__ import annotations

import click

from loanbridge.common import service as services
from loanbridge.common.db import migrate_database
from loanbridge.common.runtime import Runtime
from loanbridge.identity import handlers


def _runtime() -> Runtime:
    return Runtime(services.get("identity"))


@click.command("create-admin")
@click.option("--username", required=True)
@click.option("--password", required=True)
def create_admin(username: str, password: str) -> None:
    """Create the admin account, or reset its password (idempotent, non-interactive)."""
    if len(password) < 8:
        raise click.BadParameter("at least 8 characters", param_hint="--password")
    runtime = _runtime()
    # A first command on a fresh install may come before `migrate`, `up` or `run`: bring the schema up first.
    migrate_database(runtime.settings.database_url, runtime.spec.migrations)
    user_id = runtime.transaction(handlers.ensure_admin, config=runtime.config, username=username, password=password)
    click.echo(f"admin {username} ready (id {user_id})")


@click.command("rotate-signing-key")
def rotate_signing_key() -> None:
    """Sign new tokens with a new key; tokens signed with the old one stay valid until they expire."""
    runtime = _runtime()
    kid = runtime.transaction(handlers.rotate_signing_key, config=runtime.config)
    click.echo(f"new signing key {kid}")
