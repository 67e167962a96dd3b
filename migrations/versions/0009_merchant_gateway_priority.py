"""merchant gateway priority

A merchant may order the gateways its intents try, instead of the default.

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-22 01:47:13.339743
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column(
        "merchants",
        sa.Column("gateway_priority", postgresql.JSONB(astext_type=sa.Text()), nullable=True),
    )


def downgrade() -> None:
    op.drop_column("merchants", "gateway_priority")
