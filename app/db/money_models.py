"""Money at rest: the ledger, fee schedules, payouts and reconciliation runs."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    ForeignKey,
    Identity,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    func,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from app.db.models import Base, Json
from app.db.types import EnumText
from app.domain.documents import DocumentType
from app.domain.intents import PaymentMethodType
from app.domain.ledger import EntryKind, TransactionStatus, TransactionType
from app.domain.payouts import PayoutStatus, SendStatus


class LedgerEntry(Base):
    """One posting of the double-entry ledger: append-only (PostgreSQL refuses UPDATE and
    DELETE), its lines summing to zero per currency (a deferred constraint trigger
    checks at commit). ``(kind, source_id)`` is unique: one event posts once."""

    __tablename__ = "ledger_entries"
    __table_args__ = (Index("uq_ledger_entries_kind_source_id", "kind", "source_id", unique=True),)

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    merchant_id: Mapped[str] = mapped_column(ForeignKey("merchants.id"))
    livemode: Mapped[bool]
    kind: Mapped[EntryKind] = mapped_column(EnumText(EntryKind, 32))
    source_id: Mapped[str] = mapped_column(String(40))
    currency: Mapped[str] = mapped_column(String(3))
    created_at: Mapped[datetime] = mapped_column(server_default=func.now())


class LedgerLine(Base):
    """A signed amount on one account: positive credits it (what we owe its holder)."""

    __tablename__ = "ledger_lines"
    __table_args__ = (
        # Summing an account: a balance is what its lines say.
        Index("ix_ledger_lines_account_livemode_currency", "account", "livemode", "currency"),
        Index("ix_ledger_lines_merchant_id_livemode", "merchant_id", "livemode"),
    )

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    entry_id: Mapped[str] = mapped_column(ForeignKey("ledger_entries.id"), index=True)
    account: Mapped[str] = mapped_column(String(120))
    merchant_id: Mapped[str | None] = mapped_column(String(40))
    livemode: Mapped[bool]
    currency: Mapped[str] = mapped_column(String(3))
    amount: Mapped[int] = mapped_column(BigInteger)


class BalanceTransaction(Base):
    """What a merchant sees of an entry: amount, fee, net, and when it is available.
    Only ``status`` ever changes (pending to available, once, by the settlement)."""

    __tablename__ = "balance_transactions"
    __table_args__ = (
        Index("ix_balance_transactions_merchant_id_id", "merchant_id", "id"),
        Index("ix_balance_transactions_source", "source"),
        # The settlement's work list: pending funds by when they are due.
        Index(
            "ix_balance_transactions_due",
            "available_on",
            postgresql_where=text("status = 'pending'"),
        ),
    )

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    merchant_id: Mapped[str] = mapped_column(ForeignKey("merchants.id"))
    livemode: Mapped[bool]
    type: Mapped[TransactionType] = mapped_column(EnumText(TransactionType, 32))
    amount: Mapped[int] = mapped_column(BigInteger)
    fee: Mapped[int] = mapped_column(BigInteger)
    net: Mapped[int] = mapped_column(BigInteger)
    currency: Mapped[str] = mapped_column(String(3))
    source: Mapped[str] = mapped_column(String(40))
    status: Mapped[TransactionStatus] = mapped_column(EnumText(TransactionStatus, 16))
    available_on: Mapped[datetime]
    entry_id: Mapped[str] = mapped_column(ForeignKey("ledger_entries.id"))
    created_at: Mapped[datetime] = mapped_column(server_default=func.now())


class FeeSchedule(Base):
    """A fee and settlement delay for one method: a merchant's own (``merchant_id``) or,
    with ``merchant_id`` NULL, the platform's in place of app/domain/ledger.py's default."""

    __tablename__ = "fee_schedules"
    __table_args__ = (
        CheckConstraint(
            "basis_points BETWEEN 0 AND 10000 AND fixed_amount >= 0"
            " AND settlement_delay_days BETWEEN 0 AND 365",
            name="sane",
        ),
        Index("uq_fee_schedules_merchant_id_method", "merchant_id", "method", unique=True),
        # One platform-wide row per method (a NULL merchant_id is never equal to another).
        Index(
            "uq_fee_schedules_platform_method",
            "method",
            unique=True,
            postgresql_where=text("merchant_id IS NULL"),
        ),
    )

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    merchant_id: Mapped[str | None] = mapped_column(ForeignKey("merchants.id"))
    method: Mapped[PaymentMethodType] = mapped_column(EnumText(PaymentMethodType, 16))
    basis_points: Mapped[int] = mapped_column(Integer)
    fixed_amount: Mapped[int] = mapped_column(BigInteger)
    settlement_delay_days: Mapped[int] = mapped_column(Integer)
    updated_at: Mapped[datetime] = mapped_column(server_default=func.now(), onupdate=func.now())


class Payout(Base):
    """Money sent from a merchant's available balance to a Pix key."""

    __tablename__ = "payouts"
    __table_args__ = (
        Index("ix_payouts_merchant_id_id", "merchant_id", "id"),
        # The scheduler reads sends still in transit until the gateway says final.
        Index(
            "ix_payouts_in_transit", "updated_at", postgresql_where=text("status = 'in_transit'")
        ),
    )

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    merchant_id: Mapped[str] = mapped_column(ForeignKey("merchants.id"))
    livemode: Mapped[bool]
    amount: Mapped[int] = mapped_column(BigInteger)
    currency: Mapped[str] = mapped_column(String(3))
    status: Mapped[PayoutStatus] = mapped_column(EnumText(PayoutStatus, 16))
    destination_type: Mapped[str] = mapped_column(String(8))
    destination_key: Mapped[str] = mapped_column(String(77))
    # The payee's document, when given, encrypted like payers' (DocumentCipher).
    destination_document_type: Mapped[DocumentType | None] = mapped_column(String(8))
    destination_document_encrypted: Mapped[bytes | None] = mapped_column(LargeBinary)
    destination_document_masked: Mapped[str | None] = mapped_column(String(32))
    description: Mapped[str | None] = mapped_column(String(140))
    metadata_: Mapped[Json] = mapped_column("metadata", server_default=text("'{}'::jsonb"))
    failure_code: Mapped[str | None] = mapped_column(String(64))
    failure_message: Mapped[str | None] = mapped_column(Text)
    gateway: Mapped[str] = mapped_column(String(32))
    sequence: Mapped[int] = mapped_column(Integer, server_default=text("0"))
    version: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(server_default=func.now())
    updated_at: Mapped[datetime] = mapped_column(server_default=func.now(), onupdate=func.now())

    __mapper_args__ = {"version_id_col": version}


class PayoutAttempt(Base):
    """One send of a payout. Its idEnvio is written before the gateway is called and
    never reused: while its outcome is unknown the same send is read, then repeated."""

    __tablename__ = "payout_attempts"
    __table_args__ = (
        Index("uq_payout_attempts_payout_id_number", "payout_id", "number", unique=True),
    )

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    payout_id: Mapped[str] = mapped_column(ForeignKey("payouts.id"))
    number: Mapped[int] = mapped_column(Integer)
    id_envio: Mapped[str] = mapped_column(String(35), unique=True)
    status: Mapped[SendStatus] = mapped_column(EnumText(SendStatus, 16))
    gateway_status: Mapped[str | None] = mapped_column(String(32))
    end_to_end_id: Mapped[str | None] = mapped_column(String(32))
    created_at: Mapped[datetime] = mapped_column(server_default=func.now())
    updated_at: Mapped[datetime] = mapped_column(server_default=func.now(), onupdate=func.now())


class ReconciliationRun(Base):
    """One reconciliation of one gateway's day (app/reconciliation/): the counts of each
    category, and the records that did not match (``items``) for operators to resolve.
    ``failed`` when the gateway's books could not be read whole (``error``): never
    ``clean`` from a partial read."""

    __tablename__ = "reconciliation_runs"
    __table_args__ = (
        CheckConstraint("status IN ('clean', 'unmatched', 'failed')", name="status"),
        Index("ix_reconciliation_runs_gateway_day", "gateway", "day"),
    )

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    gateway: Mapped[str] = mapped_column(String(32))
    day: Mapped[date]
    status: Mapped[str] = mapped_column(String(16))
    window_start: Mapped[datetime]
    window_end: Mapped[datetime]
    started_at: Mapped[datetime]
    finished_at: Mapped[datetime]
    matched: Mapped[int] = mapped_column(BigInteger)
    missing_ours: Mapped[int] = mapped_column(BigInteger)
    missing_theirs: Mapped[int] = mapped_column(BigInteger)
    amount_mismatch: Mapped[int] = mapped_column(BigInteger)
    duplicates: Mapped[int] = mapped_column(BigInteger)
    outside_window: Mapped[int] = mapped_column(BigInteger)
    difference: Mapped[int] = mapped_column(BigInteger)  # centavos: theirs minus ours
    error: Mapped[str | None] = mapped_column(Text)
    items: Mapped[list[dict[str, Any]]] = mapped_column(JSONB, server_default=text("'[]'::jsonb"))
