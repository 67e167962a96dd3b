"""The ledger's answers: the balance and balance transactions, Stripe-shaped."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel
from typing_extensions import TypedDict

from app.db.money_models import BalanceTransaction
from app.domain.ledger import Balance, MerchantAccount, TransactionStatus, TransactionType
from app.encoding import epoch


class AmountOut(TypedDict):
    amount: int
    currency: str


class BalanceOut(TypedDict):
    object: Literal["balance"]
    livemode: bool
    available: list[AmountOut]
    pending: list[AmountOut]
    reserved: list[AmountOut]


class BalanceTransactionOut(TypedDict):
    id: str
    object: Literal["balance_transaction"]
    type: TransactionType
    amount: int
    fee: int
    net: int
    currency: str
    source: str
    status: TransactionStatus
    available_on: int
    created: int
    livemode: bool


class BalanceTransactionList(BaseModel):
    object: Literal["list"]
    url: str
    has_more: bool
    data: list[BalanceTransactionOut]


def _amounts(balance: Balance, kind: MerchantAccount) -> list[AmountOut]:
    by_currency = balance.amounts.get(kind, {})
    return [{"amount": by_currency[c], "currency": c} for c in sorted(by_currency)]


def balance_view(balance: Balance) -> BalanceOut:
    return {
        "object": "balance",
        "livemode": balance.livemode,
        "available": _amounts(balance, MerchantAccount.AVAILABLE),
        "pending": _amounts(balance, MerchantAccount.PENDING),
        "reserved": _amounts(balance, MerchantAccount.RESERVED),
    }


def balance_transaction_view(transaction: BalanceTransaction) -> BalanceTransactionOut:
    return {
        "id": transaction.id,
        "object": "balance_transaction",
        "type": transaction.type,
        "amount": transaction.amount,
        "fee": transaction.fee,
        "net": transaction.net,
        "currency": transaction.currency,
        "source": transaction.source,
        "status": transaction.status,
        "available_on": epoch(transaction.available_on),
        "created": epoch(transaction.created_at),
        "livemode": transaction.livemode,
    }
