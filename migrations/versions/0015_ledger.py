"""ledger: double-entry journal, balance transactions and fee schedules

``ledger_entries`` and ``ledger_lines`` are append-only: a trigger refuses UPDATE and
DELETE on both. A deferred constraint trigger checks at commit that each entry's lines
sum to zero per currency, so the database itself refuses an unbalanced entry.
``balance_transactions`` are what a merchant sees (only ``status`` changes, once, when
the settlement makes the funds available). ``fee_schedules`` overrides the default
pricing per method, for the platform (merchant_id NULL) or one merchant.

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-02 05:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0015"
down_revision: str | None = "0014"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_NOW = sa.text("now()")

_APPEND_ONLY = """
CREATE FUNCTION ledger_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'ledger rows are append-only: % on % refused', TG_OP, TG_TABLE_NAME
        USING ERRCODE = 'restrict_violation';
END $$;
CREATE TRIGGER ledger_entries_append_only BEFORE UPDATE OR DELETE ON ledger_entries
    FOR EACH ROW EXECUTE FUNCTION ledger_append_only();
CREATE TRIGGER ledger_lines_append_only BEFORE UPDATE OR DELETE ON ledger_lines
    FOR EACH ROW EXECUTE FUNCTION ledger_append_only();
CREATE TRIGGER ledger_lines_no_truncate BEFORE TRUNCATE ON ledger_lines
    FOR EACH STATEMENT EXECUTE FUNCTION ledger_append_only();
CREATE TRIGGER ledger_entries_no_truncate BEFORE TRUNCATE ON ledger_entries
    FOR EACH STATEMENT EXECUTE FUNCTION ledger_append_only();
"""

_ZERO_SUM = """
CREATE FUNCTION ledger_entry_balanced() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    unbalanced record;
BEGIN
    SELECT currency, sum(amount) AS total INTO unbalanced
    FROM ledger_lines WHERE entry_id = NEW.entry_id
    GROUP BY currency HAVING sum(amount) <> 0 LIMIT 1;
    IF FOUND THEN
        RAISE EXCEPTION 'ledger entry % does not sum to zero in %: %',
            NEW.entry_id, unbalanced.currency, unbalanced.total
            USING ERRCODE = 'check_violation';
    END IF;
    RETURN NULL;
END $$;
CREATE CONSTRAINT TRIGGER ledger_lines_balanced AFTER INSERT ON ledger_lines
    DEFERRABLE INITIALLY DEFERRED
    FOR EACH ROW EXECUTE FUNCTION ledger_entry_balanced();
"""


def upgrade() -> None:
    op.create_table(
        "ledger_entries",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("merchant_id", sa.String(length=40), nullable=False),
        sa.Column("livemode", sa.Boolean(), nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("source_id", sa.String(length=40), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=_NOW, nullable=False),
        sa.ForeignKeyConstraint(
            ["merchant_id"], ["merchants.id"], name=op.f("fk_ledger_entries_merchant_id_merchants")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ledger_entries")),
    )
    op.create_index(
        "uq_ledger_entries_kind_source_id", "ledger_entries", ["kind", "source_id"], unique=True
    )
    op.create_table(
        "ledger_lines",
        sa.Column("id", sa.BigInteger(), sa.Identity(), nullable=False),
        sa.Column("entry_id", sa.String(length=40), nullable=False),
        sa.Column("account", sa.String(length=120), nullable=False),
        sa.Column("merchant_id", sa.String(length=40), nullable=True),
        sa.Column("livemode", sa.Boolean(), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("amount", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(
            ["entry_id"],
            ["ledger_entries.id"],
            name=op.f("fk_ledger_lines_entry_id_ledger_entries"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ledger_lines")),
    )
    op.create_index("ix_ledger_lines_entry_id", "ledger_lines", ["entry_id"])
    op.create_index(
        "ix_ledger_lines_account_livemode_currency",
        "ledger_lines",
        ["account", "livemode", "currency"],
    )
    op.create_index(
        "ix_ledger_lines_merchant_id_livemode", "ledger_lines", ["merchant_id", "livemode"]
    )
    op.create_table(
        "balance_transactions",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("merchant_id", sa.String(length=40), nullable=False),
        sa.Column("livemode", sa.Boolean(), nullable=False),
        sa.Column("type", sa.String(length=32), nullable=False),
        sa.Column("amount", sa.BigInteger(), nullable=False),
        sa.Column("fee", sa.BigInteger(), nullable=False),
        sa.Column("net", sa.BigInteger(), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("source", sa.String(length=40), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("available_on", sa.DateTime(timezone=True), nullable=False),
        sa.Column("entry_id", sa.String(length=40), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=_NOW, nullable=False),
        sa.ForeignKeyConstraint(
            ["merchant_id"],
            ["merchants.id"],
            name=op.f("fk_balance_transactions_merchant_id_merchants"),
        ),
        sa.ForeignKeyConstraint(
            ["entry_id"],
            ["ledger_entries.id"],
            name=op.f("fk_balance_transactions_entry_id_ledger_entries"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_balance_transactions")),
    )
    op.create_index(
        "ix_balance_transactions_merchant_id_id", "balance_transactions", ["merchant_id", "id"]
    )
    op.create_index("ix_balance_transactions_source", "balance_transactions", ["source"])
    op.create_index(
        "ix_balance_transactions_due",
        "balance_transactions",
        ["available_on"],
        postgresql_where=sa.text("status = 'pending'"),
    )
    op.create_table(
        "fee_schedules",
        sa.Column("id", sa.BigInteger(), sa.Identity(), nullable=False),
        sa.Column("merchant_id", sa.String(length=40), nullable=True),
        sa.Column("method", sa.String(length=16), nullable=False),
        sa.Column("basis_points", sa.Integer(), nullable=False),
        sa.Column("fixed_amount", sa.BigInteger(), nullable=False),
        sa.Column("settlement_delay_days", sa.Integer(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), server_default=_NOW, nullable=False),
        sa.CheckConstraint(
            "basis_points BETWEEN 0 AND 10000 AND fixed_amount >= 0"
            " AND settlement_delay_days BETWEEN 0 AND 365",
            name=op.f("ck_fee_schedules_sane"),
        ),
        sa.ForeignKeyConstraint(
            ["merchant_id"], ["merchants.id"], name=op.f("fk_fee_schedules_merchant_id_merchants")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_fee_schedules")),
    )
    op.create_index(
        "uq_fee_schedules_merchant_id_method",
        "fee_schedules",
        ["merchant_id", "method"],
        unique=True,
    )
    op.create_index(
        "uq_fee_schedules_platform_method",
        "fee_schedules",
        ["method"],
        unique=True,
        postgresql_where=sa.text("merchant_id IS NULL"),
    )
    op.execute(_APPEND_ONLY)
    op.execute(_ZERO_SUM)


def downgrade() -> None:
    op.drop_table("fee_schedules")
    op.drop_table("balance_transactions")
    op.drop_table("ledger_lines")
    op.drop_table("ledger_entries")
    op.execute("DROP FUNCTION ledger_entry_balanced()")
    op.execute("DROP FUNCTION ledger_append_only()")
