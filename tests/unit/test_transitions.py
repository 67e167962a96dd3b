"""The PaymentIntent and Refund state machines."""

from __future__ import annotations

import itertools

import pytest

from app.domain.errors import ConflictError, IllegalTransition
from app.domain.intents import (
    INTENT_TRANSITIONS,
    MERCHANT_CANCELABLE,
    REFUND_TRANSITIONS,
    IntentStatus,
    RefundStatus,
    is_terminal,
    next_intent_status,
    next_refund_status,
)

S = IntentStatus
R = RefundStatus

# Written out independently of app/domain/intents.py, from ../shared/DESIGN.md's status table.
ALLOWED_INTENT: set[tuple[IntentStatus, IntentStatus]] = {
    (S.PENDING, S.PROCESSING),
    (S.PENDING, S.FAILED),
    (S.PENDING, S.CANCELED),
    (S.PROCESSING, S.REQUIRES_ACTION),
    (S.PROCESSING, S.REQUIRES_CAPTURE),
    (S.PROCESSING, S.SUCCEEDED),
    (S.PROCESSING, S.FAILED),
    (S.PROCESSING, S.CANCELED),
    (S.REQUIRES_ACTION, S.PROCESSING),
    (S.REQUIRES_ACTION, S.SUCCEEDED),
    (S.REQUIRES_ACTION, S.FAILED),
    (S.REQUIRES_ACTION, S.CANCELED),
    (S.REQUIRES_CAPTURE, S.PROCESSING),
    (S.REQUIRES_CAPTURE, S.SUCCEEDED),
    (S.REQUIRES_CAPTURE, S.FAILED),
    (S.REQUIRES_CAPTURE, S.CANCELED),
}
ALLOWED_REFUND: set[tuple[RefundStatus, RefundStatus]] = {
    (R.PENDING, R.SUCCEEDED),
    (R.PENDING, R.FAILED),
}
TERMINAL = [S.SUCCEEDED, S.FAILED, S.CANCELED]
NON_TERMINAL = [S.PENDING, S.PROCESSING, S.REQUIRES_ACTION, S.REQUIRES_CAPTURE]


def test_status_values_match_design() -> None:
    assert [s.value for s in IntentStatus] == [
        "pending",
        "processing",
        "requires_action",
        "requires_capture",
        "succeeded",
        "failed",
        "canceled",
    ]
    assert [s.value for s in RefundStatus] == ["pending", "succeeded", "failed"]


def test_intent_table_has_every_status_and_only_the_expected_edges() -> None:
    assert set(INTENT_TRANSITIONS) == set(IntentStatus)
    edges = {(src, dst) for src, targets in INTENT_TRANSITIONS.items() for dst in targets}
    assert edges == ALLOWED_INTENT


@pytest.mark.parametrize(("current", "target"), list(itertools.product(IntentStatus, IntentStatus)))
def test_every_intent_pair(current: IntentStatus, target: IntentStatus) -> None:
    if (current, target) in ALLOWED_INTENT:
        assert next_intent_status(current, target) is target
    else:
        with pytest.raises(IllegalTransition) as caught:
            next_intent_status(current, target)
        assert caught.value.code == "unexpected_state"
        assert str(current) in caught.value.message
        assert str(target) in caught.value.message


@pytest.mark.parametrize("status", TERMINAL)
def test_terminal_statuses_have_no_exits(status: IntentStatus) -> None:
    assert is_terminal(status)
    assert INTENT_TRANSITIONS[status] == frozenset()
    for target in IntentStatus:
        with pytest.raises(IllegalTransition):
            next_intent_status(status, target)


@pytest.mark.parametrize("status", NON_TERMINAL)
def test_non_terminal_statuses_can_still_end(status: IntentStatus) -> None:
    assert not is_terminal(status)
    # Every live intent can still fail or be canceled.
    assert {S.FAILED, S.CANCELED} <= INTENT_TRANSITIONS[status]


def test_illegal_transition_is_a_conflict() -> None:
    assert issubclass(IllegalTransition, ConflictError)


def test_merchant_cancelable_contents() -> None:
    assert frozenset({S.PENDING, S.REQUIRES_ACTION, S.REQUIRES_CAPTURE}) == MERCHANT_CANCELABLE
    # No cancel while a gateway call is in flight, nor after the end.
    assert S.PROCESSING not in MERCHANT_CANCELABLE
    assert not MERCHANT_CANCELABLE & set(TERMINAL)


@pytest.mark.parametrize("status", sorted(MERCHANT_CANCELABLE))
def test_merchant_cancelable_statuses_may_go_to_canceled(status: IntentStatus) -> None:
    assert next_intent_status(status, S.CANCELED) is S.CANCELED


def test_refund_table() -> None:
    assert set(REFUND_TRANSITIONS) == set(RefundStatus)
    edges = {(src, dst) for src, targets in REFUND_TRANSITIONS.items() for dst in targets}
    assert edges == ALLOWED_REFUND


@pytest.mark.parametrize(("current", "target"), list(itertools.product(RefundStatus, RefundStatus)))
def test_every_refund_pair(current: RefundStatus, target: RefundStatus) -> None:
    if (current, target) in ALLOWED_REFUND:
        assert next_refund_status(current, target) is target
    else:
        with pytest.raises(IllegalTransition) as caught:
            next_refund_status(current, target)
        assert caught.value.code == "unexpected_state"
