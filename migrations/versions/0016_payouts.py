"""payouts: money sent from a merchant's available balance to a Pix key, and each send

``payout_attempts.id_envio`` is unique: an attempt's idEnvio is written before the
gateway is called and names one send for good (a repeat is read, never a new send).

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-02 05:30:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0016"
down_revision: str | None = "0015"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_NOW = sa.text("now()")


def upgrade() -> None:
    op.create_table(
        "payouts",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("merchant_id", sa.String(length=40), nullable=False),
        sa.Column("livemode", sa.Boolean(), nullable=False),
        sa.Column("amount", sa.BigInteger(), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("destination_type", sa.String(length=8), nullable=False),
        sa.Column("destination_key", sa.String(length=77), nullable=False),
        sa.Column("destination_document_type", sa.String(length=8), nullable=True),
        sa.Column("destination_document_encrypted", sa.LargeBinary(), nullable=True),
        sa.Column("destination_document_masked", sa.String(length=32), nullable=True),
        sa.Column("description", sa.String(length=140), nullable=True),
        sa.Column(
            "metadata",
            postgresql.JSONB(astext_type=sa.Text()),
            server_default=sa.text("'{}'::jsonb"),
            nullable=False,
        ),
        sa.Column("failure_code", sa.String(length=64), nullable=True),
        sa.Column("failure_message", sa.Text(), nullable=True),
        sa.Column("gateway", sa.String(length=32), nullable=False),
        sa.Column("sequence", sa.Integer(), server_default=sa.text("0"), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=_NOW, nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), server_default=_NOW, nullable=False),
        sa.CheckConstraint("amount > 0", name=op.f("ck_payouts_amount_positive")),
        sa.ForeignKeyConstraint(
            ["merchant_id"], ["merchants.id"], name=op.f("fk_payouts_merchant_id_merchants")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_payouts")),
    )
    op.create_index("ix_payouts_merchant_id_id", "payouts", ["merchant_id", "id"])
    op.create_index(
        "ix_payouts_in_transit",
        "payouts",
        ["updated_at"],
        postgresql_where=sa.text("status = 'in_transit'"),
    )
    op.create_table(
        "payout_attempts",
        sa.Column("id", sa.BigInteger(), sa.Identity(), nullable=False),
        sa.Column("payout_id", sa.String(length=40), nullable=False),
        sa.Column("number", sa.Integer(), nullable=False),
        sa.Column("id_envio", sa.String(length=35), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("gateway_status", sa.String(length=32), nullable=True),
        sa.Column("end_to_end_id", sa.String(length=32), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=_NOW, nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), server_default=_NOW, nullable=False),
        sa.ForeignKeyConstraint(
            ["payout_id"], ["payouts.id"], name=op.f("fk_payout_attempts_payout_id_payouts")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_payout_attempts")),
        sa.UniqueConstraint("id_envio", name=op.f("uq_payout_attempts_id_envio")),
    )
    op.create_index(
        "uq_payout_attempts_payout_id_number",
        "payout_attempts",
        ["payout_id", "number"],
        unique=True,
    )


def downgrade() -> None:
    op.drop_table("payout_attempts")
    op.drop_table("payouts")
