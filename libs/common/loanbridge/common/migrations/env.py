"""Alembic environment for the tables every service database shares (outbox, inbox, ...)."""

from loanbridge.common.migrations_env import run_migrations
from loanbridge.common.tables import metadata

run_migrations(target_metadata=metadata, version_table="alembic_version_common")
