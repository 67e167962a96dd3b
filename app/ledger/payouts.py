"""The ledger's side of a payout: its amount reserved from available funds, then paid
out through its gateway or given back, each in the caller's unit of work."""

from __future__ import annotations

from app.db.money_models import Payout
from app.db.uow import UnitOfWork
from app.domain.errors import InvalidRequest
from app.domain.ledger import (
    EntryKind,
    MerchantAccount,
    Movement,
    TransactionStatus,
    TransactionType,
    move_entry,
    paid_out_entry,
)
from app.ledger.service import balance_transaction, ledger_of, move_funds, post_entry


def _payout_movement(payout: Payout, kind: EntryKind) -> Movement:
    return Movement(kind, payout.id, payout.merchant_id, payout.livemode, payout.currency)


async def reserve_payout(uow: UnitOfWork, payout: Payout) -> None:
    """Set the payout's amount aside from available funds under the balance lock, or
    refuse (``balance_insufficient``) writing nothing."""
    movement = _payout_movement(payout, EntryKind.PAYOUT)
    try:
        entry = await move_funds(
            uow, movement, MerchantAccount.AVAILABLE, MerchantAccount.RESERVED, payout.amount
        )
    except InvalidRequest as exc:
        raise InvalidRequest(exc.message, param="amount", code=exc.code) from exc
    if entry is not None:
        await ledger_of(uow).add_transaction(
            balance_transaction(
                entry,
                TransactionType.PAYOUT,
                payout.id,
                (-payout.amount, 0),
                TransactionStatus.AVAILABLE,
                payout.created_at,
            )
        )


async def payout_paid(uow: UnitOfWork, payout: Payout) -> None:
    """The reserved money left through the payout's gateway."""
    movement = _payout_movement(payout, EntryKind.PAYOUT_PAID)
    await post_entry(uow, paid_out_entry(movement, payout.gateway, payout.amount))


async def payout_returned(uow: UnitOfWork, payout: Payout, *, canceled: bool) -> None:
    """The reservation goes back to available: the send was not made, or the payout was
    canceled before it was sent."""
    kind, transaction_type = (
        (EntryKind.PAYOUT_CANCEL, TransactionType.PAYOUT_CANCEL)
        if canceled
        else (EntryKind.PAYOUT_FAILURE, TransactionType.PAYOUT_FAILURE)
    )
    # A credit needs no balance lock (the caller holds the payout's row lock).
    movement = _payout_movement(payout, kind)
    entry = await post_entry(
        uow,
        move_entry(movement, MerchantAccount.RESERVED, MerchantAccount.AVAILABLE, payout.amount),
    )
    if entry is not None:
        await ledger_of(uow).add_transaction(
            balance_transaction(
                entry,
                transaction_type,
                payout.id,
                (payout.amount, 0),
                TransactionStatus.AVAILABLE,
                entry.created_at,
            )
        )
