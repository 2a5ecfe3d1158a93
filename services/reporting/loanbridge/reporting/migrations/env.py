"""Alembic environment of the reporting database."""

from loanbridge.common.migrations_env import run_migrations
from loanbridge.reporting.orm import metadata

run_migrations(target_metadata=metadata)
