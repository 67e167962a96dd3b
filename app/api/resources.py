"""What a running API process holds: pools, the cipher, the policy."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import timedelta
from typing import Annotated

from fastapi import Depends
from redis.asyncio import Redis
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker
from starlette.requests import Request

from app.api.ratelimit import RateCounter
from app.db.session import create_engine, session_factory
from app.db.uow import UnitOfWork
from app.gateways.registry import Gateways, open_gateways
from app.redis_fallback import open_redis
from app.security import DocumentCipher
from app.services.intents import IntentPolicy
from app.services.webhook_endpoints import EndpointPolicy
from app.settings import Settings


@dataclass(slots=True)
class Resources:
    settings: Settings
    engine: AsyncEngine
    sessions: async_sessionmaker[AsyncSession]
    redis: Redis
    rates: RateCounter
    cipher: DocumentCipher
    policy: IntentPolicy
    gateways: Gateways
    webhooks: EndpointPolicy

    @classmethod
    def open(cls, settings: Settings) -> Resources:
        if settings.redis_url is None:
            raise ValueError("PIXWAVE_REDIS_URL is not set")
        engine = create_engine(settings)
        cipher = DocumentCipher(settings.document_key_bytes())
        redis = open_redis(settings.redis_url)
        return cls(
            settings=settings,
            engine=engine,
            sessions=session_factory(engine),
            redis=redis,
            rates=RateCounter(redis, namespace=settings.name_prefix),
            cipher=cipher,
            policy=IntentPolicy(
                max_amount=settings.max_amount,
                pix_default_expires_in_seconds=settings.pix_default_expires_in_seconds,
            ),
            gateways=open_gateways(settings),
            webhooks=EndpointPolicy(
                cipher=cipher,
                allow_private_urls_in_test=settings.webhook_allow_private_urls,
                secret_overlap=timedelta(hours=settings.webhook_secret_overlap_hours),
                max_endpoints_per_merchant=settings.webhook_max_endpoints_per_merchant,
            ),
        )

    def uow(self) -> UnitOfWork:
        return UnitOfWork(self.sessions)

    async def close(self) -> None:
        await self.gateways.close()
        await self.redis.aclose()
        await self.engine.dispose()


def resources_of(request: Request) -> Resources:
    resources: Resources = request.app.state.resources
    return resources


async def request_uow(request: Request) -> AsyncIterator[UnitOfWork]:
    """One unit of work, hence one connection and transaction, per request."""
    async with resources_of(request).uow() as uow:
        yield uow


UowDep = Annotated[UnitOfWork, Depends(request_uow)]
