"""The matcher: each category, the window's edges and its tolerance, duplicates."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from app.domain.reconciliation import OurRecord, RecordKind, Window, reconcile
from app.gateways.port import GatewayName, GatewayRecord

DAY = Window(datetime(2026, 12, 1, 3, tzinfo=UTC), datetime(2026, 12, 2, 3, tzinfo=UTC))
NOON = datetime(2026, 12, 1, 15, tzinfo=UTC)
CHARGE, REFUND, PAYOUT = RecordKind.CHARGE, RecordKind.REFUND, RecordKind.PAYOUT


def ours(
    reference: str, amount: int = 1990, at: datetime = NOON, kind: RecordKind = CHARGE
) -> OurRecord:
    return OurRecord(kind, reference, amount, at, our_id=f"att_{reference}")


def theirs(
    reference: str, amount: int = 1990, at: datetime = NOON, kind: RecordKind = CHARGE
) -> GatewayRecord:
    return GatewayRecord(GatewayName.MERCADOPAGO, kind, reference, amount, "approved", True, at)


def test_records_alike_on_both_sides_match_and_the_day_is_clean() -> None:
    result = reconcile(
        DAY,
        [ours("1"), ours("r1", 500, kind=REFUND)],
        [
            theirs("1"),
            theirs("r1", 500, kind=REFUND),
        ],
    )

    assert sorted((p.ours.reference, p.theirs.reference) for p in result.matched) == [
        ("1", "1"),
        ("r1", "r1"),
    ]
    assert result.clean
    assert result.summary.matched == 2
    assert result.summary.difference == 0


def test_payouts_match_by_id_envio_and_amount_apart_from_charges() -> None:
    result = reconcile(
        DAY,
        [ours("env1", 1234, kind=PAYOUT), ours("env2", 500, kind=PAYOUT), ours("env3")],
        [theirs("env1", 1234, kind=PAYOUT), theirs("env2", 501, kind=PAYOUT), theirs("env3")],
    )

    assert sorted((p.ours.kind, p.ours.reference) for p in result.matched) == [
        (CHARGE, "env3"),
        (PAYOUT, "env1"),
    ]
    assert [p.ours.reference for p in result.amount_mismatch] == ["env2"]
    assert not result.clean


def test_a_payout_and_a_charge_of_one_reference_are_not_twins() -> None:
    result = reconcile(DAY, [ours("x", kind=PAYOUT)], [theirs("x", kind=CHARGE)])

    assert [r.kind for r in result.missing_theirs] == [PAYOUT]
    assert [r.kind for r in result.missing_ours] == [CHARGE]


def test_a_record_only_the_gateway_has_is_missing_ours() -> None:
    result = reconcile(DAY, [], [theirs("1", 700)])

    assert [r.reference for r in result.missing_ours] == ["1"]
    assert not result.clean
    assert result.summary.difference == 700


def test_a_record_only_we_have_is_missing_theirs() -> None:
    result = reconcile(DAY, [ours("1", 700)], [])

    assert [r.reference for r in result.missing_theirs] == ["1"]
    assert not result.clean
    assert result.summary.difference == -700


def test_amounts_that_differ_by_a_centavo_are_a_mismatch() -> None:
    result = reconcile(DAY, [ours("1", 1990)], [theirs("1", 1989)])

    [pair] = result.amount_mismatch
    assert (pair.ours.amount, pair.theirs.amount) == (1990, 1989)
    assert not result.matched
    assert not result.clean
    assert result.summary.difference == -1


def test_a_charge_and_a_refund_with_one_reference_are_not_each_other() -> None:
    result = reconcile(DAY, [ours("1", kind=CHARGE)], [theirs("1", kind=REFUND)])

    assert [r.kind for r in result.missing_theirs] == [CHARGE]
    assert [r.kind for r in result.missing_ours] == [REFUND]


def test_a_twin_just_past_the_window_still_matches_and_belongs_to_the_gateways_day() -> None:
    late = DAY.end + timedelta(minutes=2)  # paid two minutes after midnight
    before_midnight = DAY.end - timedelta(minutes=1)

    today = reconcile(DAY, [ours("1", at=before_midnight)], [theirs("1", at=late)])
    tomorrow = reconcile(
        Window(DAY.end, DAY.end + timedelta(days=1)),
        [ours("1", at=before_midnight)],
        [theirs("1", at=late)],
    )

    assert today.clean
    assert not today.matched
    assert today.outside_window == 1
    assert tomorrow.clean
    assert len(tomorrow.matched) == 1


def test_a_twin_beyond_the_tolerance_is_missing_on_the_day_that_cannot_see_it() -> None:
    far = DAY.end + DAY.tolerance + timedelta(seconds=1)
    before_midnight = DAY.end - timedelta(minutes=1)

    today = reconcile(DAY, [ours("1", at=before_midnight)], [theirs("1", at=far)])
    tomorrow = reconcile(
        Window(DAY.end, DAY.end + timedelta(days=1)),
        [ours("1", at=before_midnight)],
        [theirs("1", at=far)],
    )

    assert [r.reference for r in today.missing_theirs] == ["1"]
    assert len(tomorrow.matched) == 1


def test_unmatched_records_of_the_margin_are_left_to_their_own_day() -> None:
    margin = DAY.start - timedelta(minutes=30)

    result = reconcile(DAY, [ours("1", at=margin)], [theirs("2", at=margin)])

    assert result.clean
    assert result.outside_window == 2


def test_a_reference_the_gateway_lists_twice_differently_is_a_duplicate_never_a_match() -> None:
    result = reconcile(DAY, [ours("1")], [theirs("1"), theirs("1", 1000)])

    assert not result.matched
    assert sorted(r.amount for r in result.duplicate_theirs) == [1000, 1990]
    assert [r.reference for r in result.duplicate_ours] == ["1"]
    assert not result.clean
    assert result.summary.duplicates == 3


def test_two_of_our_records_for_one_gateway_reference_are_duplicates() -> None:
    result = reconcile(DAY, [ours("1"), ours("1", at=NOON + timedelta(seconds=1))], [theirs("1")])

    assert len(result.duplicate_ours) == 2
    assert not result.clean


def test_the_same_record_read_twice_counts_once() -> None:
    result = reconcile(DAY, [ours("1")], [theirs("1"), theirs("1")])

    assert len(result.matched) == 1
    assert result.clean


def test_a_window_must_end_after_it_starts() -> None:
    with pytest.raises(ValueError, match="ends after"):
        Window(DAY.end, DAY.start)
