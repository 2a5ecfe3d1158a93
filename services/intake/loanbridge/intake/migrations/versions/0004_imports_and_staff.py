"""Imports keep their own wrapped key and defaults; a projection of identity's staff (names for 业务员 columns).

Revision ID: intake_0004
Revises: intake_0003
Create Date: 2026-11-28
"""

import sqlalchemy as sa
from alembic import op

from loanbridge.common.tables import Timestamp

revision = "intake_0004"
down_revision = "intake_0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("imports") as imports:
        imports.add_column(sa.Column("key_wrapped", sa.String(255), nullable=False, server_default=""))
        imports.add_column(sa.Column("kek_id", sa.String(32), nullable=False, server_default=""))
        imports.add_column(sa.Column("default_channel", sa.String(64), nullable=True))
        imports.add_column(sa.Column("default_city", sa.String(32), nullable=True))
    op.create_table(
        "staff",
        sa.Column("user_id", sa.String(64), primary_key=True),
        sa.Column("display_name", sa.String(100), nullable=False, index=True),
        sa.Column("team_id", sa.String(36), nullable=True),
        sa.Column("active", sa.Boolean, nullable=False),
        sa.Column("changed_at", Timestamp, nullable=False),
    )


def downgrade() -> None:
    op.drop_table("staff")
    with op.batch_alter_table("imports") as imports:
        for column in ("default_city", "default_channel", "kek_id", "key_wrapped"):
            imports.drop_column(column)
