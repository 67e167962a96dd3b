"""What a gateway view of a charge may do to an intent and its try, and when its money
disagrees with the intent's."""

from __future__ import annotations

import pytest

from app.domain.charge_views import (
    ChargeApplied,
    ChargeMoney,
    IntentMoney,
    capture_pending,
    is_behind,
    judge,
    reconciliation_mismatch,
)
from app.domain.charges import ChargeStatus
from app.domain.intents import IntentStatus

C = ChargeStatus
S = IntentStatus
A = ChargeApplied


def test_a_capture_is_pending_only_while_processing_with_an_amount_asked() -> None:
    assert capture_pending(S.PROCESSING, 3000)
    assert not capture_pending(S.PROCESSING, None)  # the first charge is in flight
    assert not capture_pending(S.SUCCEEDED, 3000)
    assert not capture_pending(S.FAILED, 3000)


@pytest.mark.parametrize(
    ("recorded", "seen"),
    [
        (C.PAID, C.AUTHORIZED),  # captured, then a re-fetch from before the capture
        (C.PAID, C.PROCESSING),
        (C.CANCELED, C.AWAITING_PAYMENT),  # a PIX code we canceled, seen still payable
        (C.AUTHORIZED, C.UNKNOWN),
        (C.REFUNDED, C.PAID),
        (C.CHARGED_BACK, C.DISPUTED),
    ],
)
def test_an_earlier_stage_than_the_try_recorded_is_behind(
    recorded: ChargeStatus, seen: ChargeStatus
) -> None:
    assert is_behind(recorded, seen)


@pytest.mark.parametrize(
    ("recorded", "seen"),
    [
        (None, C.AUTHORIZED),  # the try has no charge yet
        (C.AUTHORIZED, C.AUTHORIZED),
        (C.AUTHORIZED, C.PAID),
        (C.AWAITING_PAYMENT, C.PAID),
        (C.CANCELED, C.PAID),  # a late payment is news, never stale
        (C.DISPUTED, C.PAID),  # a dispute the merchant won
        (C.PAID, C.REFUNDED),
    ],
)
def test_the_same_stage_or_a_later_one_is_news(
    recorded: ChargeStatus | None, seen: ChargeStatus
) -> None:
    assert not is_behind(recorded, seen)


def test_every_charge_status_has_a_stage() -> None:
    for status in ChargeStatus:
        assert not is_behind(status, status)


@pytest.mark.parametrize("seen", [C.AUTHORIZED, C.PROCESSING, C.UNKNOWN, C.AWAITING_PAYMENT])
def test_a_requested_capture_takes_only_its_answer(seen: ChargeStatus) -> None:
    verdict = judge(S.PROCESSING, capture_requested=True, seen=seen)
    assert verdict.target is None
    assert verdict.applied in (A.STALE, A.NOTHING_TO_DO)
    assert judge(S.PROCESSING, True, C.AUTHORIZED).applied is A.STALE


def test_paid_completes_a_requested_capture_and_a_decline_fails_it() -> None:
    assert judge(S.PROCESSING, True, C.PAID).target is S.SUCCEEDED
    assert judge(S.PROCESSING, True, C.DECLINED).target is S.FAILED


def test_the_first_authorization_still_moves_an_intent_being_charged() -> None:
    verdict = judge(S.PROCESSING, capture_requested=False, seen=C.AUTHORIZED)
    assert (verdict.applied, verdict.target) == (A.MOVED, S.REQUIRES_CAPTURE)


@pytest.mark.parametrize("seen", [C.AUTHORIZED, C.AWAITING_PAYMENT])
def test_a_succeeded_intent_never_goes_back(seen: ChargeStatus) -> None:
    for capture_requested in (False, True):
        verdict = judge(S.SUCCEEDED, capture_requested, seen)
        assert (verdict.applied, verdict.target) == (A.STALE, None)


def test_other_answers_keep_their_meaning() -> None:
    assert judge(S.REQUIRES_CAPTURE, False, C.AUTHORIZED).applied is A.ALREADY
    assert judge(S.REQUIRES_CAPTURE, False, C.PAID).target is S.SUCCEEDED
    assert judge(S.CANCELED, False, C.PAID).applied is A.LATE_PAYMENT
    assert judge(S.FAILED, False, C.AUTHORIZED).applied is A.CONFLICT  # a hold to release
    assert judge(S.REQUIRES_ACTION, False, C.REFUNDED).applied is A.NOTHING_TO_DO


def _intent(to_capture: int | None = None, refunded: int = 0) -> IntentMoney:
    return IntentMoney(
        amount=5000, currency="BRL", amount_to_capture=to_capture, amount_refunded=refunded
    )


def _charge(status: ChargeStatus, amount: int, refunded: int = 0) -> ChargeMoney:
    return ChargeMoney(status, amount, amount_paid=None, amount_refunded=refunded)


def test_a_partial_capture_agrees_with_what_was_asked() -> None:
    assert reconciliation_mismatch(_intent(3000), _charge(C.PAID, 3000), late_payment=False) is None
    # The authorization still holds the whole amount until the capture.
    assert (
        reconciliation_mismatch(_intent(3000), _charge(C.AUTHORIZED, 5000), late_payment=False)
        is None
    )


def test_a_capture_of_another_amount_is_a_mismatch() -> None:
    reason = reconciliation_mismatch(_intent(3000), _charge(C.PAID, 5000), late_payment=False)
    assert reason == "charged 5000 but 3000 BRL is what the capture asked for"
    reason = reconciliation_mismatch(_intent(3000), _charge(C.AUTHORIZED, 4000), late_payment=False)
    assert reason == "charged 4000 but 5000 BRL is the intent's amount"


def test_a_payment_of_another_amount_is_a_mismatch() -> None:
    paid_less = ChargeMoney(C.PAID, 5000, amount_paid=4000, amount_refunded=0)
    assert reconciliation_mismatch(_intent(), paid_less, late_payment=False) == (
        "paid 4000 but 5000 BRL is the intent's amount"
    )
    assert reconciliation_mismatch(_intent(), _charge(C.PAID, 5000), late_payment=False) is None


def test_refunds_agree_up_to_what_pixwave_refunded() -> None:
    partly = _charge(C.PAID, 3000, refunded=1000)
    assert reconciliation_mismatch(_intent(3000, refunded=1000), partly, late_payment=False) is None
    fully = _charge(C.REFUNDED, 3000, refunded=3000)
    assert reconciliation_mismatch(_intent(3000, refunded=3000), fully, late_payment=False) is None
    assert reconciliation_mismatch(_intent(3000, refunded=1000), fully, late_payment=False) == (
        "refunded 3000 but PixWave refunded 1000 BRL"
    )


def test_a_late_payment_refund_is_not_the_intents() -> None:
    returned = _charge(C.REFUNDED, 5000, refunded=5000)
    assert reconciliation_mismatch(_intent(), returned, late_payment=True) is None
