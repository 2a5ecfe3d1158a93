"""A customer's opt-out of marketing messages (退订).

Revision ID: intake_0003
Revises: intake_0002
Create Date: 2026-11-28
"""

import sqlalchemy as sa
from alembic import op

from loanbridge.common.tables import Timestamp

revision = "intake_0003"
down_revision = "intake_0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("customers") as customers:
        customers.add_column(sa.Column("opt_out_at", Timestamp, nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("customers") as customers:
        customers.drop_column("opt_out_at")
