"""Merchants' webhook endpoints and the deliveries made to them."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    ForeignKey,
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

from app.db.models import Base
from app.db.types import EnumText
from app.domain.webhooks import DeliveryStatus, EndpointStatus


class WebhookEndpoint(Base):
    """Where a merchant hears about events; secrets are sealed with the document cipher."""

    __tablename__ = "webhook_endpoints"
    __table_args__ = (Index("ix_webhook_endpoints_merchant_id_id", "merchant_id", "id"),)

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    merchant_id: Mapped[str] = mapped_column(ForeignKey("merchants.id"))
    livemode: Mapped[bool]
    url: Mapped[str] = mapped_column(String(2048))
    description: Mapped[str | None] = mapped_column(String(500))
    enabled_events: Mapped[list[str]] = mapped_column(JSONB)
    status: Mapped[EndpointStatus] = mapped_column(EnumText(EndpointStatus, 16))
    disabled_reason: Mapped[str | None] = mapped_column(Text)
    secret_sealed: Mapped[bytes] = mapped_column(LargeBinary)
    # After a rotation the old secret signs too, until this moment.
    previous_secret_sealed: Mapped[bytes | None] = mapped_column(LargeBinary)
    previous_secret_expires_at: Mapped[datetime | None]
    deleted_at: Mapped[datetime | None]
    created_at: Mapped[datetime] = mapped_column(server_default=func.now())


class WebhookDelivery(Base):
    """One event for one endpoint: its attempts, and when the next one is due."""

    __tablename__ = "webhook_deliveries"
    __table_args__ = (
        Index("uq_webhook_deliveries_event_id_endpoint_id", "event_id", "endpoint_id", unique=True),
        Index("ix_webhook_deliveries_endpoint_id_id", "endpoint_id", "id"),
        # The dispatcher's work list: pending deliveries by when they are due.
        Index(
            "ix_webhook_deliveries_due",
            "next_attempt_at",
            postgresql_where=text("status = 'pending'"),
        ),
    )

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    event_id: Mapped[str] = mapped_column(String(40))
    endpoint_id: Mapped[str] = mapped_column(ForeignKey("webhook_endpoints.id"))
    event_type: Mapped[str] = mapped_column(String(64))
    status: Mapped[DeliveryStatus] = mapped_column(EnumText(DeliveryStatus, 16))
    attempts: Mapped[int] = mapped_column(Integer, server_default=text("0"))
    last_status_code: Mapped[int | None] = mapped_column(Integer)
    last_error: Mapped[str | None] = mapped_column(Text)
    next_attempt_at: Mapped[datetime | None]
    # Retries stop this long after the first try of the current round (redeliver starts one).
    first_attempt_at: Mapped[datetime | None]
    delivered_at: Mapped[datetime | None]
    created_at: Mapped[datetime] = mapped_column(server_default=func.now())
    updated_at: Mapped[datetime] = mapped_column(server_default=func.now(), onupdate=func.now())
