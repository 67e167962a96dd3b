"""Risk screening: merchants' rules and the reviews they open."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    ForeignKey,
    Index,
    Integer,
    String,
    func,
)
from sqlalchemy.orm import Mapped, mapped_column

from app.db.models import Base, Json


class RiskRuleSet(Base):
    """A merchant that wrote its own risk rules; the others are screened by the defaults."""

    __tablename__ = "risk_rule_sets"

    merchant_id: Mapped[str] = mapped_column(ForeignKey("merchants.id"), primary_key=True)
    updated_at: Mapped[datetime] = mapped_column(server_default=func.now(), onupdate=func.now())


class RiskRule(Base):
    __tablename__ = "risk_rules"

    merchant_id: Mapped[str] = mapped_column(
        ForeignKey("risk_rule_sets.merchant_id"), primary_key=True
    )
    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    definition: Mapped[Json]
    created_at: Mapped[datetime] = mapped_column(server_default=func.now())


class Review(Base):
    """An intent the risk rules sent to review, until an operator approves or refunds it."""

    __tablename__ = "reviews"
    __table_args__ = (Index("ix_reviews_merchant_id_id", "merchant_id", "id"),)

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    merchant_id: Mapped[str] = mapped_column(ForeignKey("merchants.id"))
    payment_intent_id: Mapped[str] = mapped_column(
        ForeignKey("payment_intents.id"), index=True, unique=True
    )
    livemode: Mapped[bool]
    open: Mapped[bool]
    closed_reason: Mapped[str | None] = mapped_column(String(16))
    refund_id: Mapped[str | None] = mapped_column(String(40))
    version: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(server_default=func.now())
    closed_at: Mapped[datetime | None]

    __mapper_args__ = {"version_id_col": version}
