"""scheduler: follow-ups of stuck intents, late payments, indexes for its work lists

`pixwave scheduler` expires unpaid PIX intents, asks gateways about intents that
stopped moving and refunds payments that arrived too late (recorded on the attempt);
partial indexes keep each of its queries to the rows it wants.

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-22 10:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "stuck_checks",
        sa.Column("payment_intent_id", sa.String(length=40), nullable=False),
        sa.Column("checks", sa.Integer(), nullable=False),
        sa.Column("next_check_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("alerted_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.ForeignKeyConstraint(
            ["payment_intent_id"],
            ["payment_intents.id"],
            name=op.f("fk_stuck_checks_payment_intent_id_payment_intents"),
        ),
        sa.PrimaryKeyConstraint("payment_intent_id", name=op.f("pk_stuck_checks")),
    )
    op.create_index(
        "ix_payment_intents_awaiting_expiry",
        "payment_intents",
        ["expires_at"],
        unique=False,
        postgresql_where=sa.text("status = 'requires_action'"),
    )
    op.create_index(
        "ix_payment_intents_processing_since",
        "payment_intents",
        ["updated_at"],
        unique=False,
        postgresql_where=sa.text("status = 'processing'"),
    )
    op.add_column("payment_attempts", sa.Column("late_payment", sa.String(length=16)))
    op.add_column("payment_attempts", sa.Column("late_refund_reference", sa.String(length=100)))
    op.create_index(
        "ix_payment_attempts_refund_due",
        "payment_attempts",
        ["updated_at"],
        unique=False,
        postgresql_where=sa.text("late_payment = 'refund_due'"),
    )
    op.create_index(
        "ix_payment_attempts_unknown_since",
        "payment_attempts",
        ["updated_at"],
        unique=False,
        postgresql_where=sa.text("outcome = 'unknown'"),
    )


def downgrade() -> None:
    op.drop_index("ix_payment_attempts_unknown_since", table_name="payment_attempts")
    op.drop_index("ix_payment_attempts_refund_due", table_name="payment_attempts")
    op.drop_column("payment_attempts", "late_refund_reference")
    op.drop_column("payment_attempts", "late_payment")
    op.drop_index("ix_payment_intents_processing_since", table_name="payment_intents")
    op.drop_index("ix_payment_intents_awaiting_expiry", table_name="payment_intents")
    op.drop_table("stuck_checks")
