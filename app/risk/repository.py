"""Risk queries: a merchant's rules, whether a payer paid before, reviews."""

from __future__ import annotations

from sqlalchemy import delete, exists, select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from app.db.models import PaymentIntent
from app.db.risk_models import Review, RiskRule, RiskRuleSet
from app.domain.intents import IntentStatus


class RiskRuleRepository:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def written(self, merchant_id: str) -> list[RiskRule] | None:
        """The merchant's own rules, oldest first; None if it never wrote any (then the
        default set applies)."""
        marked = await self._session.get(RiskRuleSet, merchant_id)
        if marked is None:
            return None
        query = (
            select(RiskRule)
            .where(RiskRule.merchant_id == merchant_id)
            .order_by(RiskRule.created_at, RiskRule.id)
        )
        return list((await self._session.execute(query)).scalars())

    async def lock_rule_set(self, merchant_id: str) -> bool:
        """Mark the merchant as writing its own rules and lock its rule set until the
        transaction ends; True if it had none before (then the defaults are copied in)."""
        created = await self._session.execute(
            insert(RiskRuleSet)
            .values(merchant_id=merchant_id)
            .on_conflict_do_nothing()
            .returning(RiskRuleSet.merchant_id)
        )
        first = created.scalar_one_or_none() is not None
        await self._session.execute(
            select(RiskRuleSet).where(RiskRuleSet.merchant_id == merchant_id).with_for_update()
        )
        return first

    def add(self, rule: RiskRule) -> None:
        self._session.add(rule)

    async def delete(self, merchant_id: str, rule_id: str) -> bool:
        deleted = await self._session.execute(
            delete(RiskRule)
            .where(RiskRule.merchant_id == merchant_id, RiskRule.id == rule_id)
            .returning(RiskRule.id)
        )
        return deleted.scalar_one_or_none() is not None

    async def has_paid_before(self, merchant_id: str, payer_fingerprint: str) -> bool:
        paid = select(PaymentIntent.id).where(
            PaymentIntent.merchant_id == merchant_id,
            PaymentIntent.payer_fingerprint == payer_fingerprint,
            PaymentIntent.status == IntentStatus.SUCCEEDED.value,
        )
        return bool((await self._session.execute(select(exists(paid)))).scalar())


class ReviewRepository:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    def add(self, review: Review) -> None:
        self._session.add(review)

    async def get(self, merchant_id: str, review_id: str) -> Review | None:
        query = select(Review).where(Review.merchant_id == merchant_id, Review.id == review_id)
        return (await self._session.execute(query)).scalar_one_or_none()

    async def find(self, review_id: str) -> Review | None:
        return await self._session.get(Review, review_id)

    async def list(
        self, merchant_id: str, *, open_only: bool, starting_after: str | None, limit: int
    ) -> list[Review]:
        query = select(Review).where(Review.merchant_id == merchant_id)
        if open_only:
            query = query.where(Review.open.is_(True))
        if starting_after is not None:
            query = query.where(Review.id < starting_after)
        query = query.order_by(Review.id.desc()).limit(limit)
        return list((await self._session.execute(query)).scalars())
