"""payment intent amount to capture

A merchant's capture request, kept on the intent until a gateway answers it, so that
no stale view of the authorization can undo it.

Revision ID: 0010_capture
Revises: 0009
Create Date: 2026-12-01 21:50:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0010_capture"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("payment_intents", sa.Column("amount_to_capture", sa.BigInteger(), nullable=True))
    # Captures requested before this column: until now the request was only
    # amount_capturable kept while the intent is processing.
    op.execute(
        "UPDATE payment_intents SET amount_to_capture = amount_capturable "
        "WHERE status = 'processing' AND capture_method = 'manual' AND amount_capturable > 0"
    )


def downgrade() -> None:
    op.drop_column("payment_intents", "amount_to_capture")
