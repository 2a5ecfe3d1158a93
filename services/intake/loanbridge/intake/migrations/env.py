"""Alembic environment of the intake database."""

from loanbridge.common.migrations_env import run_migrations
from loanbridge.intake.orm import metadata

run_migrations(target_metadata=metadata)
