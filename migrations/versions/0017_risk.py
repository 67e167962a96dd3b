"""risk: merchants' rules, each intent's assessment, reviews

An intent keeps its risk assessment (decision, score, reasons) and a keyed fingerprint
of its payer, so "is this the payer's first payment?" is an index lookup. A merchant's
rules are rows; ``risk_rule_sets`` marks the merchants that wrote theirs (the others
get the default set). A review is opened for each intent the rules sent to review.

Revision ID: 0017
Revises: 0014 (the lead renumbers on merge, after the ledger's 0015 and payouts' 0016)
Create Date: 2026-12-02 05:10:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0017"
down_revision: str | None = "0016"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("payment_intents", sa.Column("risk", postgresql.JSONB(), nullable=True))
    op.add_column(
        "payment_intents", sa.Column("payer_fingerprint", sa.String(length=40), nullable=True)
    )
    op.create_index(
        "ix_payment_intents_paid_by_payer",
        "payment_intents",
        ["merchant_id", "payer_fingerprint"],
        unique=False,
        postgresql_where=sa.text("status = 'succeeded' AND payer_fingerprint IS NOT NULL"),
    )
    op.create_table(
        "risk_rule_sets",
        sa.Column("merchant_id", sa.String(length=40), nullable=False),
        sa.Column(
            "updated_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.ForeignKeyConstraint(
            ["merchant_id"], ["merchants.id"], name=op.f("fk_risk_rule_sets_merchant_id_merchants")
        ),
        sa.PrimaryKeyConstraint("merchant_id", name=op.f("pk_risk_rule_sets")),
    )
    op.create_table(
        "risk_rules",
        sa.Column("merchant_id", sa.String(length=40), nullable=False),
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("definition", postgresql.JSONB(), nullable=False),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.ForeignKeyConstraint(
            ["merchant_id"],
            ["risk_rule_sets.merchant_id"],
            name=op.f("fk_risk_rules_merchant_id_risk_rule_sets"),
        ),
        sa.PrimaryKeyConstraint("merchant_id", "id", name=op.f("pk_risk_rules")),
    )
    op.create_table(
        "reviews",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("merchant_id", sa.String(length=40), nullable=False),
        sa.Column("payment_intent_id", sa.String(length=40), nullable=False),
        sa.Column("livemode", sa.Boolean(), nullable=False),
        sa.Column("open", sa.Boolean(), nullable=False),
        sa.Column("closed_reason", sa.String(length=16), nullable=True),
        sa.Column("refund_id", sa.String(length=40), nullable=True),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column("closed_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["merchant_id"], ["merchants.id"], name=op.f("fk_reviews_merchant_id_merchants")
        ),
        sa.ForeignKeyConstraint(
            ["payment_intent_id"],
            ["payment_intents.id"],
            name=op.f("fk_reviews_payment_intent_id_payment_intents"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_reviews")),
    )
    op.create_index("ix_reviews_merchant_id_id", "reviews", ["merchant_id", "id"], unique=False)
    op.create_index(
        op.f("ix_reviews_payment_intent_id"), "reviews", ["payment_intent_id"], unique=True
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_reviews_payment_intent_id"), table_name="reviews")
    op.drop_index("ix_reviews_merchant_id_id", table_name="reviews")
    op.drop_table("reviews")
    op.drop_table("risk_rules")
    op.drop_table("risk_rule_sets")
    op.drop_index(
        "ix_payment_intents_paid_by_payer",
        table_name="payment_intents",
        postgresql_where=sa.text("status = 'succeeded' AND payer_fingerprint IS NOT NULL"),
    )
    op.drop_column("payment_intents", "payer_fingerprint")
    op.drop_column("payment_intents", "risk")
