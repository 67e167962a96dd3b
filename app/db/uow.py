"""Unit of work: one transaction, rolled back unless ``commit()`` is called.

``UnitOfWork`` is what a use case holds (tests/unit/fakes.py has an in-memory one);
``SqlUnitOfWork`` is the one on PostgreSQL. The plumbing every area shares (outbox,
idempotency, inbox, failure ledger, job locks) is an attribute; an area's own queries
come from ``repository(TheAreaRepository)``, built on the same session once per unit,
so this core module imports no area.
"""

from __future__ import annotations

from collections.abc import Callable
from types import TracebackType
from typing import Protocol, Self, TypeVar, cast

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlalchemy.orm.exc import StaleDataError

from app.db.runtime_repositories import (
    FailureLedgerRepository,
    IdempotencyRepository,
    InboxRepository,
    JobLockRepository,
)
from app.domain.errors import StaleVersion
from outbox.writer import OutboxWriter

R = TypeVar("R")


class UnitOfWork(Protocol):
    session: AsyncSession
    outbox: OutboxWriter
    idempotency: IdempotencyRepository
    inbox: InboxRepository
    failures: FailureLedgerRepository
    job_locks: JobLockRepository

    def repository(self, kind: Callable[[AsyncSession], R]) -> R:
        """The area repository ``kind`` on this unit's session (one per unit)."""

    async def __aenter__(self) -> Self: ...

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None: ...

    async def single_statement(self) -> None:
        """Say, before its one statement, that this unit runs only one: it then commits
        by itself, without the BEGIN and COMMIT round trips around it."""

    async def flush(self) -> None: ...

    async def commit(self) -> None: ...

    async def rollback(self) -> None: ...


UnitOfWorkFactory = Callable[[], UnitOfWork]
"""What jobs, services and the webhook dispatcher take to open units of work."""


class SqlUnitOfWork:
    session: AsyncSession
    idempotency: IdempotencyRepository
    inbox: InboxRepository
    failures: FailureLedgerRepository
    job_locks: JobLockRepository
    outbox: OutboxWriter

    def __init__(self, sessions: async_sessionmaker[AsyncSession]) -> None:
        self._sessions = sessions
        self._repositories: dict[object, object] = {}

    async def __aenter__(self) -> Self:
        self.session = self._sessions()
        self._repositories = {}
        self.idempotency = IdempotencyRepository(self.session)
        self.inbox = InboxRepository(self.session)
        self.failures = FailureLedgerRepository(self.session)
        self.job_locks = JobLockRepository(self.session)
        self.outbox = OutboxWriter(self.session)
        return self

    def repository(self, kind: Callable[[AsyncSession], R]) -> R:
        if kind not in self._repositories:
            self._repositories[kind] = kind(self.session)
        return cast(R, self._repositories[kind])

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        # Detach first: objects keep their loaded state for building responses,
        # and the rollback (a no-op after commit) cannot expire them.
        self.session.expunge_all()
        await self.session.rollback()
        await self.session.close()

    async def single_statement(self) -> None:
        # psycopg in autocommit sends no BEGIN; commit() then has nothing to send, and
        # the pool puts the connection's default isolation back when it is returned.
        await self.session.connection(execution_options={"isolation_level": "AUTOCOMMIT"})

    async def flush(self) -> None:
        try:
            await self.session.flush()
        except StaleDataError as exc:
            raise StaleVersion("The object was changed by another request; retry.") from exc

    async def commit(self) -> None:
        await self.flush()
        await self.session.commit()

    async def rollback(self) -> None:
        """Undo everything so far and keep going in a fresh transaction."""
        self.session.expunge_all()
        await self.session.rollback()


def unit_of_work_factory(sessions: async_sessionmaker[AsyncSession]) -> UnitOfWorkFactory:
    """Units of work on ``sessions``, one per call."""
    return lambda: SqlUnitOfWork(sessions)
