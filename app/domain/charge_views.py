"""What one gateway view of a charge may do to an intent and its try (no I/O).

A view can be stale: a callback re-fetches a charge and then waits for the intent's row
lock while the worker captures it; a lookup answers for a moment already past. So a
view is applied only if it is not behind what the try last recorded (a charge's life
only goes forward), and an intent whose capture was requested takes only the answer to
that request: "authorized" is what it already knew.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from app.domain.charges import INTENT_STATUS_FOR_CHARGE, ChargeStatus
from app.domain.intents import INTENT_TRANSITIONS, IntentStatus


class ChargeApplied(StrEnum):
    MOVED = "moved"
    ALREADY = "already_applied"
    NOTHING_TO_DO = "nothing_to_do"
    # Behind what the intent or its try already know: recorded nowhere, moves nothing.
    STALE = "stale"
    # Paid after the intent ended (canceled, expired, failed), or on a try a later one
    # replaced: the scheduler refunds it.
    LATE_PAYMENT = "late_payment"
    CONFLICT = "conflict"


@dataclass(frozen=True, slots=True)
class Verdict:
    applied: ChargeApplied
    target: IntentStatus | None = None  # where the intent moves, when it does


_C = ChargeStatus
# How far along its life a charge is; it never goes back. Within a stage a gateway may
# still move (a dispute can end paid again), so only an earlier stage is stale.
_STAGE: dict[ChargeStatus, int] = {
    _C.PROCESSING: 0,
    _C.UNKNOWN: 0,
    _C.AWAITING_PAYMENT: 1,
    _C.AUTHORIZED: 1,
    _C.PAID: 2,
    _C.DECLINED: 2,
    _C.CANCELED: 2,
    _C.EXPIRED: 2,
    _C.DISPUTED: 2,
    _C.REFUNDED: 3,
    _C.CHARGED_BACK: 3,
}
# What answers a requested capture: the money was taken, or the card refused it.
_CAPTURE_ANSWERS = frozenset({_C.PAID, _C.DECLINED})
# Charge statuses in which money was taken from the payer.
MONEY_TAKEN = frozenset({_C.PAID, _C.REFUNDED, _C.DISPUTED, _C.CHARGED_BACK})


def capture_pending(status: IntentStatus, amount_to_capture: int | None) -> bool:
    """The merchant asked for a capture and no gateway has answered it yet."""
    return status is IntentStatus.PROCESSING and amount_to_capture is not None


def is_behind(recorded: ChargeStatus | None, seen: ChargeStatus) -> bool:
    """True if ``seen`` is an earlier stage than what the try last recorded."""
    return recorded is not None and _STAGE[seen] < _STAGE[recorded]


def judge(current: IntentStatus, capture_requested: bool, seen: ChargeStatus) -> Verdict:
    """What a (fresh enough) charge view does to an intent in ``current``."""
    target = INTENT_STATUS_FOR_CHARGE.get(seen)
    if target is None:
        return Verdict(ChargeApplied.NOTHING_TO_DO)
    if capture_requested and seen not in _CAPTURE_ANSWERS:
        return Verdict(ChargeApplied.STALE)
    if current is target:
        return Verdict(ChargeApplied.ALREADY)
    if target in INTENT_TRANSITIONS[current]:
        return Verdict(ChargeApplied.MOVED, target)
    if seen is _C.PAID:
        return Verdict(ChargeApplied.LATE_PAYMENT)
    # A succeeded intent has left authorization and payment codes behind it.
    behind = current is IntentStatus.SUCCEEDED
    return Verdict(ChargeApplied.STALE if behind else ChargeApplied.CONFLICT)


@dataclass(frozen=True, slots=True)
class IntentMoney:
    """What an intent knows of its money, in minor units of ``currency``."""

    amount: int  # asked for, and authorized on a card
    currency: str
    amount_to_capture: int | None  # a requested capture
    amount_refunded: int  # includes refunds still pending


@dataclass(frozen=True, slots=True)
class ChargeMoney:
    """What a gateway says of a charge's money."""

    status: ChargeStatus
    amount: int
    amount_paid: int | None
    amount_refunded: int


def expected_charge(intent: IntentMoney, status: ChargeStatus) -> tuple[int, str]:
    """The amount a charge in ``status`` should show, and why: a card holds the intent's
    amount until a capture takes what the merchant asked for (partly, perhaps)."""
    if status in MONEY_TAKEN and intent.amount_to_capture is not None:
        return intent.amount_to_capture, "what the capture asked for"
    return intent.amount, "the intent's amount"


def reconciliation_mismatch(
    intent: IntentMoney, charge: ChargeMoney, *, late_payment: bool
) -> str | None:
    """Why the charge's money disagrees with the intent's, or None when it agrees.

    A try marked as a late payment is refunded outside the intent's own refunds."""
    expected, why = expected_charge(intent, charge.status)
    for label, amount in (("charged", charge.amount), ("paid", charge.amount_paid)):
        if amount is not None and amount != expected:
            return f"{label} {amount} but {expected} {intent.currency} is {why}"
    if not late_payment and charge.amount_refunded > intent.amount_refunded:
        return (
            f"refunded {charge.amount_refunded} but PixWave refunded "
            f"{intent.amount_refunded} {intent.currency}"
        )
    return None
