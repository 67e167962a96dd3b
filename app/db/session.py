"""Engine and session factory: one pool per process."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)

from app.db.uow import SqlUnitOfWork, UnitOfWork
from app.settings import Settings, sqlalchemy_url
from app.tracing import trace_statements

POOL_OVERFLOW = 10
POOL_RECYCLE_SECONDS = 1800


def create_engine(settings: Settings) -> AsyncEngine:
    if settings.database_url is None:
        raise ValueError("PIXWAVE_DATABASE_URL is not set")
    engine = create_async_engine(
        sqlalchemy_url(settings.database_url),
        pool_size=settings.db_pool_size,
        max_overflow=POOL_OVERFLOW,
        # No pre-ping: it costs a round trip per checkout. A connection that died
        # fails its request once (503, retryable) and is replaced.
        pool_recycle=POOL_RECYCLE_SECONDS,
    )
    trace_statements(engine.sync_engine)
    return engine


def session_factory(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return async_sessionmaker(engine, expire_on_commit=False, autoflush=False)


@asynccontextmanager
async def open_uow(settings: Settings) -> AsyncIterator[UnitOfWork]:
    """A unit of work on a short-lived engine, for one-shot commands (CLI, startup)."""
    engine = create_engine(settings)
    try:
        async with SqlUnitOfWork(session_factory(engine)) as uow:
            yield uow
    finally:
        await engine.dispose()
