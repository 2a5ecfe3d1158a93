"""The body of every alembic env.py: run migrations on the connection ``loanbridge migrate`` hands over."""

from __future__ import annotations

import sqlalchemy as sa
from alembic import context


def run_migrations(*, target_metadata: sa.MetaData, version_table: str = "alembic_version") -> None:
    """Run online migrations on the connection in ``config.attributes`` (offline mode is not supported)."""
    connection = context.config.attributes.get("connection")
    if connection is None:
        raise RuntimeError("migrations run through `loanbridge migrate`, which provides the connection")
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        version_table=version_table,
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()
