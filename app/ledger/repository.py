"""Queries of the ledger: entries and lines (insert only), balance transactions, fee
schedules, balances summed from lines, and the settlement's and backfill's work lists."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import func, or_, select, text
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from app.db.models import PaymentAttempt, PaymentIntent, Refund
from app.db.money_models import BalanceTransaction, FeeSchedule, LedgerEntry, LedgerLine
from app.domain.charges import ChargeStatus
from app.domain.intents import IntentStatus, PaymentMethodType
from app.domain.ledger import EntryKind, Pricing, TransactionStatus, TransactionType

# One balance's lock: pg_advisory_xact_lock(namespace, hashtext(merchant:mode:currency)).
_BALANCE_LOCK_NAMESPACE = 7_302_001
_MONEY_TAKEN = (ChargeStatus.PAID.value, ChargeStatus.REFUNDED.value)

BalanceGroup = tuple[str, bool, str]
"""merchant_id, livemode, currency: one balance, locked and settled as a whole."""


class LedgerRepository:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def lock_balance(self, merchant_id: str, livemode: bool, currency: str) -> None:
        """Hold one balance until the transaction ends: checks and postings on it queue."""
        await self._session.execute(
            text("SELECT pg_advisory_xact_lock(:namespace, hashtext(:balance))"),
            {
                "namespace": _BALANCE_LOCK_NAMESPACE,
                "balance": f"{merchant_id}:{livemode}:{currency}",
            },
        )

    async def has_entry(self, kind: EntryKind, source_id: str) -> bool:
        found = await self._session.execute(
            select(LedgerEntry.id).where(
                LedgerEntry.kind == kind.value, LedgerEntry.source_id == source_id
            )
        )
        return found.first() is not None

    async def add_entry(self, entry: LedgerEntry, lines: list[LedgerLine]) -> None:
        """Written at once (sessions do not autoflush): the sums that follow see it."""
        self._session.add(entry)
        self._session.add_all(lines)
        await self._session.flush()

    async def add_transaction(self, transaction: BalanceTransaction) -> None:
        self._session.add(transaction)
        await self._session.flush()

    async def account_balance(self, account: str, livemode: bool, currency: str) -> int:
        total = await self._session.scalar(
            select(func.coalesce(func.sum(LedgerLine.amount), 0)).where(
                LedgerLine.account == account,
                LedgerLine.livemode == livemode,
                LedgerLine.currency == currency,
            )
        )
        return int(total or 0)

    async def merchant_balances(
        self, merchant_id: str, livemode: bool
    ) -> list[tuple[str, str, int]]:
        """(account, currency, balance) of every account of the merchant in that mode."""
        rows = await self._session.execute(
            select(LedgerLine.account, LedgerLine.currency, func.sum(LedgerLine.amount))
            .where(LedgerLine.merchant_id == merchant_id, LedgerLine.livemode == livemode)
            .group_by(LedgerLine.account, LedgerLine.currency)
            .order_by(LedgerLine.currency)
        )
        return [(account, currency, int(total)) for account, currency, total in rows]

    async def transaction_for(
        self, source: str, kind: TransactionType
    ) -> BalanceTransaction | None:
        return (
            await self._session.execute(
                select(BalanceTransaction).where(
                    BalanceTransaction.source == source, BalanceTransaction.type == kind.value
                )
            )
        ).scalar_one_or_none()

    async def pending_for_payment(self, intent_id: str) -> int:
        """What a payment's charge still holds in pending: its net less the refunds
        taken from it (they settle with it), plus those that failed back into it."""
        refunds = select(Refund.id).where(Refund.payment_intent_id == intent_id)
        total = await self._session.scalar(
            select(func.coalesce(func.sum(BalanceTransaction.net), 0)).where(
                BalanceTransaction.status == TransactionStatus.PENDING.value,
                or_(BalanceTransaction.source == intent_id, BalanceTransaction.source.in_(refunds)),
            )
        )
        return int(total or 0)

    async def refunded_of_payment(self, intent_id: str) -> tuple[int, int]:
        """How much of a payment its refunds hold (reserved or made, failures given
        back) and how much of its fee they gave back, from their balance transactions."""
        refunds = select(Refund.id).where(Refund.payment_intent_id == intent_id)
        row = (
            await self._session.execute(
                select(
                    func.coalesce(func.sum(BalanceTransaction.amount), 0),
                    func.coalesce(func.sum(BalanceTransaction.fee), 0),
                ).where(BalanceTransaction.source.in_(refunds))
            )
        ).one()
        return -int(row[0]), -int(row[1])

    async def clearing_account_of(self, intent_id: str) -> str | None:
        """The gateway clearing account the payment's charge entry took the money into."""
        return await self._session.scalar(
            select(LedgerLine.account)
            .join(LedgerEntry, LedgerEntry.id == LedgerLine.entry_id)
            .where(
                LedgerEntry.kind == EntryKind.CHARGE.value,
                LedgerEntry.source_id == intent_id,
                LedgerLine.account.like("gateway:%"),
            )
        )

    async def pricing(self, merchant_id: str, method: PaymentMethodType) -> Pricing | None:
        """The merchant's own schedule for the method, else the platform's row, if any."""
        row = (
            await self._session.execute(
                select(FeeSchedule)
                .where(
                    FeeSchedule.method == method.value,
                    or_(FeeSchedule.merchant_id == merchant_id, FeeSchedule.merchant_id.is_(None)),
                )
                .order_by(FeeSchedule.merchant_id.is_(None))
                .limit(1)
            )
        ).scalar_one_or_none()
        if row is None:
            return None
        return Pricing(row.basis_points, row.fixed_amount, row.settlement_delay_days)

    async def set_pricing(
        self, merchant_id: str | None, method: PaymentMethodType, pricing: Pricing
    ) -> None:
        values = {
            "basis_points": pricing.basis_points,
            "fixed_amount": pricing.fixed_amount,
            "settlement_delay_days": pricing.settlement_delay_days,
            "updated_at": func.now(),
        }
        statement = insert(FeeSchedule).values(
            merchant_id=merchant_id, method=method.value, **values
        )
        if merchant_id is None:
            statement = statement.on_conflict_do_update(
                index_elements=["method"], index_where=text("merchant_id IS NULL"), set_=values
            )
        else:
            statement = statement.on_conflict_do_update(
                index_elements=["merchant_id", "method"], set_=values
            )
        await self._session.execute(statement)

    async def get_transaction(self, merchant_id: str, txn_id: str) -> BalanceTransaction | None:
        return (
            await self._session.execute(
                select(BalanceTransaction).where(
                    BalanceTransaction.id == txn_id, BalanceTransaction.merchant_id == merchant_id
                )
            )
        ).scalar_one_or_none()

    async def list_transactions(
        self,
        merchant_id: str,
        *,
        livemode: bool,
        kind: TransactionType | None,
        source: str | None,
        starting_after: str | None,
        limit: int,
    ) -> list[BalanceTransaction]:
        query = select(BalanceTransaction).where(
            BalanceTransaction.merchant_id == merchant_id, BalanceTransaction.livemode == livemode
        )
        if kind is not None:
            query = query.where(BalanceTransaction.type == kind.value)
        if source is not None:
            query = query.where(BalanceTransaction.source == source)
        if starting_after is not None:
            query = query.where(BalanceTransaction.id < starting_after)
        result = await self._session.execute(
            query.order_by(BalanceTransaction.id.desc()).limit(limit)
        )
        return list(result.scalars())

    async def balances_due(
        self, now: datetime, limit: int, *, test_only: bool = False
    ) -> list[BalanceGroup]:
        """Balances with pending funds due by ``now`` (in test mode only, if asked)."""
        query = (
            select(
                BalanceTransaction.merchant_id,
                BalanceTransaction.livemode,
                BalanceTransaction.currency,
            )
            .where(
                BalanceTransaction.status == TransactionStatus.PENDING.value,
                BalanceTransaction.available_on <= now,
            )
            .distinct()
            .limit(limit)
        )
        if test_only:
            query = query.where(BalanceTransaction.livemode.is_(False))
        rows = await self._session.execute(query)
        return [(merchant, livemode, currency) for merchant, livemode, currency in rows]

    async def due_transactions(
        self, group: BalanceGroup, now: datetime
    ) -> list[BalanceTransaction]:
        """Every pending transaction of one balance due by ``now``, row-locked."""
        merchant_id, livemode, currency = group
        result = await self._session.execute(
            select(BalanceTransaction)
            .where(
                BalanceTransaction.merchant_id == merchant_id,
                BalanceTransaction.livemode == livemode,
                BalanceTransaction.currency == currency,
                BalanceTransaction.status == TransactionStatus.PENDING.value,
                BalanceTransaction.available_on <= now,
            )
            .order_by(BalanceTransaction.id)
            .with_for_update()
        )
        return list(result.scalars())

    async def unposted_payments(self, limit: int) -> list[tuple[PaymentIntent, str]]:
        """Succeeded intents with no charge entry, and the gateway whose try took the
        money (the last paid try that was not a late payment), oldest first."""
        paid_gateway = (
            select(PaymentAttempt.gateway)
            .where(
                PaymentAttempt.payment_intent_id == PaymentIntent.id,
                PaymentAttempt.charge_status.in_(_MONEY_TAKEN),
                PaymentAttempt.late_payment.is_(None),
            )
            .order_by(PaymentAttempt.created_at.desc())
            .limit(1)
            .scalar_subquery()
        )
        posted = select(LedgerEntry.id).where(
            LedgerEntry.kind == EntryKind.CHARGE.value, LedgerEntry.source_id == PaymentIntent.id
        )
        rows = await self._session.execute(
            select(PaymentIntent, paid_gateway)
            .where(
                PaymentIntent.status == IntentStatus.SUCCEEDED.value,
                ~posted.exists(),
                paid_gateway.is_not(None),
            )
            .order_by(PaymentIntent.created_at)
            .limit(limit)
        )
        return [(intent, gateway) for intent, gateway in rows]

    async def unposted_refunds(self, limit: int) -> list[tuple[Refund, PaymentIntent]]:
        """Refunds with no entry of their own whose payment has its charge entry, with
        their payment, oldest first."""
        posted = select(LedgerEntry.id).where(
            LedgerEntry.kind == EntryKind.REFUND.value, LedgerEntry.source_id == Refund.id
        )
        charged = select(LedgerEntry.id).where(
            LedgerEntry.kind == EntryKind.CHARGE.value,
            LedgerEntry.source_id == Refund.payment_intent_id,
        )
        rows = await self._session.execute(
            select(Refund, PaymentIntent)
            .join(PaymentIntent, PaymentIntent.id == Refund.payment_intent_id)
            .where(~posted.exists(), charged.exists())
            .order_by(Refund.created_at)
            .limit(limit)
        )
        return [(refund, intent) for refund, intent in rows]

    async def unbalanced_entries(self) -> list[str]:
        """Entries whose lines do not sum to zero in some currency (never, if the
        database's trigger holds)."""
        rows = await self._session.execute(
            select(LedgerLine.entry_id)
            .group_by(LedgerLine.entry_id, LedgerLine.currency)
            .having(func.sum(LedgerLine.amount) != 0)
        )
        return list(rows.scalars())

    async def negative_merchant_accounts(self) -> list[tuple[str, bool, str, int]]:
        """(account, livemode, currency, balance) of every merchant account below zero."""
        total = func.sum(LedgerLine.amount)
        rows = await self._session.execute(
            select(LedgerLine.account, LedgerLine.livemode, LedgerLine.currency, total)
            .where(LedgerLine.merchant_id.is_not(None))
            .group_by(LedgerLine.account, LedgerLine.livemode, LedgerLine.currency)
            .having(total < 0)
        )
        return [(a, mode, currency, int(amount)) for a, mode, currency, amount in rows]
