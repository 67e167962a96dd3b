"""pending refunds index

The scheduler follows up refunds still pending at their gateway (an Efí devolução
answers EM_PROCESSAMENTO and settles later): a partial index keeps that query cheap.

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-01 22:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0012"
down_revision: str | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index(
        "ix_refunds_pending",
        "refunds",
        ["created_at"],
        postgresql_where=sa.text("status = 'pending'"),
    )


def downgrade() -> None:
    op.drop_index("ix_refunds_pending", table_name="refunds")
