"""payment polls: the scheduler asks after PIX charges awaiting their payer

When every notification of a payment is lost, the intent would wait for the gateway's
next resend or its expiry; the scheduler asks instead, on a backoff kept here. An
index finds the PIX intents awaiting payment by how long they have been quiet.

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-02 01:20:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0014"
down_revision: str | None = "0013"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "payment_polls",
        sa.Column("payment_intent_id", sa.String(length=40), nullable=False),
        sa.Column("polls", sa.Integer(), nullable=False),
        sa.Column("next_poll_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_answer", sa.Text(), nullable=True),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.ForeignKeyConstraint(
            ["payment_intent_id"],
            ["payment_intents.id"],
            name=op.f("fk_payment_polls_payment_intent_id_payment_intents"),
        ),
        sa.PrimaryKeyConstraint("payment_intent_id", name=op.f("pk_payment_polls")),
    )
    op.create_index(
        "ix_payment_intents_awaiting_since",
        "payment_intents",
        ["updated_at"],
        unique=False,
        postgresql_where=sa.text("status = 'requires_action'"),
    )


def downgrade() -> None:
    op.drop_index(
        "ix_payment_intents_awaiting_since",
        table_name="payment_intents",
        postgresql_where=sa.text("status = 'requires_action'"),
    )
    op.drop_table("payment_polls")
