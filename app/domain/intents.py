"""PaymentIntent and Refund statuses and the tables of legal transitions."""

from __future__ import annotations

from enum import StrEnum

from app.domain.errors import IllegalTransition


class IntentStatus(StrEnum):
    PENDING = "pending"
    PROCESSING = "processing"
    REQUIRES_ACTION = "requires_action"
    REQUIRES_CAPTURE = "requires_capture"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    CANCELED = "canceled"


class RefundStatus(StrEnum):
    PENDING = "pending"
    SUCCEEDED = "succeeded"
    FAILED = "failed"


class CaptureMethod(StrEnum):
    AUTOMATIC = "automatic"
    MANUAL = "manual"


class PaymentMethodType(StrEnum):
    PIX = "pix"
    CARD = "card"


class CancellationReason(StrEnum):
    REQUESTED_BY_CUSTOMER = "requested_by_customer"
    DUPLICATE = "duplicate"
    FRAUDULENT = "fraudulent"
    ABANDONED = "abandoned"
    EXPIRED = "expired"


_S = IntentStatus
INTENT_TRANSITIONS: dict[IntentStatus, frozenset[IntentStatus]] = {
    _S.PENDING: frozenset({_S.PROCESSING, _S.FAILED, _S.CANCELED}),
    _S.PROCESSING: frozenset(
        {_S.REQUIRES_ACTION, _S.REQUIRES_CAPTURE, _S.SUCCEEDED, _S.FAILED, _S.CANCELED}
    ),
    _S.REQUIRES_ACTION: frozenset({_S.PROCESSING, _S.SUCCEEDED, _S.FAILED, _S.CANCELED}),
    _S.REQUIRES_CAPTURE: frozenset({_S.PROCESSING, _S.SUCCEEDED, _S.FAILED, _S.CANCELED}),
    _S.SUCCEEDED: frozenset(),
    _S.FAILED: frozenset(),
    _S.CANCELED: frozenset(),
}

# The merchant may cancel only while no gateway call is in flight.
MERCHANT_CANCELABLE: frozenset[IntentStatus] = frozenset(
    {_S.PENDING, _S.REQUIRES_ACTION, _S.REQUIRES_CAPTURE}
)

REFUND_TRANSITIONS: dict[RefundStatus, frozenset[RefundStatus]] = {
    RefundStatus.PENDING: frozenset({RefundStatus.SUCCEEDED, RefundStatus.FAILED}),
    RefundStatus.SUCCEEDED: frozenset(),
    RefundStatus.FAILED: frozenset(),
}


def next_intent_status(current: IntentStatus, target: IntentStatus) -> IntentStatus:
    """Return ``target`` if the table allows it, else raise IllegalTransition."""
    if target not in INTENT_TRANSITIONS[current]:
        raise IllegalTransition(f"A payment intent cannot go from {current} to {target}.")
    return target


def next_refund_status(current: RefundStatus, target: RefundStatus) -> RefundStatus:
    if target not in REFUND_TRANSITIONS[current]:
        raise IllegalTransition(f"A refund cannot go from {current} to {target}.")
    return target


def is_terminal(status: IntentStatus) -> bool:
    return not INTENT_TRANSITIONS[status]
