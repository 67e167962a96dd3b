"""A simulated Mercado Pago payment, its refunds, and the moves its status may make."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any

from gatewaysim.mercadopago.wire import bad_request


class Status(StrEnum):
    PENDING = "pending"
    IN_PROCESS = "in_process"
    AUTHORIZED = "authorized"
    APPROVED = "approved"
    REJECTED = "rejected"
    CANCELLED = "cancelled"
    REFUNDED = "refunded"


CANCELLABLE = frozenset({Status.PENDING, Status.IN_PROCESS, Status.AUTHORIZED})


@dataclass
class Refund:
    id: int
    payment_id: int
    amount_cents: int
    created_at: datetime
    requests: int = 1


@dataclass
class Payment:
    id: int
    idempotency_key: str
    amount_cents: int
    method_id: str
    is_pix: bool
    installments: int
    description: str
    external_reference: str | None
    payer: dict[str, Any]
    notification_url: str | None
    created_at: datetime
    updated_at: datetime
    expires_at: datetime | None
    status: Status
    status_detail: str
    captured: bool
    qr_code: str | None = None
    approved_at: datetime | None = None
    refunds: list[Refund] = field(default_factory=list)
    create_requests: int = 1

    @property
    def refunded_cents(self) -> int:
        return sum(refund.amount_cents for refund in self.refunds)

    def pay(self, amount_cents: int, now: datetime) -> None:
        """The payer sent ``amount_cents`` for this PIX charge."""
        if not self.is_pix or self.status is not Status.PENDING:
            raise bad_request("payment_not_payable", f"payment is {self.status}, not pending pix")
        if self.expires_at is not None and now >= self.expires_at:
            raise bad_request("payment_expired", "the pix charge has expired")
        self.amount_cents = amount_cents
        self._approve(now)

    def capture(self, amount_cents: int | None, now: datetime) -> None:
        if self.status is not Status.AUTHORIZED:
            raise bad_request("invalid_status", f"cannot capture a payment that is {self.status}")
        if amount_cents is not None and amount_cents > self.amount_cents:
            raise bad_request("invalid_transaction_amount", "capture exceeds the authorized amount")
        if amount_cents is not None:
            self.amount_cents = amount_cents
        self._approve(now)

    def cancel(self, now: datetime) -> None:
        if self.status not in CANCELLABLE:
            raise bad_request("invalid_status", f"cannot cancel a payment that is {self.status}")
        self.status, self.status_detail = Status.CANCELLED, "by_collector"
        self.updated_at = now

    def refund(self, refund: Refund) -> None:
        if self.status is not Status.APPROVED:
            raise bad_request("invalid_status", f"cannot refund a payment that is {self.status}")
        if self.refunded_cents + refund.amount_cents > self.amount_cents:
            raise bad_request("invalid_refund_amount", "refunds would exceed the payment amount")
        self.refunds.append(refund)
        self.updated_at = refund.created_at
        if self.refunded_cents == self.amount_cents:
            self.status, self.status_detail = Status.REFUNDED, "refunded"

    def _approve(self, now: datetime) -> None:
        self.status, self.status_detail = Status.APPROVED, "accredited"
        self.captured = True
        self.approved_at = self.updated_at = now
