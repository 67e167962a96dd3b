"""Queries of intents, their gateway attempts, the scheduler's follow-ups (stuck checks,
payment polls) and gateway callbacks."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Generic, TypeVar, cast

from sqlalchemy import ColumnElement, Table, bindparam, delete, exists, func, or_, select, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from app.db.models import GatewayCallback, PaymentAttempt, PaymentIntent, PaymentPoll, StuckCheck
from app.domain.charges import AttemptOutcome, LatePayment
from app.domain.intents import IntentStatus, PaymentMethodType

# Each intent's reads by the API, the charge worker and its callbacks: built once.
_INTENT = select(PaymentIntent).where(
    PaymentIntent.id == bindparam("intent_id"),
    PaymentIntent.merchant_id == bindparam("merchant_id"),
)
_INTENT_FOR_UPDATE = (
    select(PaymentIntent).where(PaymentIntent.id == bindparam("intent_id")).with_for_update()
)
_ATTEMPT_BY_REFERENCE = select(PaymentAttempt).where(
    PaymentAttempt.gateway == bindparam("gateway"),
    PaymentAttempt.gateway_reference == bindparam("reference"),
)
_HAS_LATER_ATTEMPT = select(
    exists(
        select(PaymentAttempt.id).where(
            PaymentAttempt.payment_intent_id == bindparam("intent_id"),
            PaymentAttempt.number > bindparam("number"),
        )
    )
)
_ATTEMPTS_OF_INTENT = (
    select(PaymentAttempt)
    .where(PaymentAttempt.payment_intent_id == bindparam("intent_id"))
    .order_by(PaymentAttempt.created_at, PaymentAttempt.id)
)
# Every gateway callback runs this; built once, on the table (no ORM bulk-insert path).
_CALLBACK_TABLE = cast(Table, GatewayCallback.__table__)
_RECORD_CALLBACK = (
    insert(_CALLBACK_TABLE).on_conflict_do_nothing().returning(_CALLBACK_TABLE.c.event_key)
)


class IntentRepository:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    def add(self, intent: PaymentIntent) -> None:
        self._session.add(intent)

    async def get(self, merchant_id: str, intent_id: str) -> PaymentIntent | None:
        result = await self._session.execute(
            _INTENT, {"intent_id": intent_id, "merchant_id": merchant_id}
        )
        return result.scalar_one_or_none()

    async def get_for_update(self, intent_id: str) -> PaymentIntent | None:
        """Any merchant's intent, row-locked: for gateway callbacks and workers."""
        result = await self._session.execute(_INTENT_FOR_UPDATE, {"intent_id": intent_id})
        return result.scalar_one_or_none()

    async def find(self, intent_id: str) -> PaymentIntent | None:
        """Any merchant's intent, unlocked: to read before calling a gateway."""
        return await self._session.get(PaymentIntent, intent_id)

    async def past_expiry(self, limit: int) -> list[str]:
        """PIX intents still waiting for the payer after their ``expires_at``, oldest first."""
        result = await self._session.execute(
            select(PaymentIntent.id)
            .where(
                PaymentIntent.status == IntentStatus.REQUIRES_ACTION.value,
                PaymentIntent.method_type == PaymentMethodType.PIX.value,
                PaymentIntent.expires_at < func.now(),
            )
            .order_by(PaymentIntent.expires_at)
            .limit(limit)
        )
        return list(result.scalars())

    async def stuck(self, quiet_for: timedelta, limit: int) -> list[str]:
        """Intents with no progress for ``quiet_for`` whose next check is due, oldest first."""
        result = await self._session.execute(
            select(PaymentIntent.id)
            .outerjoin(StuckCheck, StuckCheck.payment_intent_id == PaymentIntent.id)
            .where(
                _is_stuck(func.now() - quiet_for),
                StuckCheck.alerted_at.is_(None),
                or_(StuckCheck.next_check_at.is_(None), StuckCheck.next_check_at <= func.now()),
            )
            .order_by(PaymentIntent.updated_at)
            .limit(limit)
        )
        return list(result.scalars())

    async def awaiting_payment(self, quiet_for: timedelta, limit: int) -> list[str]:
        """Unexpired PIX intents awaiting their payer, quiet for ``quiet_for``, whose next
        poll is due; the longest waiting first."""
        due_at = func.coalesce(PaymentPoll.next_poll_at, PaymentIntent.updated_at)
        result = await self._session.execute(
            select(PaymentIntent.id)
            .outerjoin(PaymentPoll, PaymentPoll.payment_intent_id == PaymentIntent.id)
            .where(
                PaymentIntent.status == IntentStatus.REQUIRES_ACTION.value,
                PaymentIntent.method_type == PaymentMethodType.PIX.value,
                PaymentIntent.updated_at < func.now() - quiet_for,
                PaymentIntent.expires_at > func.now(),
                or_(PaymentPoll.next_poll_at.is_(None), PaymentPoll.next_poll_at <= func.now()),
            )
            .order_by(due_at)
            .limit(limit)
        )
        return list(result.scalars())

    async def list(
        self, merchant_id: str, *, status: str | None, starting_after: str | None, limit: int
    ) -> list[PaymentIntent]:
        query = select(PaymentIntent).where(PaymentIntent.merchant_id == merchant_id)
        if status is not None:
            query = query.where(PaymentIntent.status == status)
        if starting_after is not None:
            query = query.where(PaymentIntent.id < starting_after)
        query = query.order_by(PaymentIntent.id.desc()).limit(limit)
        return list((await self._session.execute(query)).scalars())


def _is_stuck(quiet_since: ColumnElement[datetime] | None) -> ColumnElement[bool]:
    """In ``processing``, or with a try whose outcome is unknown; if ``quiet_since`` is
    given, unchanged since then. Each branch matches a partial index."""
    processing = PaymentIntent.status == IntentStatus.PROCESSING.value
    unknown = select(PaymentAttempt.id).where(
        PaymentAttempt.payment_intent_id == PaymentIntent.id,
        PaymentAttempt.outcome == AttemptOutcome.UNKNOWN.value,
    )
    if quiet_since is not None:
        processing = processing & (PaymentIntent.updated_at < quiet_since)
        unknown = unknown.where(PaymentAttempt.updated_at < quiet_since)
    return or_(processing, exists(unknown))


FollowUpRow = TypeVar("FollowUpRow", StuckCheck, PaymentPoll)


class _FollowUpRepository(Generic[FollowUpRow]):
    """The row the scheduler keeps per intent it follows up, keyed by the intent."""

    _model: type[FollowUpRow]

    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    def add(self, row: FollowUpRow) -> None:
        self._session.add(row)

    async def get_for_update(self, intent_id: str) -> FollowUpRow | None:
        result = await self._session.execute(
            select(self._model).where(self._model.payment_intent_id == intent_id).with_for_update()
        )
        return result.scalar_one_or_none()

    async def forget(self, intent_id: str) -> None:
        await self._session.execute(
            delete(self._model).where(self._model.payment_intent_id == intent_id)
        )

    async def _forget_unless(self, followed: ColumnElement[bool]) -> int:
        """Drop the rows of intents that ``followed`` no longer matches, however they moved."""
        moved_on = ~exists(
            select(PaymentIntent.id).where(
                PaymentIntent.id == self._model.payment_intent_id, followed
            )
        )
        result = await self._session.execute(delete(self._model).where(moved_on))
        return int(getattr(result, "rowcount", 0))


class StuckCheckRepository(_FollowUpRepository[StuckCheck]):
    _model = StuckCheck

    async def forget_unstuck(self) -> int:
        return await self._forget_unless(_is_stuck(None))


class PaymentPollRepository(_FollowUpRepository[PaymentPoll]):
    _model = PaymentPoll

    async def forget_settled(self) -> int:
        return await self._forget_unless(PaymentIntent.status == IntentStatus.REQUIRES_ACTION.value)


class AttemptRepository:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    def add(self, attempt: PaymentAttempt) -> None:
        self._session.add(attempt)

    async def by_reference(self, gateway: str, reference: str) -> PaymentAttempt | None:
        result = await self._session.execute(
            _ATTEMPT_BY_REFERENCE, {"gateway": gateway, "reference": reference}
        )
        return result.scalar_one_or_none()

    async def find(self, attempt_id: str) -> PaymentAttempt | None:
        return await self._session.get(PaymentAttempt, attempt_id)

    async def has_later(self, attempt: PaymentAttempt) -> bool:
        """Whether a later try of the same intent exists (and so replaced this one)."""
        result = await self._session.execute(
            _HAS_LATER_ATTEMPT,
            {"intent_id": attempt.payment_intent_id, "number": attempt.number},
        )
        return bool(result.scalar_one())

    async def refunds_due(self, limit: int) -> list[str]:
        """Tries holding a late payment not yet refunded, oldest first."""
        result = await self._session.execute(
            select(PaymentAttempt.id)
            .where(PaymentAttempt.late_payment == LatePayment.REFUND_DUE.value)
            .order_by(PaymentAttempt.updated_at)
            .limit(limit)
        )
        return list(result.scalars())

    async def for_intent(self, intent_id: str) -> list[PaymentAttempt]:
        result = await self._session.execute(_ATTEMPTS_OF_INTENT, {"intent_id": intent_id})
        return list(result.scalars())


class CallbackRepository:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def record(self, callback: GatewayCallback) -> bool:
        """Store a verified callback; False if the gateway sent this one before."""
        inserted = await self._session.execute(
            _RECORD_CALLBACK,
            {
                "gateway": callback.gateway,
                "event_key": callback.event_key,
                "reference": callback.reference,
                "payload": callback.payload,
                "result": callback.result,
                "detail": callback.detail,
            },
        )
        return inserted.first() is not None

    async def settle(self, gateway: str, event_key: str, result: str, detail: str | None) -> None:
        await self._session.execute(
            update(GatewayCallback)
            .where(GatewayCallback.gateway == gateway, GatewayCallback.event_key == event_key)
            .values(result=result, detail=detail)
        )
