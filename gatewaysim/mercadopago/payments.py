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
    IN_MEDIATION = "in_mediation"
    CHARGED_BACK = "charged_back"


class RefundStatus(StrEnum):
    APPROVED = "approved"
    IN_PROCESS = "in_process"
    REJECTED = "rejected"


CANCELLABLE = frozenset({Status.PENDING, Status.IN_PROCESS, Status.AUTHORIZED})
# A payer's dispute or chargeback only reaches money that was taken.
DISPUTABLE = frozenset({Status.APPROVED, Status.IN_MEDIATION})


@dataclass
class Refund:
    id: int
    payment_id: int
    amount_cents: int
    created_at: datetime
    status: RefundStatus = RefundStatus.APPROVED
    requests: int = 1

    @property
    def holds_money(self) -> bool:
        """A rejected refund returned nothing and counts against nothing."""
        return self.status is not RefundStatus.REJECTED


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
    issuer_id: str | None = None
    approved_at: datetime | None = None
    # What the create request said, to tell a repeat of it from another use of its key.
    request_fingerprint: str = ""
    refunds: list[Refund] = field(default_factory=list)
    create_requests: int = 1

    @property
    def refunded_cents(self) -> int:
        return sum(r.amount_cents for r in self.refunds if r.holds_money)

    def expire_if_due(self, now: datetime) -> bool:
        """An unpaid PIX past its date_of_expiration is cancelled/expired; True if it
        changed now."""
        due = self.expires_at is not None and now >= self.expires_at
        if not (self.is_pix and self.status is Status.PENDING and due):
            return False
        self.status, self.status_detail = Status.CANCELLED, "expired"
        self.updated_at = now
        return True

    def dispute(self, now: datetime) -> None:
        """The payer opened a claim: the money is held (``in_mediation``)."""
        self._payer_action(Status.IN_MEDIATION, "in_mediation", now)

    def charge_back(self, now: datetime) -> None:
        """The card issuer took the money back (``charged_back``/``settled``)."""
        self._payer_action(Status.CHARGED_BACK, "settled", now)

    def pay(self, amount_cents: int, now: datetime) -> None:
        """The payer sent ``amount_cents`` for this PIX charge (expired ones: see the
        service, which expires them first)."""
        if (self.status, self.status_detail) == (Status.CANCELLED, "expired"):
            raise bad_request("payment_expired", "the pix charge has expired")
        if not self.is_pix or self.status is not Status.PENDING:
            raise bad_request("payment_not_payable", f"payment is {self.status}, not pending pix")
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
        self._mark_refunded()

    def settle_refunds(self) -> None:
        """Refunds in process are approved the next time anyone looks."""
        for refund in self.refunds:
            if refund.status is RefundStatus.IN_PROCESS:
                refund.status = RefundStatus.APPROVED
        self._mark_refunded()

    def _mark_refunded(self) -> None:
        returned = sum(r.amount_cents for r in self.refunds if r.status is RefundStatus.APPROVED)
        if self.status is not Status.APPROVED or not returned:
            return
        if returned == self.amount_cents:
            self.status, self.status_detail = Status.REFUNDED, "refunded"
        else:
            self.status_detail = "partially_refunded"

    def _payer_action(self, status: Status, detail: str, now: datetime) -> None:
        if self.status not in DISPUTABLE:
            raise bad_request("invalid_status", f"a payment that is {self.status} took no money")
        self.status, self.status_detail = status, detail
        self.updated_at = now

    def _approve(self, now: datetime) -> None:
        self.status, self.status_detail = Status.APPROVED, "accredited"
        self.captured = True
        self.approved_at = self.updated_at = now
