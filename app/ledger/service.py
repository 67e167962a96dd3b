"""Use cases of the ledger. Each posting runs in the caller's unit of work, so an entry
commits with the state change and the outbox event it records, or not at all."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from loguru import logger

from app.db.models import PaymentIntent, Refund
from app.db.money_models import BalanceTransaction, LedgerEntry, LedgerLine
from app.db.uow import UnitOfWork, UnitOfWorkFactory
from app.domain.caller import Caller
from app.domain.errors import InvalidRequest, NotFound
from app.domain.events import Aggregate, EventType
from app.domain.ids import looks_like_id, new_id
from app.domain.intents import PaymentMethodType, RefundStatus
from app.domain.ledger import (
    DEFAULT_PRICING,
    Balance,
    EntryDraft,
    EntryKind,
    MerchantAccount,
    Movement,
    Pricing,
    TransactionStatus,
    TransactionType,
    account_of,
    charge_entry,
    fee_for,
    merchant_account,
    move_entry,
    paid_out_entry,
    refund_entry,
    refund_failure_entry,
    refund_fee_share,
)
from app.ledger.repository import BalanceGroup, LedgerRepository

BALANCE_INSUFFICIENT = "balance_insufficient"


def ledger_of(uow: UnitOfWork) -> LedgerRepository:
    return uow.repository(LedgerRepository)


async def post_entry(uow: UnitOfWork, draft: EntryDraft) -> LedgerEntry | None:
    """Write a balanced entry, or nothing (None) if its (kind, source) was posted already."""
    ledger = ledger_of(uow)
    if await ledger.has_entry(draft.kind, draft.source_id):
        return None
    entry = LedgerEntry(
        id=new_id("le"),
        merchant_id=draft.merchant_id,
        livemode=draft.livemode,
        kind=draft.kind,
        source_id=draft.source_id,
        currency=draft.currency,
        created_at=datetime.now(UTC),
    )
    lines = [
        LedgerLine(
            entry_id=entry.id,
            account=line.account,
            merchant_id=line.merchant_id,
            livemode=draft.livemode,
            currency=draft.currency,
            amount=line.amount,
        )
        for line in draft.lines
    ]
    await ledger.add_entry(entry, lines)
    return entry


async def lock_balance(uow: UnitOfWork, merchant_id: str, livemode: bool, currency: str) -> None:
    """Hold the merchant's balance in that mode and currency until the unit ends: take it
    before checking that an account covers a debit and posting the debit."""
    await ledger_of(uow).lock_balance(merchant_id, livemode, currency)


async def account_balance(
    uow: UnitOfWork, merchant_id: str, livemode: bool, currency: str, kind: MerchantAccount
) -> int:
    return await ledger_of(uow).account_balance(
        merchant_account(merchant_id, kind), livemode, currency
    )


async def move_funds(
    uow: UnitOfWork,
    movement: Movement,
    source: MerchantAccount,
    target: MerchantAccount,
    amount: int,
) -> LedgerEntry | None:
    """Move ``amount`` between two of a merchant's accounts (available to reserved for a
    payout, and back), refusing if ``source`` cannot cover it. Takes the balance lock."""
    await lock_balance(uow, movement.merchant_id, movement.livemode, movement.currency)
    held = await account_balance(
        uow, movement.merchant_id, movement.livemode, movement.currency, source
    )
    if held < amount:
        raise InvalidRequest(
            f"The {source.value} balance ({held}) does not cover {amount}.",
            code=BALANCE_INSUFFICIENT,
        )
    return await post_entry(uow, move_entry(movement, source, target, amount))


async def pricing_for(uow: UnitOfWork, merchant_id: str, method: PaymentMethodType) -> Pricing:
    return await ledger_of(uow).pricing(merchant_id, method) or DEFAULT_PRICING[method]


def balance_transaction(
    entry: LedgerEntry,
    kind: TransactionType,
    source: str,
    amounts: tuple[int, int],
    status: TransactionStatus,
    available_on: datetime,
) -> BalanceTransaction:
    amount, fee = amounts
    return BalanceTransaction(
        id=new_id("txn"),
        merchant_id=entry.merchant_id,
        livemode=entry.livemode,
        type=kind,
        amount=amount,
        fee=fee,
        net=amount - fee,
        currency=entry.currency,
        source=source,
        status=status,
        available_on=available_on,
        entry_id=entry.id,
        created_at=entry.created_at,
    )


async def post_charge(
    uow: UnitOfWork, intent: PaymentIntent, gateway: str, captured_at: datetime
) -> BalanceTransaction | None:
    """The payment's money arrived through ``gateway``: its net is pending until the
    method's settlement delay, the fee is ours. Once per intent (None the next time)."""
    method = PaymentMethodType(intent.method_type)
    pricing = await pricing_for(uow, intent.merchant_id, method)
    gross = intent.amount_received
    fee = fee_for(gross, pricing)
    movement = Movement(
        EntryKind.CHARGE, intent.id, intent.merchant_id, intent.livemode, intent.currency
    )
    entry = await post_entry(uow, charge_entry(movement, gateway, gross, fee))
    if entry is None:
        return None
    available_on = captured_at + timedelta(days=pricing.settlement_delay_days)
    transaction = balance_transaction(
        entry,
        TransactionType.CHARGE,
        intent.id,
        (gross, fee),
        TransactionStatus.PENDING,
        available_on,
    )
    await ledger_of(uow).add_transaction(transaction)
    return transaction


def _refund_movement(refund: Refund, kind: EntryKind) -> Movement:
    return Movement(kind, refund.id, refund.merchant_id, refund.livemode, refund.currency)


async def _refund_source(
    uow: UnitOfWork, charge: BalanceTransaction, refund: Refund, merchant_part: int
) -> tuple[MerchantAccount, datetime]:
    """Where a refund's money comes from, and when its transaction is due: the payment's
    own pending funds while they cover it (then it settles with them), else available
    funds, else other pending funds (due at once, so they settle at the next run)."""
    if charge.status is TransactionStatus.PENDING and (
        await ledger_of(uow).pending_for_payment(charge.source) >= merchant_part
    ):
        return MerchantAccount.PENDING, charge.available_on
    for account in (MerchantAccount.AVAILABLE, MerchantAccount.PENDING):
        held = await account_balance(
            uow, refund.merchant_id, refund.livemode, refund.currency, account
        )
        if held >= merchant_part:
            return account, refund.created_at
    raise InvalidRequest(
        "The merchant's balance does not cover this refund.",
        param="amount",
        code=BALANCE_INSUFFICIENT,
    )


async def _fee_back(uow: UnitOfWork, charge: BalanceTransaction, refund: Refund) -> int:
    """The share of the payment's fee this refund gives back (refund_fee_share)."""
    refunded, returned = await ledger_of(uow).refunded_of_payment(charge.source)
    share = refund_fee_share(charge.fee, charge.amount, refunded + refund.amount)
    return share - returned


async def reserve_refund(uow: UnitOfWork, intent: PaymentIntent, refund: Refund) -> None:
    """Set the refund's amount aside, the merchant's part from its funds and the fee's
    share from ours, under the balance lock; or refuse (``balance_insufficient``)
    writing nothing."""
    ledger = ledger_of(uow)
    charge = await ledger.transaction_for(intent.id, TransactionType.CHARGE)
    if charge is None:
        raise InvalidRequest(
            "The ledger has no record of this payment's funds.",
            param="payment_intent",
            code=BALANCE_INSUFFICIENT,
        )
    await lock_balance(uow, refund.merchant_id, refund.livemode, refund.currency)
    fee_back = await _fee_back(uow, charge, refund)
    source, available_on = await _refund_source(uow, charge, refund, refund.amount - fee_back)
    movement = _refund_movement(refund, EntryKind.REFUND)
    entry = await post_entry(uow, refund_entry(movement, source, refund.amount, fee_back))
    if entry is not None:
        status = TransactionStatus(source.value)
        amounts = (-refund.amount, -fee_back)
        await ledger.add_transaction(
            balance_transaction(
                entry, TransactionType.REFUND, refund.id, amounts, status, available_on
            )
        )


async def refund_succeeded(uow: UnitOfWork, refund: Refund) -> None:
    """The reserved money left through the gateway that took the payment."""
    ledger = ledger_of(uow)
    clearing = await ledger.clearing_account_of(refund.payment_intent_id)
    if clearing is None or await ledger.transaction_for(refund.id, TransactionType.REFUND) is None:
        logger.warning("ledger.refund_unposted", refund=refund.id)
        return
    gateway = clearing.split(":")[1]
    movement = _refund_movement(refund, EntryKind.REFUND_SUCCESS)
    await post_entry(uow, paid_out_entry(movement, gateway, refund.amount))


async def refund_failed(uow: UnitOfWork, refund: Refund) -> None:
    """The reservation goes back where the refund took it from (or, if that settled
    meanwhile, to available), and the fee's share it gave back returns to us."""
    # A credit needs no balance lock (and the caller holds the intent's row lock, which
    # create_refund takes after the balance lock: taking both here could deadlock).
    ledger = ledger_of(uow)
    taken = await ledger.transaction_for(refund.id, TransactionType.REFUND)
    if taken is None:
        logger.warning("ledger.refund_unposted", refund=refund.id)
        return
    movement = _refund_movement(refund, EntryKind.REFUND_FAILURE)
    target = account_of(taken.status)
    fee_back = -taken.fee
    entry = await post_entry(uow, refund_failure_entry(movement, target, refund.amount, fee_back))
    if entry is not None:
        await ledger.add_transaction(
            balance_transaction(
                entry,
                TransactionType.REFUND_FAILURE,
                refund.id,
                (refund.amount, fee_back),
                taken.status,
                taken.available_on,
            )
        )


async def balance_of(uow: UnitOfWork, merchant_id: str, livemode: bool) -> Balance:
    """What the merchant's entries say it holds, per account and currency."""
    amounts: dict[MerchantAccount, dict[str, int]] = defaultdict(dict)
    prefix = merchant_account(merchant_id, MerchantAccount.PENDING).rsplit(":", 1)[0] + ":"
    for account, currency, total in await ledger_of(uow).merchant_balances(merchant_id, livemode):
        amounts[MerchantAccount(account.removeprefix(prefix))][currency] = total
    return Balance(livemode, dict(amounts))


async def get_transaction(uow: UnitOfWork, caller: Caller, txn_id: str) -> BalanceTransaction:
    transaction = None
    if looks_like_id("txn", txn_id):
        transaction = await ledger_of(uow).get_transaction(caller.merchant_id, txn_id)
    if transaction is None or transaction.livemode != caller.livemode:
        raise NotFound(f"No such balance transaction: {txn_id!r}", param="id")
    return transaction


async def settle_balance(uow: UnitOfWork, group: BalanceGroup, now: datetime) -> int:
    """Make one balance's funds due by ``now`` available: one settlement entry for their
    sum, each transaction flipped once, and ``balance.available``. How many settled."""
    merchant_id, livemode, currency = group
    await lock_balance(uow, merchant_id, livemode, currency)
    due = await ledger_of(uow).due_transactions(group, now)
    total = sum(transaction.net for transaction in due)
    available = await account_balance(
        uow, merchant_id, livemode, currency, MerchantAccount.AVAILABLE
    )
    if not due or available + total < 0:
        # Refunds drawn on funds not yet due: they wait for those funds to settle.
        return 0
    # Each run's settlement is its own source; the flip of each transaction, under its
    # row lock, is what makes funds settle once.
    movement = Movement(EntryKind.SETTLEMENT, new_id("le"), merchant_id, livemode, currency)
    entry = await post_entry(
        uow, move_entry(movement, MerchantAccount.PENDING, MerchantAccount.AVAILABLE, total)
    )
    assert entry is not None
    for transaction in due:
        transaction.status = TransactionStatus.AVAILABLE
    if total > 0:
        await _announce_available(uow, group, entry.id, total, len(due))
    return len(due)


async def _announce_available(
    uow: UnitOfWork, group: BalanceGroup, entry_id: str, amount: int, transactions: int
) -> None:
    merchant_id, livemode, currency = group
    await uow.outbox.add_event(
        event_type=EventType.BALANCE_AVAILABLE,
        merchant_id=merchant_id,
        livemode=livemode,
        aggregate=Aggregate("balance_settlement", entry_id, 1),
        data_object={
            "object": "balance_settlement",
            "id": entry_id,
            "livemode": livemode,
            "available": [{"amount": amount, "currency": currency}],
            "balance_transactions": transactions,
        },
    )


async def settle_due_balances(
    new_uow: UnitOfWorkFactory, now: datetime, limit: int, *, test_only: bool = False
) -> int:
    """Settle up to ``limit`` balances with funds due by ``now``, each in a transaction
    of its own: how many balances settled. A rerun settles only what is newly due."""
    async with new_uow() as uow:
        groups = await uow.repository(LedgerRepository).balances_due(
            now, limit, test_only=test_only
        )
    settled = 0
    for group in groups:
        async with new_uow() as uow:
            settled += await settle_balance(uow, group, now) > 0
            await uow.commit()
    return settled


@dataclass(frozen=True)
class Backfilled:
    charges: int
    refunds: int
    refused: list[str]


async def backfill(uow: UnitOfWork, limit: int) -> Backfilled:
    """Post payments made before the ledger, then their refunds, by the same functions
    as live ones (so a second run posts nothing again); lists the refunds the books
    refused (the merchant's balance did not cover them)."""
    ledger = ledger_of(uow)
    payments = await ledger.unposted_payments(limit)
    for intent, gateway in payments:
        await post_charge(uow, intent, gateway, intent.updated_at)
    await uow.flush()
    refused, posted = [], 0
    for refund, intent in await ledger.unposted_refunds(limit):
        try:
            await backfill_refund(uow, intent, refund)
            posted += 1
        except InvalidRequest:
            refused.append(refund.id)
    return Backfilled(len(payments), posted, refused)


async def backfill_refund(uow: UnitOfWork, intent: PaymentIntent, refund: Refund) -> None:
    await reserve_refund(uow, intent, refund)
    if refund.status is RefundStatus.SUCCEEDED:
        await refund_succeeded(uow, refund)
    elif refund.status is RefundStatus.FAILED:
        await refund_failed(uow, refund)


async def check_books(uow: UnitOfWork) -> list[str]:
    """What is wrong with the books, if anything: entries that do not sum to zero per
    currency, merchant accounts below zero."""
    ledger = ledger_of(uow)
    problems = [
        f"entry {entry} does not sum to zero" for entry in await ledger.unbalanced_entries()
    ]
    problems += [
        f"{account} ({'live' if live else 'test'} {currency}) is {amount}"
        for account, live, currency, amount in await ledger.negative_merchant_accounts()
    ]
    return problems
