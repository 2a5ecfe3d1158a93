"""When a task's reminder went out (the SLA's ``remind_before``), so that it goes out once.

Revision ID: workflow_0004
Revises: workflow_0003
Create Date: 2026-12-01
"""

import sqlalchemy as sa
from alembic import op

from loanbridge.common.tables import Timestamp

revision = "workflow_0004"
down_revision = "workflow_0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("tasks") as tasks:
        tasks.add_column(sa.Column("reminded_at", Timestamp, nullable=True))
        tasks.create_index("ix_tasks_remind", ["status", "reminded_at", "remind_at"])


def downgrade() -> None:
    with op.batch_alter_table("tasks") as tasks:
        tasks.drop_index("ix_tasks_remind")
        tasks.drop_column("reminded_at")
