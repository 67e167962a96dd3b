"""SQLAlchemy models: the tables PixWave owns. Money is integer minor units; statuses
are the domain's enums, stored as text (app/db/types.py)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Text,
    func,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from app.db.types import EnumText
from app.domain.charges import AttemptOutcome, ChargeStatus, LatePayment
from app.domain.documents import DocumentType
from app.domain.intents import CaptureMethod, IntentStatus, PaymentMethodType, RefundStatus

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

Json = dict[str, Any]


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)
    type_annotation_map = {Json: JSONB, datetime: DateTime(timezone=True)}


class Merchant(Base):
    __tablename__ = "merchants"

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    livemode: Mapped[bool] = mapped_column(server_default=text("false"))
    # Gateways to try, first to last, instead of PIXWAVE_GATEWAY_PRIORITY; None = the default.
    gateway_priority: Mapped[list[str] | None] = mapped_column(JSONB)
    created_at: Mapped[datetime] = mapped_column(server_default=func.now())


class ApiKey(Base):
    __tablename__ = "api_keys"

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    merchant_id: Mapped[str] = mapped_column(ForeignKey("merchants.id"), index=True)
    # Only a SHA-256 of the secret is kept; the key itself is shown once.
    secret_hash: Mapped[str] = mapped_column(String(64), unique=True)
    display_prefix: Mapped[str] = mapped_column(String(20))
    created_at: Mapped[datetime] = mapped_column(server_default=func.now())
    revoked_at: Mapped[datetime | None]


class PaymentIntent(Base):
    __tablename__ = "payment_intents"
    __table_args__ = (
        Index("ix_payment_intents_merchant_id_id", "merchant_id", "id"),
        Index("ix_payment_intents_merchant_id_status_id", "merchant_id", "status", "id"),
        # The scheduler's work lists: PIX codes to expire or to ask after, intents that
        # stopped moving.
        Index(
            "ix_payment_intents_awaiting_expiry",
            "expires_at",
            postgresql_where=text("status = 'requires_action'"),
        ),
        Index(
            "ix_payment_intents_awaiting_since",
            "updated_at",
            postgresql_where=text("status = 'requires_action'"),
        ),
        Index(
            "ix_payment_intents_processing_since",
            "updated_at",
            postgresql_where=text("status = 'processing'"),
        ),
        # "Has this payer paid this merchant before?" (the risk rules' first payment).
        Index(
            "ix_payment_intents_paid_by_payer",
            "merchant_id",
            "payer_fingerprint",
            postgresql_where=text("status = 'succeeded' AND payer_fingerprint IS NOT NULL"),
        ),
    )

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    merchant_id: Mapped[str] = mapped_column(ForeignKey("merchants.id"))
    livemode: Mapped[bool]
    amount: Mapped[int] = mapped_column(BigInteger)
    currency: Mapped[str] = mapped_column(String(3))
    status: Mapped[IntentStatus] = mapped_column(EnumText(IntentStatus, 32))
    capture_method: Mapped[CaptureMethod] = mapped_column(EnumText(CaptureMethod, 16))
    method_type: Mapped[PaymentMethodType] = mapped_column(EnumText(PaymentMethodType, 16))
    payer_name: Mapped[str | None] = mapped_column(String(200))
    payer_document_type: Mapped[DocumentType | None] = mapped_column(String(8))
    payer_document_encrypted: Mapped[bytes | None] = mapped_column(LargeBinary)
    payer_document_masked: Mapped[str | None] = mapped_column(String(32))
    card_token: Mapped[str | None] = mapped_column(String(200))
    card_payment_method_id: Mapped[str | None] = mapped_column(String(40))
    card_issuer_id: Mapped[str | None] = mapped_column(String(20))
    description: Mapped[str | None] = mapped_column(Text)
    metadata_: Mapped[Json] = mapped_column("metadata", server_default=text("'{}'::jsonb"))
    amount_capturable: Mapped[int] = mapped_column(BigInteger, server_default=text("0"))
    # What the merchant asked to capture, kept once asked: the charge worker captures
    # it, and a gateway view that still shows the authorization cannot undo it.
    amount_to_capture: Mapped[int | None] = mapped_column(BigInteger)
    amount_received: Mapped[int] = mapped_column(BigInteger, server_default=text("0"))
    # Includes refunds still pending, so two concurrent refunds cannot exceed the payment.
    amount_refunded: Mapped[int] = mapped_column(BigInteger, server_default=text("0"))
    next_action: Mapped[Json | None]
    last_payment_error: Mapped[Json | None]
    cancellation_reason: Mapped[str | None] = mapped_column(String(32))
    # The risk assessment made at creation (app/risk), and the keyed fingerprint of the
    # payer (document or card) it was made for.
    risk: Mapped[Json | None]
    payer_fingerprint: Mapped[str | None] = mapped_column(String(40))
    expires_at: Mapped[datetime | None]
    sequence: Mapped[int] = mapped_column(Integer, server_default=text("0"))
    # The W3C trace context of the request that created it: callbacks continue that trace.
    traceparent: Mapped[str | None] = mapped_column(String(64))
    version: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(server_default=func.now())
    updated_at: Mapped[datetime] = mapped_column(server_default=func.now(), onupdate=func.now())

    __mapper_args__ = {"version_id_col": version}


class Refund(Base):
    __tablename__ = "refunds"
    __table_args__ = (
        Index("ix_refunds_merchant_id_id", "merchant_id", "id"),
        # The scheduler follows pending refunds up (their gateway may settle later).
        Index("ix_refunds_pending", "created_at", postgresql_where=text("status = 'pending'")),
    )

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    merchant_id: Mapped[str] = mapped_column(ForeignKey("merchants.id"))
    payment_intent_id: Mapped[str] = mapped_column(ForeignKey("payment_intents.id"), index=True)
    livemode: Mapped[bool]
    amount: Mapped[int] = mapped_column(BigInteger)
    currency: Mapped[str] = mapped_column(String(3))
    status: Mapped[RefundStatus] = mapped_column(EnumText(RefundStatus, 16))
    reason: Mapped[str | None] = mapped_column(String(32))
    failure_reason: Mapped[str | None] = mapped_column(Text)
    # What the gateway calls the refund (Mercado Pago's refund id, Efí's rtrId), stored
    # whenever it answers: the reconciliation matches the gateway's books by it.
    gateway_reference: Mapped[str | None] = mapped_column(String(100))
    metadata_: Mapped[Json] = mapped_column("metadata", server_default=text("'{}'::jsonb"))
    sequence: Mapped[int] = mapped_column(Integer, server_default=text("0"))
    version: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(server_default=func.now())
    updated_at: Mapped[datetime] = mapped_column(server_default=func.now(), onupdate=func.now())

    __mapper_args__ = {"version_id_col": version}


class IdempotencyKey(Base):
    __tablename__ = "idempotency_keys"
    __table_args__ = (Index("ix_idempotency_keys_expires_at", "expires_at"),)

    merchant_id: Mapped[str] = mapped_column(ForeignKey("merchants.id"), primary_key=True)
    key: Mapped[str] = mapped_column(String(255), primary_key=True)
    request_hash: Mapped[str] = mapped_column(String(64))
    response_status: Mapped[int]
    response_body: Mapped[bytes] = mapped_column(LargeBinary)
    created_at: Mapped[datetime] = mapped_column(server_default=func.now())
    expires_at: Mapped[datetime]


class OutboxEvent(Base):
    __tablename__ = "outbox"
    __table_args__ = (
        Index(
            "ix_outbox_unpublished",
            "position",
            postgresql_where=text("published_at IS NULL"),
        ),
        Index("ix_outbox_aggregate_id", "aggregate_id"),
        # Serves the events API: a merchant's events, newest first.
        Index("ix_outbox_merchant_id_id", "merchant_id", "id"),
        # Serves the relay's "no earlier unpublished event of this aggregate" check.
        Index(
            "ix_outbox_unpublished_aggregate",
            "aggregate_id",
            "position",
            postgresql_where=text("published_at IS NULL"),
        ),
    )

    # `position` orders rows by commit-independent insertion; `id` is the event id.
    position: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=True)
    id: Mapped[str] = mapped_column(String(40), unique=True)
    topic: Mapped[str] = mapped_column(String(32))
    event_type: Mapped[str] = mapped_column(String(64))
    merchant_id: Mapped[str] = mapped_column(String(40))
    aggregate_type: Mapped[str] = mapped_column(String(32))
    aggregate_id: Mapped[str] = mapped_column(String(40))
    aggregate_sequence: Mapped[int] = mapped_column(Integer)
    payload: Mapped[Json]
    traceparent: Mapped[str | None] = mapped_column(String(64))
    # The SNS Subject of an alert (e-mail subscribers read it first); None for events.
    subject: Mapped[str | None] = mapped_column(String(100))
    created_at: Mapped[datetime] = mapped_column(server_default=func.now())
    published_at: Mapped[datetime | None]
    # Set when the row can never be published (too large, rejected); it waits for an operator.
    parked_at: Mapped[datetime | None]
    publish_attempts: Mapped[int] = mapped_column(Integer, server_default=text("0"))
    last_error: Mapped[str | None] = mapped_column(Text)


class InboxEntry(Base):
    """One row per (consumer, event) whose effects committed: the consumer's dedup record."""

    __tablename__ = "inbox"
    __table_args__ = (Index("ix_inbox_processed_at", "processed_at"),)

    consumer: Mapped[str] = mapped_column(String(64), primary_key=True)
    event_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    processed_at: Mapped[datetime] = mapped_column(server_default=func.now())


class MessageFailure(Base):
    """The failure ledger: why a message was retried or dead-lettered."""

    __tablename__ = "message_failures"

    queue: Mapped[str] = mapped_column(String(128), primary_key=True)
    message_id: Mapped[str] = mapped_column(String(128), primary_key=True)
    consumer: Mapped[str] = mapped_column(String(64))
    event_id: Mapped[str | None] = mapped_column(String(64), index=True)
    event_type: Mapped[str | None] = mapped_column(String(64))
    receive_count: Mapped[int] = mapped_column(Integer)
    attempts: Mapped[int] = mapped_column(Integer)
    error_class: Mapped[str] = mapped_column(String(128))
    error_message: Mapped[str] = mapped_column(Text)
    dead_lettered: Mapped[bool] = mapped_column(server_default=text("false"))
    first_seen: Mapped[datetime] = mapped_column(server_default=func.now())
    last_seen: Mapped[datetime] = mapped_column(server_default=func.now())


class PaymentAttempt(Base):
    """One gateway call for an intent; ``gateway_reference`` ties callbacks back to it."""

    __tablename__ = "payment_attempts"
    __table_args__ = (
        Index(
            "uq_payment_attempts_gateway_reference",
            "gateway",
            "gateway_reference",
            unique=True,
        ),
        # The scheduler asks the gateway about tries whose outcome stayed unknown,
        # and refunds late payments.
        Index(
            "ix_payment_attempts_unknown_since",
            "updated_at",
            postgresql_where=text("outcome = 'unknown'"),
        ),
        Index(
            "ix_payment_attempts_refund_due",
            "updated_at",
            postgresql_where=text("late_payment = 'refund_due'"),
        ),
    )

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    payment_intent_id: Mapped[str] = mapped_column(ForeignKey("payment_intents.id"), index=True)
    gateway: Mapped[str] = mapped_column(String(32))
    number: Mapped[int] = mapped_column(Integer)
    # Derived from (intent, gateway, number): resending the same attempt never charges twice.
    idempotency_key: Mapped[str] = mapped_column(String(100), unique=True)
    gateway_reference: Mapped[str | None] = mapped_column(String(100))
    outcome: Mapped[AttemptOutcome] = mapped_column(EnumText(AttemptOutcome, 16))
    charge_status: Mapped[ChargeStatus | None] = mapped_column(EnumText(ChargeStatus, 32))
    gateway_status: Mapped[str | None] = mapped_column(String(64))
    amount: Mapped[int] = mapped_column(BigInteger)
    error: Mapped[str | None] = mapped_column(Text)
    # Why this gateway: the candidates, what was skipped and why, health as seen.
    routing: Mapped[Json | None]
    # A payment the intent could not take, and its automatic refund (LatePayment).
    late_payment: Mapped[LatePayment | None] = mapped_column(EnumText(LatePayment, 16))
    late_refund_reference: Mapped[str | None] = mapped_column(String(100))
    created_at: Mapped[datetime] = mapped_column(server_default=func.now())
    updated_at: Mapped[datetime] = mapped_column(server_default=func.now(), onupdate=func.now())


class GatewayCallback(Base):
    """Every verified callback, raw; the key makes a gateway's resend a no-op."""

    __tablename__ = "gateway_callbacks"

    gateway: Mapped[str] = mapped_column(String(32), primary_key=True)
    event_key: Mapped[str] = mapped_column(String(200), primary_key=True)
    reference: Mapped[str] = mapped_column(String(100))
    payload: Mapped[bytes] = mapped_column(LargeBinary)
    result: Mapped[str] = mapped_column(String(32))
    detail: Mapped[str | None] = mapped_column(Text)
    received_at: Mapped[datetime] = mapped_column(server_default=func.now())


class StuckCheck(Base):
    """The scheduler's follow-up of an intent that stopped moving: how often the gateway
    was asked, when to ask next, and whether operators were alerted."""

    __tablename__ = "stuck_checks"

    payment_intent_id: Mapped[str] = mapped_column(
        ForeignKey("payment_intents.id"), primary_key=True
    )
    checks: Mapped[int] = mapped_column(Integer)
    next_check_at: Mapped[datetime]
    last_error: Mapped[str | None] = mapped_column(Text)
    alerted_at: Mapped[datetime | None]
    created_at: Mapped[datetime] = mapped_column(server_default=func.now())


class PaymentPoll(Base):
    """The scheduler's asking after a PIX charge still awaiting its payer, for when every
    gateway notification of the payment was lost: how often it asked and when next."""

    __tablename__ = "payment_polls"

    payment_intent_id: Mapped[str] = mapped_column(
        ForeignKey("payment_intents.id"), primary_key=True
    )
    polls: Mapped[int] = mapped_column(Integer)
    next_poll_at: Mapped[datetime]
    last_answer: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(server_default=func.now())


class AlertSequence(Base):
    """The last sequence given to an alert aggregate (``alr_…``), so each alert stream
    counts up however many workers raise its alerts."""

    __tablename__ = "alert_sequences"

    aggregate_id: Mapped[str] = mapped_column(String(80), primary_key=True)
    sequence: Mapped[int] = mapped_column(Integer)
