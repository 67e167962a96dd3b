"""Queries of merchants and their API keys."""

from __future__ import annotations

from sqlalchemy import bindparam, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from app.db.models import ApiKey, Merchant
from app.domain.caller import Caller

# Every authenticated request runs this: columns, not ORM objects, and built once.
_FIND_CALLER = (
    select(ApiKey.id, ApiKey.merchant_id, Merchant.livemode)
    .join(Merchant, Merchant.id == ApiKey.merchant_id)
    .where(ApiKey.secret_hash == bindparam("secret_hash"), ApiKey.revoked_at.is_(None))
)


class MerchantRepository:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    def add(self, merchant: Merchant) -> None:
        self._session.add(merchant)

    async def get(self, merchant_id: str) -> Merchant | None:
        return await self._session.get(Merchant, merchant_id)


class ApiKeyRepository:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    def add(self, key: ApiKey) -> None:
        self._session.add(key)

    async def find_caller(self, secret_hash: str) -> Caller | None:
        """Who an active key with this hash belongs to."""
        found = await self._session.execute(_FIND_CALLER, {"secret_hash": secret_hash})
        row = found.first()
        return (
            None if row is None else Caller(merchant_id=row[1], livemode=row[2], api_key_id=row[0])
        )

    async def revoke(self, key_id: str) -> bool:
        result = await self._session.execute(
            update(ApiKey)
            .where(ApiKey.id == key_id, ApiKey.revoked_at.is_(None))
            .values(revoked_at=func.now())
        )
        return bool(getattr(result, "rowcount", 0))
