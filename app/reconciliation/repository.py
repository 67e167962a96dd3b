"""Queries of the reconciliation: our side of a gateway's day (the ledger's clearing
lines, with the gateway's reference of each: a charge's paid try, a refund's, a payout's
paid send, and late payments given back off the
books) and the stored runs."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy import case, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from app.db.models import PaymentAttempt, Refund
from app.db.money_models import LedgerEntry, LedgerLine, PayoutAttempt, ReconciliationRun
from app.domain.charges import ChargeStatus, LatePayment
from app.domain.ledger import EntryKind
from app.domain.payouts import SendStatus
from app.domain.reconciliation import RunStatus

_MONEY_TAKEN = (ChargeStatus.PAID.value, ChargeStatus.REFUNDED.value)
# The entries that move money through a gateway's clearing account: a payment taken,
# a refund returned, a payout paid.
_GATEWAY_MOVES = (
    EntryKind.CHARGE.value,
    EntryKind.REFUND_SUCCESS.value,
    EntryKind.PAYOUT_PAID.value,
)


@dataclass(frozen=True, slots=True)
class ClearingMove:
    """One entry on a gateway's clearing account: what moved, for which intent or
    refund, and what the gateway calls it (None when we never stored it)."""

    kind: EntryKind
    source_id: str  # pi_… (a charge), re_… (a refund) or po_… (a payout)
    amount: int  # centavos, positive
    posted_at: datetime
    reference: str | None
    livemode: bool
    charge_reference: str | None  # a refund's: the gateway's id of the charge it returns


@dataclass(frozen=True, slots=True)
class LatePaymentMove:
    """A payment that reached an abandoned try and went back: on the gateway's books
    twice (the charge, its refund), on the ledger never."""

    attempt_id: str
    reference: str  # the charge's
    refund_reference: str | None
    amount: int
    refunded_at: datetime


class ReconciliationRepository:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def clearing_moves(
        self, account: str, start: datetime, end: datetime
    ) -> list[ClearingMove]:
        """Charges, refunds and payouts paid posted on ``account`` in ``[start, end)``,
        any mode."""
        paid_reference = (
            select(PaymentAttempt.gateway_reference)
            .where(
                PaymentAttempt.payment_intent_id == LedgerEntry.source_id,
                PaymentAttempt.charge_status.in_(_MONEY_TAKEN),
                PaymentAttempt.late_payment.is_(None),
            )
            .order_by(PaymentAttempt.number.desc())
            .limit(1)
            .scalar_subquery()
        )
        refund_reference = (
            select(Refund.gateway_reference).where(Refund.id == LedgerEntry.source_id)
        ).scalar_subquery()
        paid_send = (
            select(PayoutAttempt.id_envio).where(
                PayoutAttempt.payout_id == LedgerEntry.source_id,
                PayoutAttempt.status == SendStatus.PAID,
            )
        ).scalar_subquery()
        refunded_charge = (
            select(PaymentAttempt.gateway_reference)
            .join(Refund, Refund.payment_intent_id == PaymentAttempt.payment_intent_id)
            .where(
                Refund.id == LedgerEntry.source_id,
                PaymentAttempt.charge_status.in_(_MONEY_TAKEN),
                PaymentAttempt.late_payment.is_(None),
            )
            .order_by(PaymentAttempt.number.desc())
            .limit(1)
            .scalar_subquery()
        )
        is_charge = LedgerEntry.kind == EntryKind.CHARGE.value
        is_refund = LedgerEntry.kind == EntryKind.REFUND_SUCCESS.value
        reference = case(
            (is_charge, paid_reference), (is_refund, refund_reference), else_=paid_send
        )
        charge_reference = case((is_refund, refunded_charge), else_=None)
        rows = await self._session.execute(
            select(
                LedgerEntry.kind,
                LedgerEntry.source_id,
                LedgerLine.amount,
                LedgerEntry.created_at,
                reference,
                LedgerLine.livemode,
                charge_reference,
            )
            .join(LedgerEntry, LedgerEntry.id == LedgerLine.entry_id)
            .where(
                LedgerLine.account == account,
                LedgerEntry.kind.in_(_GATEWAY_MOVES),
                LedgerEntry.created_at >= start,
                LedgerEntry.created_at < end,
            )
            .order_by(LedgerEntry.created_at)
        )
        return [
            ClearingMove(EntryKind(kind), source, abs(int(amount)), posted, ref, live, charge)
            for kind, source, amount, posted, ref, live, charge in rows
        ]

    async def late_payments_returned(
        self, gateway: str, start: datetime, end: datetime
    ) -> list[LatePaymentMove]:
        """Late payments at ``gateway`` given back in ``[start, end)``."""
        rows = await self._session.execute(
            select(PaymentAttempt).where(
                PaymentAttempt.gateway == gateway,
                PaymentAttempt.late_payment == LatePayment.REFUNDED.value,
                PaymentAttempt.gateway_reference.is_not(None),
                PaymentAttempt.updated_at >= start,
                PaymentAttempt.updated_at < end,
            )
        )
        return [
            LatePaymentMove(
                a.id, str(a.gateway_reference), a.late_refund_reference, a.amount, a.updated_at
            )
            for a in rows.scalars()
        ]

    def add_run(self, run: ReconciliationRun) -> None:
        self._session.add(run)

    async def get_run(self, run_id: str) -> ReconciliationRun | None:
        return await self._session.get(ReconciliationRun, run_id)

    async def settled_or_recent(self, gateway: str, day: date, since: datetime) -> bool:
        """Whether ``gateway``'s ``day`` has a clean run, or any run started since ``since``."""
        found = await self._session.execute(
            select(ReconciliationRun.id).where(
                ReconciliationRun.gateway == gateway,
                ReconciliationRun.day == day,
                or_(
                    ReconciliationRun.status == RunStatus.CLEAN.value,
                    ReconciliationRun.started_at >= since,
                ),
            )
        )
        return found.first() is not None
