"""payment attempts and gateway callbacks

Attempts are the gateway calls the charge worker makes; callbacks are what the
gateways send back, kept raw and deduplicated on the gateway's own event identity.

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-21 22:28:49.428593
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "gateway_callbacks",
        sa.Column("gateway", sa.String(length=32), nullable=False),
        sa.Column("event_key", sa.String(length=200), nullable=False),
        sa.Column("reference", sa.String(length=100), nullable=False),
        sa.Column("payload", sa.LargeBinary(), nullable=False),
        sa.Column("result", sa.String(length=32), nullable=False),
        sa.Column("detail", sa.Text(), nullable=True),
        sa.Column(
            "received_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.PrimaryKeyConstraint("gateway", "event_key", name=op.f("pk_gateway_callbacks")),
    )
    op.create_table(
        "payment_attempts",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("payment_intent_id", sa.String(length=40), nullable=False),
        sa.Column("gateway", sa.String(length=32), nullable=False),
        sa.Column("number", sa.Integer(), nullable=False),
        sa.Column("idempotency_key", sa.String(length=100), nullable=False),
        sa.Column("gateway_reference", sa.String(length=100), nullable=True),
        sa.Column("outcome", sa.String(length=16), nullable=False),
        sa.Column("charge_status", sa.String(length=32), nullable=True),
        sa.Column("gateway_status", sa.String(length=64), nullable=True),
        sa.Column("amount", sa.BigInteger(), nullable=False),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("routing", postgresql.JSONB(astext_type=sa.Text()), nullable=True),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column(
            "updated_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.ForeignKeyConstraint(
            ["payment_intent_id"],
            ["payment_intents.id"],
            name=op.f("fk_payment_attempts_payment_intent_id_payment_intents"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_payment_attempts")),
        sa.UniqueConstraint("idempotency_key", name=op.f("uq_payment_attempts_idempotency_key")),
    )
    op.create_index(
        op.f("ix_payment_attempts_payment_intent_id"),
        "payment_attempts",
        ["payment_intent_id"],
        unique=False,
    )
    op.create_index(
        "uq_payment_attempts_gateway_reference",
        "payment_attempts",
        ["gateway", "gateway_reference"],
        unique=True,
    )


def downgrade() -> None:
    op.drop_index("uq_payment_attempts_gateway_reference", table_name="payment_attempts")
    op.drop_index(op.f("ix_payment_attempts_payment_intent_id"), table_name="payment_attempts")
    op.drop_table("payment_attempts")
    op.drop_table("gateway_callbacks")
