"""Alembic environment of the identity database."""

from loanbridge.common.migrations_env import run_migrations
from loanbridge.identity.orm import metadata

run_migrations(target_metadata=metadata)
