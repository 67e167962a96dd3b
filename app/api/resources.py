"""What a running API process holds: pools, the cipher, the gateways. The areas derive
their policies from its settings (``IntentPolicy.of``, ``EndpointPolicy.of``)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends
from redis.asyncio import Redis
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker
from starlette.requests import Request

from app.api.ratelimit import RateCounter
from app.db.session import create_engine, session_factory
from app.db.uow import SqlUnitOfWork, UnitOfWork
from app.gateways.port import PixSendCallback
from app.gateways.registry import Gateways, open_gateways
from app.redis_fallback import open_redis
from app.security import DocumentCipher
from app.settings import Settings

# Reads the Pix sends a gateway's callback names (the payouts area's, set by app.api.app).
SendReader = Callable[[Sequence[PixSendCallback]], Awaitable[None]]


@dataclass(slots=True)
class Resources:
    settings: Settings
    engine: AsyncEngine
    sessions: async_sessionmaker[AsyncSession]
    redis: Redis
    rates: RateCounter
    cipher: DocumentCipher
    gateways: Gateways
    read_sends: SendReader | None = None

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
            gateways=open_gateways(settings),
        )

    def uow(self) -> UnitOfWork:
        return SqlUnitOfWork(self.sessions)

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
