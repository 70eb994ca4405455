"""The node that held each call, so a node that starts closes only its own calls left open.

Revision ID: 0002
Revises: 0001
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Calls recorded before this revision have no node (NULL): any node that starts closes
    # those it finds open, as every node did before.
    op.add_column("calls", sa.Column("node", sa.String(100), nullable=True))


def downgrade() -> None:
    # SQLite drops a column only by copying the table: Alembic's batch mode does that.
    with op.batch_alter_table("calls") as batch:
        batch.drop_column("node")
