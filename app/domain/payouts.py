"""Payouts' rules, free of I/O: the statuses, the transitions between them, and the key
each attempt's send is made under."""

from __future__ import annotations

from enum import StrEnum

from app.domain.errors import IllegalTransition


class PayoutStatus(StrEnum):
    PENDING = "pending"  # created, its amount reserved, not sent yet
    IN_TRANSIT = "in_transit"  # an attempt is recorded: its send is made or about to be
    PAID = "paid"
    FAILED = "failed"
    CANCELED = "canceled"


_P = PayoutStatus
PAYOUT_TRANSITIONS: dict[PayoutStatus, frozenset[PayoutStatus]] = {
    # pending -> failed: refused before any send (a key the gateway will not take).
    _P.PENDING: frozenset({_P.IN_TRANSIT, _P.CANCELED, _P.FAILED}),
    _P.IN_TRANSIT: frozenset({_P.PAID, _P.FAILED}),
    _P.PAID: frozenset(),
    _P.FAILED: frozenset(),
    _P.CANCELED: frozenset(),
}


class SendStatus(StrEnum):
    """One attempt's send as far as PixWave knows: ``unknown`` until the gateway says."""

    UNKNOWN = "unknown"
    PENDING = "pending"  # queued at the gateway (EM_PROCESSAMENTO)
    PAID = "paid"
    FAILED = "failed"  # NAO_REALIZADO, or refused with no send under the id


def next_payout_status(current: PayoutStatus, target: PayoutStatus) -> PayoutStatus:
    """``target`` if the table allows it, else IllegalTransition (a 409)."""
    if target not in PAYOUT_TRANSITIONS[current]:
        raise IllegalTransition(
            f"A payout cannot go from {current} to {target}.", code="payout_unexpected_state"
        )
    return target


def attempt_key(payout_id: str, number: int) -> str:
    """What an attempt's idEnvio is derived from (app.gateways.identifiers.id_envio_for):
    the same attempt, the same send."""
    return f"{payout_id}:{number}"
