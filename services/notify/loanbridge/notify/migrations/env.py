"""Alembic environment of the notify database."""

from loanbridge.common.migrations_env import run_migrations
from loanbridge.notify.orm import metadata

run_migrations(target_metadata=metadata)
