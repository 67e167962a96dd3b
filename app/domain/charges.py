"""What a gateway says about a charge, in PixWave's words (no I/O)."""

from __future__ import annotations

from enum import StrEnum

from app.domain.intents import IntentStatus


class AttemptOutcome(StrEnum):
    """The outcome of one gateway call (the project contract, ../shared/DESIGN.md)."""

    SUCCEEDED = "succeeded"
    DECLINED = "declined"
    NOT_ATTEMPTED = "not_attempted"
    UNKNOWN = "unknown"


class ChargeStatus(StrEnum):
    AWAITING_PAYMENT = "awaiting_payment"  # PIX issued, the payer has not paid yet
    PROCESSING = "processing"  # the gateway is still deciding
    AUTHORIZED = "authorized"  # card authorized, capture pending
    PAID = "paid"
    DECLINED = "declined"
    CANCELED = "canceled"
    EXPIRED = "expired"
    REFUNDED = "refunded"
    CHARGED_BACK = "charged_back"
    DISPUTED = "disputed"
    UNKNOWN = "unknown"  # a status our tables do not know: never read as failed


class LatePayment(StrEnum):
    """Money that reached a try's charge when the intent could no longer take it (the
    intent had ended, or a later try replaced the charge): it goes back automatically."""

    REFUND_DUE = "refund_due"
    REFUNDED = "refunded"
    REFUND_FAILED = "refund_failed"  # the gateway refused: a person must return it


_C = ChargeStatus
# A payer could still pay it (PIX), or it holds money on a card: cancel before abandoning it.
LIVE_CHARGE_STATUSES = frozenset({_C.AWAITING_PAYMENT, _C.AUTHORIZED})
# Nobody can pay it any more, and it took no money.
UNPAYABLE_CHARGE_STATUSES = frozenset({_C.CANCELED, _C.EXPIRED, _C.DECLINED})
_OUTCOME_OF_STATUS: dict[ChargeStatus, AttemptOutcome] = {
    _C.AWAITING_PAYMENT: AttemptOutcome.SUCCEEDED,
    _C.AUTHORIZED: AttemptOutcome.SUCCEEDED,
    _C.PAID: AttemptOutcome.SUCCEEDED,
    _C.REFUNDED: AttemptOutcome.SUCCEEDED,
    _C.CHARGED_BACK: AttemptOutcome.SUCCEEDED,
    _C.DISPUTED: AttemptOutcome.SUCCEEDED,
    _C.DECLINED: AttemptOutcome.DECLINED,
    _C.CANCELED: AttemptOutcome.DECLINED,
    _C.EXPIRED: AttemptOutcome.DECLINED,
    _C.PROCESSING: AttemptOutcome.UNKNOWN,
    _C.UNKNOWN: AttemptOutcome.UNKNOWN,
}


def attempt_outcome(status: ChargeStatus) -> AttemptOutcome:
    """The outcome of the call that created a charge now in ``status``."""
    return _OUTCOME_OF_STATUS[status]


# Where a charge in each status takes its intent; absent statuses leave the intent be.
INTENT_STATUS_FOR_CHARGE: dict[ChargeStatus, IntentStatus] = {
    _C.AWAITING_PAYMENT: IntentStatus.REQUIRES_ACTION,
    _C.AUTHORIZED: IntentStatus.REQUIRES_CAPTURE,
    _C.PAID: IntentStatus.SUCCEEDED,
    _C.DECLINED: IntentStatus.FAILED,
}
