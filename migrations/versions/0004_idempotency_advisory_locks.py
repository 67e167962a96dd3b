"""idempotency keys held by advisory locks

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-21 20:53:59.476681
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # In-flight keys are now transaction-scoped advisory locks; rows hold only answers.
    op.execute("DELETE FROM idempotency_keys WHERE status <> 'completed'")
    op.alter_column(
        "idempotency_keys", "response_status", existing_type=sa.INTEGER(), nullable=False
    )
    op.alter_column(
        "idempotency_keys", "response_body", existing_type=postgresql.BYTEA(), nullable=False
    )
    op.drop_column("idempotency_keys", "locked_until")
    op.drop_column("idempotency_keys", "status")


def downgrade() -> None:
    op.add_column(
        "idempotency_keys",
        sa.Column(
            "status",
            sa.VARCHAR(length=16),
            autoincrement=False,
            nullable=False,
            server_default="completed",
        ),
    )
    op.add_column(
        "idempotency_keys",
        sa.Column(
            "locked_until",
            postgresql.TIMESTAMP(timezone=True),
            autoincrement=False,
            nullable=False,
            server_default=sa.func.now(),
        ),
    )
    op.alter_column(
        "idempotency_keys", "response_body", existing_type=postgresql.BYTEA(), nullable=True
    )
    op.alter_column(
        "idempotency_keys", "response_status", existing_type=sa.INTEGER(), nullable=True
    )
