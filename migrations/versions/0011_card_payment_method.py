"""card payment method and issuer

Mercado Pago wants a card's payment_method_id (and issuer_id when known) beside its
token; a card intent keeps what the merchant's card form gave.

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-01 21:50:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0011"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column(
        "payment_intents", sa.Column("card_payment_method_id", sa.String(40), nullable=True)
    )
    op.add_column("payment_intents", sa.Column("card_issuer_id", sa.String(20), nullable=True))


def downgrade() -> None:
    op.drop_column("payment_intents", "card_issuer_id")
    op.drop_column("payment_intents", "card_payment_method_id")
