"""Alembic environment of the workflow database."""

from loanbridge.common.migrations_env import run_migrations
from loanbridge.workflow.orm import metadata

run_migrations(target_metadata=metadata)
