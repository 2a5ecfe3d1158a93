"""The firm's own calendar rulings (a working Saturday, a company holiday), ahead of the statutory calendar.

Revision ID: workflow_0003
Revises: workflow_0002
Create Date: 2026-12-01
"""

import sqlalchemy as sa
from alembic import op

from loanbridge.common.tables import Timestamp

revision = "workflow_0003"
down_revision = "workflow_0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "calendar_overrides",
        sa.Column("day", sa.Date, primary_key=True),
        sa.Column("working", sa.Boolean, nullable=False),
        sa.Column("note", sa.String(100), nullable=False),
        sa.Column("updated_by", sa.String(64), nullable=False),
        sa.Column("updated_at", Timestamp, nullable=False),
    )


def downgrade() -> None:
    op.drop_table("calendar_overrides")
