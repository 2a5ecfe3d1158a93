"""Alembic environment of the workflow database."""

import sqlalchemy as sa

from loanbridge.common.migrations_env import run_migrations

run_migrations(target_metadata=sa.MetaData())
