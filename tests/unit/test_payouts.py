"""The payout state machine and the idEnvio each attempt is sent under."""

from __future__ import annotations

import itertools

import pytest

from app.domain.errors import ConflictError, IllegalTransition
from app.domain.payouts import PAYOUT_TRANSITIONS, PayoutStatus, attempt_key, next_payout_status
from app.gateways.identifiers import efi_id_envio, id_envio_for

P = PayoutStatus

# Written out independently of app/domain/payouts.py, from issue 17's status list.
ALLOWED: set[tuple[PayoutStatus, PayoutStatus]] = {
    (P.PENDING, P.IN_TRANSIT),
    (P.PENDING, P.CANCELED),
    (P.PENDING, P.FAILED),
    (P.IN_TRANSIT, P.PAID),
    (P.IN_TRANSIT, P.FAILED),
}


def test_the_table_has_every_status_and_only_the_expected_edges() -> None:
    assert set(PAYOUT_TRANSITIONS) == set(PayoutStatus)
    edges = {(src, dst) for src, targets in PAYOUT_TRANSITIONS.items() for dst in targets}
    assert edges == ALLOWED


@pytest.mark.parametrize(("current", "target"), list(itertools.product(PayoutStatus, PayoutStatus)))
def test_every_pair(current: PayoutStatus, target: PayoutStatus) -> None:
    if (current, target) in ALLOWED:
        assert next_payout_status(current, target) is target
    else:
        with pytest.raises(IllegalTransition) as caught:
            next_payout_status(current, target)
        assert isinstance(caught.value, ConflictError)
        assert caught.value.code == "payout_unexpected_state"


def test_a_payout_in_transit_can_no_longer_be_canceled() -> None:
    with pytest.raises(IllegalTransition):
        next_payout_status(P.IN_TRANSIT, P.CANCELED)


def test_each_attempt_has_its_own_stable_id_envio_that_efi_takes() -> None:
    first = id_envio_for(attempt_key("po_01JD0000000000000000000000", 1))
    assert first == id_envio_for(attempt_key("po_01JD0000000000000000000000", 1))
    assert first != id_envio_for(attempt_key("po_01JD0000000000000000000000", 2))
    assert first != id_envio_for(attempt_key("po_01JD0000000000000000000001", 1))
    assert efi_id_envio(first) == first
