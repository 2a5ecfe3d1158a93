"""Alembic environment of the risk database."""

from loanbridge.common.migrations_env import run_migrations
from loanbridge.risk.orm import metadata

run_migrations(target_metadata=metadata)
