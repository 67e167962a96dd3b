"""The ledger's rules (app/domain/ledger.py) and use cases on the in-memory unit of
work: fees, balanced entries, and what charges and refunds post. What PostgreSQL
enforces (triggers, locks, uniqueness) is in tests/integration/test_ledger.py."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from app.db.models import PaymentIntent, Refund
from app.domain.errors import InvalidRequest
from app.domain.ids import new_id
from app.domain.intents import IntentStatus, PaymentMethodType, RefundStatus
from app.domain.ledger import (
    DEFAULT_PRICING,
    PLATFORM_FEES,
    EntryDraft,
    EntryKind,
    Line,
    MerchantAccount,
    Pricing,
    TransactionStatus,
    TransactionType,
    UnbalancedEntry,
    clearing_account,
    fee_for,
    merchant_account,
)
from app.ledger.service import post_charge, refund_failed, refund_succeeded, reserve_refund
from tests.unit.fakes import FakeUnitOfWork

MERCHANT = "mer_a"
NOW = datetime(2026, 12, 2, 12, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("amount", "pricing", "fee"),
    [
        (10_000, Pricing(99, 0, 0), 99),  # 99.00 exactly
        (50, Pricing(100, 0, 0), 1),  # 0.5 rounds up
        (49, Pricing(100, 0, 0), 0),  # 0.49 rounds down
        (1_990, Pricing(399, 39, 30), 118),  # 79.401 -> 79, + 39
        (30, Pricing(399, 39, 30), 30),  # never more than the amount: net 0
        (0, Pricing(99, 0, 0), 0),
    ],
)
def test_fee_is_fixed_plus_basis_points_rounded_half_up_and_capped(
    amount: int, pricing: Pricing, fee: int
) -> None:
    assert fee_for(amount, pricing) == fee


def test_an_entry_that_does_not_sum_to_zero_is_refused() -> None:
    lines = (Line(PLATFORM_FEES, 10), Line(clearing_account("efi"), -9))
    with pytest.raises(UnbalancedEntry, match="sums to 1"):
        EntryDraft(EntryKind.CHARGE, "pi_x", MERCHANT, False, "BRL", lines)


def _intent(uow: FakeUnitOfWork, method: PaymentMethodType, received: int) -> PaymentIntent:
    intent = PaymentIntent(
        id=new_id("pi"),
        merchant_id=MERCHANT,
        livemode=False,
        amount=received,
        currency="BRL",
        status=IntentStatus.SUCCEEDED,
        method_type=method,
        amount_received=received,
        amount_refunded=0,
    )
    uow.intents.add(intent)
    return intent


def _refund(uow: FakeUnitOfWork, intent: PaymentIntent, amount: int) -> Refund:
    refund = Refund(
        id=new_id("re"),
        merchant_id=MERCHANT,
        payment_intent_id=intent.id,
        livemode=False,
        amount=amount,
        currency="BRL",
        status=RefundStatus.PENDING,
        created_at=NOW,
    )
    uow.refunds.add(refund)
    return refund


async def _balance(uow: FakeUnitOfWork, kind: MerchantAccount) -> int:
    return await uow.ledger.account_balance(merchant_account(MERCHANT, kind), False, "BRL")


def _books_balance(uow: FakeUnitOfWork) -> None:
    for entry in uow.ledger.entries:
        assert sum(line.amount for line in uow.ledger.lines if line.entry_id == entry.id) == 0


async def test_a_card_charge_posts_gross_fee_and_net_pending_for_30_days_once() -> None:
    uow = FakeUnitOfWork()
    intent = _intent(uow, PaymentMethodType.CARD, 1_990)
    posted = await post_charge(uow, intent, "mercadopago", NOW)
    assert posted is not None
    assert (posted.type, posted.amount, posted.fee, posted.net) == ("charge", 1_990, 118, 1_872)
    assert posted.available_on == NOW + timedelta(days=30)
    assert posted.status is TransactionStatus.PENDING
    assert await _balance(uow, MerchantAccount.PENDING) == 1_872
    assert await uow.ledger.account_balance(PLATFORM_FEES, False, "BRL") == 118
    assert await uow.ledger.account_balance(clearing_account("mercadopago"), False, "BRL") == -1_990
    assert await post_charge(uow, intent, "mercadopago", NOW) is None
    assert len(uow.ledger.entries) == 1
    _books_balance(uow)


async def test_a_merchants_own_pricing_wins_over_the_default() -> None:
    uow = FakeUnitOfWork()
    uow.ledger.pricings[(MERCHANT, PaymentMethodType.PIX)] = Pricing(50, 10, 2)
    intent = _intent(uow, PaymentMethodType.PIX, 10_000)
    posted = await post_charge(uow, intent, "efi", NOW)
    assert posted is not None
    assert (posted.fee, posted.available_on) == (60, NOW + timedelta(days=2))
    assert DEFAULT_PRICING[PaymentMethodType.PIX].settlement_delay_days == 0


async def test_a_partial_refund_of_a_pending_charge_is_reserved_then_paid_out() -> None:
    uow = FakeUnitOfWork()
    intent = _intent(uow, PaymentMethodType.PIX, 10_000)
    charge = await post_charge(uow, intent, "efi", NOW)
    refund = _refund(uow, intent, 4_000)
    await reserve_refund(uow, intent, refund)
    taken = await uow.ledger.transaction_for(refund.id, TransactionType.REFUND)
    assert taken is not None
    assert charge is not None
    assert (taken.amount, taken.fee, taken.net) == (-4_000, 0, -4_000)
    # It settles with the charge it came from.
    assert (taken.status, taken.available_on) == (TransactionStatus.PENDING, charge.available_on)
    assert await _balance(uow, MerchantAccount.PENDING) == 9_901 - 4_000
    assert await _balance(uow, MerchantAccount.RESERVED) == 4_000
    await refund_succeeded(uow, refund)
    assert await _balance(uow, MerchantAccount.RESERVED) == 0
    assert await uow.ledger.account_balance(clearing_account("efi"), False, "BRL") == -6_000
    # The fee is not given back on a refund.
    assert await uow.ledger.account_balance(PLATFORM_FEES, False, "BRL") == 99
    _books_balance(uow)


async def test_a_failed_refund_gives_the_reservation_back() -> None:
    uow = FakeUnitOfWork()
    intent = _intent(uow, PaymentMethodType.PIX, 10_000)
    await post_charge(uow, intent, "efi", NOW)
    refund = _refund(uow, intent, 9_901)
    await reserve_refund(uow, intent, refund)
    await refund_failed(uow, refund)
    back = await uow.ledger.transaction_for(refund.id, TransactionType.REFUND_FAILURE)
    assert back is not None
    assert (back.amount, back.net) == (9_901, 9_901)
    assert await _balance(uow, MerchantAccount.PENDING) == 9_901
    assert await _balance(uow, MerchantAccount.RESERVED) == 0
    _books_balance(uow)


async def test_a_refund_the_balance_cannot_cover_is_refused_writing_nothing() -> None:
    uow = FakeUnitOfWork()
    intent = _intent(uow, PaymentMethodType.PIX, 10_000)
    await post_charge(uow, intent, "efi", NOW)
    # The full amount exceeds the charge's net (the fee stays ours) and nothing is available.
    with pytest.raises(InvalidRequest) as refused:
        await reserve_refund(uow, intent, _refund(uow, intent, 10_000))
    assert refused.value.code == "balance_insufficient"
    assert [entry.kind for entry in uow.ledger.entries] == [EntryKind.CHARGE]
    assert len(uow.ledger.transactions) == 1


async def test_a_payment_the_ledger_never_recorded_cannot_be_refunded() -> None:
    uow = FakeUnitOfWork()
    intent = _intent(uow, PaymentMethodType.PIX, 10_000)
    with pytest.raises(InvalidRequest) as refused:
        await reserve_refund(uow, intent, _refund(uow, intent, 100))
    assert refused.value.code == "balance_insufficient"
    assert uow.ledger.entries == []
