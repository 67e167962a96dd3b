"""alert sequences, trace context on intents, alert subjects, due deliveries

Alerts count up per alert aggregate; an intent keeps the trace it was created in, so
gateway callbacks continue it; an outbox row may carry the SNS Subject of an alert;
the webhook dispatcher finds due deliveries by an index.

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-01 21:50:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0013"
down_revision: str | None = "0012"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "alert_sequences",
        sa.Column("aggregate_id", sa.String(length=80), nullable=False),
        sa.Column("sequence", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("aggregate_id", name=op.f("pk_alert_sequences")),
    )
    op.add_column("payment_intents", sa.Column("traceparent", sa.String(length=64), nullable=True))
    op.add_column("outbox", sa.Column("subject", sa.String(length=100), nullable=True))
    op.create_index(
        "ix_webhook_deliveries_due",
        "webhook_deliveries",
        ["next_attempt_at"],
        unique=False,
        postgresql_where=sa.text("status = 'pending'"),
    )


def downgrade() -> None:
    op.drop_index(
        "ix_webhook_deliveries_due",
        table_name="webhook_deliveries",
        postgresql_where=sa.text("status = 'pending'"),
    )
    op.drop_column("outbox", "subject")
    op.drop_column("payment_intents", "traceparent")
    op.drop_table("alert_sequences")
