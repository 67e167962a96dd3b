"""reconciliation: refunds keep the gateway's reference; runs of the daily reconciliation

``refunds.gateway_reference`` is what the gateway named the refund (Mercado Pago's
refund id, Efí's rtrId or devolução id), stored whenever the gateway answers, so the
reconciliation can match a refund with the gateway's books. ``reconciliation_runs``
keeps each run of ``pixwave reconcile`` and of the daily job: one gateway, one day,
its counts per category and the unmatched records themselves.

Revision ID: 0018
Revises: 0015
Create Date: 2026-12-02 05:30:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0018"
# The lead renumbers on merge (payouts 0016 and risk 0017 are written at the same time).
down_revision: str | None = "0017"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_COUNTS = (
    "matched",
    "missing_ours",
    "missing_theirs",
    "amount_mismatch",
    "duplicates",
    "outside_window",
    "difference",
)


def upgrade() -> None:
    op.add_column("refunds", sa.Column("gateway_reference", sa.String(100), nullable=True))
    op.create_table(
        "reconciliation_runs",
        sa.Column("id", sa.String(40), primary_key=True),
        sa.Column("gateway", sa.String(32), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("window_start", sa.DateTime(timezone=True), nullable=False),
        sa.Column("window_end", sa.DateTime(timezone=True), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=False),
        *(sa.Column(name, sa.BigInteger(), nullable=False) for name in _COUNTS),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column(
            "items",
            postgresql.JSONB(),
            nullable=False,
            server_default=sa.text("'[]'::jsonb"),
        ),
        sa.CheckConstraint(
            "status IN ('clean', 'unmatched', 'failed')", name="ck_reconciliation_runs_status"
        ),
    )
    op.create_index("ix_reconciliation_runs_gateway_day", "reconciliation_runs", ["gateway", "day"])


def downgrade() -> None:
    op.drop_index("ix_reconciliation_runs_gateway_day", table_name="reconciliation_runs")
    op.drop_table("reconciliation_runs")
    op.drop_column("refunds", "gateway_reference")
